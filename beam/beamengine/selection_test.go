package beamengine

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/differential-privacy/privacy-on-beam/v3/pbeam"
)

// TestSelectionAndConsentTable runs the private-partition path (one DP
// selection per output with k as pre-threshold, reused by every metric) on
// NDJSON input with a consent table. Only "big" may be released: "small"
// has 2 people (< k = 3, never released whatever the noise), and the people
// of "revoked" (latest record refuses), "tie" (grant and refusal at the same
// time: refusal wins), "other" (granted for another purpose only) and
// "never" (no record) are excluded. With ε = 10 a partition of 100 people
// passes selection with probability 1 - 1e-40 or more, so the test is not flaky.
func TestSelectionAndConsentTable(t *testing.T) {
	var events, consent strings.Builder
	consent.WriteString("user_id,purpose,granted,updated_at\n")
	add := func(seg string, n int, records ...string) {
		for i := range n {
			u := fmt.Sprintf("%s%d", seg, i)
			fmt.Fprintf(&events, `{"user_id":%q,"seg":%q,"amount":%d}`+"\n", u, seg, i%7)
			for _, r := range records {
				fmt.Fprintf(&consent, "%s,%s\n", u, r)
			}
		}
	}
	add("big", 100, "marketing,true,2026-01-01 00:00:00", "marketing,false,2025-01-01 00:00:00")
	add("small", 2, "marketing,true,2026-01-01 00:00:00")
	add("revoked", 100, "marketing,true,2025-01-01 00:00:00", "marketing,false,2026-01-01 00:00:00")
	add("tie", 100, "marketing,true,2026-01-01 00:00:00", "marketing,false,2026-01-01 00:00:00")
	add("other", 100, "sales,true,2026-01-01 00:00:00")
	add("never", 100)
	job := setupJob(t, `version: 1
name: sel
dataset: d
purpose: marketing
input: {path: events.json, format: json}
privacy_unit: user_id
consent:
  table: {path: consent.csv, unit: user_id, purpose: purpose, granted: granted, at: updated_at}
privacy: {epsilon: 10, delta: 1e-5, k: 3, max_partitions_per_unit: 1}
outputs:
  - name: by_seg
    group_by: [seg]
    metrics:
      - {name: people, type: count_units}
      - {name: amount, type: sum, column: amount, min: 0, max: 10}
      - {name: amount_q, type: quantiles, column: amount, min: 0, max: 10, ranks: [0.5]}
      - {name: amount_var, type: variance, column: amount, min: 0, max: 10}
output: {dir: out, format: csv}
ledger: ledger/l.duckdb
`, map[string]string{"events.json": events.String(), "consent.csv": consent.String()}, 20)
	res, err := runBeam(t, job, "", pbeam.TestModeDisabled)
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Report; r.RowsRead != 502 || r.RowsRejected != 0 || r.RowsExcludedByConsent != 400 {
		t.Errorf("report read=%d rejected=%d excluded=%d, want 502, 0, 400", r.RowsRead, r.RowsRejected, r.RowsExcludedByConsent)
	}
	tb := readTable(t, filepath.Join(job.Output.Dir, "by_seg.csv"), 1)
	want := []string{"seg", "people", "people_ci95", "amount", "amount_ci95", "amount_q_p50", "amount_var", "amount_var_ci95"}
	if !slices.Equal(tb.header, want) {
		t.Errorf("columns %v, want %v", tb.header, want)
	}
	var keys []string
	for k := range tb.rows {
		keys = append(keys, k)
	}
	if !slices.Equal(keys, []string{"big"}) {
		t.Errorf("released keys %v, want [big]", keys)
	}
}
