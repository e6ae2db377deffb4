package duckdb

import (
	"fmt"
	"testing"

	"github.com/privagg/privagg/internal/verify"
	"github.com/privagg/privagg/privacy"
)

// auditAutoBoundsJob: public partitions p1, p2 and p3, every bound auto,
// with the estimates' share of epsilon: count, count_units and a sum whose
// max the run estimates.
func auditAutoBoundsJob(kind privacy.NoiseKind) string {
	return fmt.Sprintf(`version: 1
name: audit_auto
dataset: audit
purpose: marketing
input: {path: events.csv}
privacy_unit: user_id
consent: {column: consent}
privacy: {epsilon: 2, delta: 1e-3, k: 1, max_partitions_per_unit: auto, bounds_share: 0.2, noise: %s}
outputs:
  - name: t
    group_by: [campaign]
    public_partitions: {campaign: [p1, p2, p3]}
    metrics:
      - {name: events, type: count, max_per_unit: auto}
      - {name: people, type: count_units}
      - {name: value, type: sum, column: value, min: 0, max: auto}
output: {dir: out, format: csv}
ledger: ledger/privagg-ledger.duckdb
`, kind)
}

// TestVerifyAuditAutoBounds audits the release with auto bounds on (D, D2):
// x has three partitions, five rows in each and a large value. Every trial
// runs the whole release step: the histograms and sums of the estimates,
// their noise, the bounds they choose, the bounding SQL with a fresh seed,
// the corrected release. The events observe the released values, so they
// are checked against the whole release's guarantee.
func TestVerifyAuditAutoBounds(t *testing.T) {
	n := verify.Size(200, 5000)
	job := auditAutoBoundsJob(privacy.Laplace)
	d := newAuditHarness(t, job, verify.AuditEvents())
	d2 := newAuditHarness(t, job, verify.AuditEvents("p1", "p2", "p3"))
	claimed := d.plan.Total
	events := []verify.Event{
		{Name: "auto bounds: people >= 21 in p1, p2 and p3 (x in 3 partitions)", Claimed: claimed, Hit: func(r verify.Released) bool {
			return verify.AtLeast("t/p1", "people", 21)(r) && verify.AtLeast("t/p2", "people", 21)(r) && verify.AtLeast("t/p3", "people", 21)(r)
		}},
		{Name: "auto bounds: value >= 400 in p1", Claimed: claimed, Hit: verify.AtLeast("t/p1", "value", 400)},
		{Name: "auto bounds: events >= 22 in p1", Claimed: claimed, Hit: verify.AtLeast("t/p1", "events", 22)},
	}
	verify.Report(t, "dp-audit", releasePath+", auto bounds, laplace", false, runAudit(t, d, d2, n, events))
}
