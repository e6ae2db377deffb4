package flightsql

import (
	"context"
	"strings"
	"testing"

	"github.com/privagg/privagg/catalog"
)

func TestNewValidates(t *testing.T) {
	open := func(context.Context) (*catalog.DB, error) { return nil, nil }
	for _, c := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no sandbox", Config{Token: strings.Repeat("x", 16)}, "Config.Open is nil"},
		{"short token", Config{Open: open, Token: "short"}, "has 5 characters, want at least 16"},
	} {
		if _, err := New(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: New = %v, want an error with %q", c.name, err, c.want)
		}
	}
	if _, err := New(Config{Open: open, Token: strings.Repeat("x", 16)}); err != nil {
		t.Errorf("New with a sandbox and a token: %v", err)
	}
}

func TestLike(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{
		{"%", "", true}, {"%", "by_channel", true}, {"by%", "by_channel", true},
		{"by_channel", "by_channel", true}, {"by_channel", "byXchannel", true},
		{`by\_channel`, "byXchannel", false}, {`by\_channel`, "by_channel", true},
		{"by_channel", "by_channel__r1", false}, {"%__r_", "by_channel__r1", true},
		{"a.b", "aXb", false}, {"", "", true}, {"", "x", false},
	} {
		if got := like(c.p, c.s); got != c.want {
			t.Errorf("like(%q, %q) = %v, want %v", c.p, c.s, got, c.want)
		}
	}
}
