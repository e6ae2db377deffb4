package sqlq

import "testing"

func TestQuoting(t *testing.T) {
	for _, tc := range []struct{ in, ident, str string }{
		{`a`, `"a"`, `'a'`},
		{`a"b`, `"a""b"`, `'a"b'`},
		{`it's`, `"it's"`, `'it''s'`},
		{`\`, `"\"`, `'\'`},
		{``, `""`, `''`},
	} {
		if got := Ident(tc.in); got != tc.ident {
			t.Errorf("Ident(%q) = %s, want %s", tc.in, got, tc.ident)
		}
		if got := String(tc.in); got != tc.str {
			t.Errorf("String(%q) = %s, want %s", tc.in, got, tc.str)
		}
	}
}
