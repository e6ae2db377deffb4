package names

import "testing"

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"age":                  "age",
		"user_id2":             "user_id2",
		"Time entered":         `"Time entered"`,
		"Time entered (local)": `"Time entered (local)"`,
		"Party(size)":          `"Party(size)"`,
		`say "hi"`:             `"say \"hi\""`,
		"":                     `""`,
		"naïve":                `"naïve"`,
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
	if got := QuoteAll([]string{"a", "b c"}); got != `a, "b c"` {
		t.Errorf("QuoteAll = %s", got)
	}
}
