package transforms

import "testing"

func TestNewPrefixErrors(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, -1} {
		_, err := NewPrefix("zip3", "zip", n)
		checkSpecError(t, err, "columns.zip3.prefix", "must be >= 1")
	}
}

func TestPrefixSQL(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	zip3, err := NewPrefix("zip3", "zip", 3)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "prefix_3.sql", zip3.SQL(QuoteIdent("zip"))+"\n")
	checkEval(t, db, zip3, []evalCase{
		{"'12345'", "123"},
		{"' 02134 '", "021"},
		{"E'\\t02134\\n'", "021"},
		{"'ab'", "ab"},
		{"'abc'", "abc"},
		{"''", null},
		{"'   '", null},
		{"NULL::VARCHAR", null},
		{"50123::INTEGER", "501"},
		{"2134::INTEGER", "213"}, // a numeric postal code has lost its leading zero
		{"'äöü€x'", "äöü"},
		{"'a b c'", "a b"},
	})
	one, err := NewPrefix("initial", "name", 1)
	if err != nil {
		t.Fatal(err)
	}
	checkEval(t, db, one, []evalCase{{"'Émile'", "É"}, {"' x'", "x"}})
}
