package engine

import "testing"

func TestRejectedRowQuotesColumnNames(t *testing.T) {
	for _, tc := range []struct {
		row  RejectedRow
		want string
	}{
		{RejectedRow{Line: 3, Column: "age", Rule: RuleNotFinite}, "line 3 column age: is not a finite number"},
		{RejectedRow{Line: 3, Column: "Time entered (local)", Rule: RuleNoValueFor("hour")},
			`line 3 column "Time entered (local)": gives no value for hour`},
		{RejectedRow{Line: 4, Column: `say "hi"`, Rule: RuleNotFinite}, `line 4 column "say \"hi\"": is not a finite number`},
		{RejectedRow{Line: 5, Rule: CSVRule(CSVTooManyColumns)}, "line 5: csv: too many columns"},
	} {
		if got := tc.row.String(); got != tc.want {
			t.Errorf("String() = %s, want %s", got, tc.want)
		}
	}
}
