package hint

import "testing"

func TestCommandQuotes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"budget", "verify", "--ledger", "/srv/l.duckdb"}, "`privagg budget verify --ledger /srv/l.duckdb`"},
		{[]string{"budget", "verify", "--ledger", "/my dir/l.duckdb"}, "`privagg budget verify --ledger '/my dir/l.duckdb'`"},
		{[]string{"x", "it's"}, "`privagg x 'it'\\''s'`"},
		{[]string{"x", ""}, "`privagg x ''`"},
	} {
		if got := Command(tc.args...); got != tc.want {
			t.Errorf("Command(%q) = %s, want %s", tc.args, got, tc.want)
		}
	}
}
