package job

import "testing"

func TestClosestName(t *testing.T) {
	t.Parallel()
	cols := []string{"amount", "country", "day", "ok", "user_id"}
	for name, want := range map[string]string{
		"countri": "country", "Country": "country", "okay": "ok", "userid": "user_id",
		"consent": "", "xyz": "", "amonut": "amount",
	} {
		if got := ClosestName(name, cols); got != want {
			t.Errorf("ClosestName(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestColumnUsesKeyPaths(t *testing.T) {
	t.Parallel()
	j := &Job{PrivacyUnit: "user_id", Identifiers: []string{"email"}, Consent: Consent{Column: "ok"},
		Columns: map[string]DerivedColumn{"week": {From: "ts"}},
		Outputs: []Output{{GroupBy: []string{"week", "country"}, Metrics: []Metric{{Column: "amount"}, {}}}}}
	want := []ColumnUse{
		{"privacy_unit", "user_id", RoleUnit}, {"consent.column", "ok", RoleConsent}, {"columns.week.from", "ts", RoleSource},
		{"outputs[0].group_by[1]", "country", RoleKey}, {"outputs[0].metrics[0].column", "amount", RoleMeasure},
	}
	got := j.ColumnUses()
	if len(got) != len(want) {
		t.Fatalf("ColumnUses = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("use %d = %v, want %v", i, got[i], want[i])
		}
	}
}
