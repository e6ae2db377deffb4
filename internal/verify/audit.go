package verify

import (
	"fmt"
	"strings"
	"testing"

	"github.com/privagg/privagg/privacy"
)

const Alpha = 1e-6 // false-failure rate of one audit check

// AuditEvents is the input of the audits: user_id, campaign, value, consent.
// In D, campaigns p1, p2 and p3 each have 20 people with one row of value 10. D1 adds
// person x with 5 rows (max_per_unit is 3) of value 1000 (max is 100) in p1:
// L0 = 1 partition, beyond Linf and the clamp. D2 adds x with those rows in
// p1, p2 and p3: more partitions than L0 allows.
func AuditEvents(xIn ...string) string {
	var b strings.Builder
	b.WriteString("user_id,campaign,value,consent\n")
	for _, p := range []string{"p1", "p2", "p3"} {
		for i := range 20 {
			fmt.Fprintf(&b, "%s_u%d,%s,10,true\n", p, i, p)
		}
	}
	for _, p := range xIn {
		for range 5 {
			fmt.Fprintf(&b, "x,%s,1000,true\n", p)
		}
	}
	return b.String()
}

// Released is one run's output: "output/key" -> column -> value.
type Released map[string]map[string]float64

// Event is an event on one run's output, fixed before any run, with the
// (epsilon, delta) the plan claims for what it observes.
type Event struct {
	Name    string
	Claimed privacy.Share
	Hit     func(Released) bool
}

// Result is one event's audit: hits on D and D' out of N trials each, and
// the epsilon lower bound they give.
type Result struct {
	Event         Event
	HitsD, HitsD2 int
	N             int
	EpsLB         float64
	Exceeded      bool
}

// AtLeast is the event "column col of partition key is Released and >= thr".
func AtLeast(key, col string, thr float64) func(Released) bool {
	return func(r Released) bool {
		row, ok := r[key]
		return ok && row[col] >= thr
	}
}

// L0Job: public partitions p1, p2 and p3, L0 = 1, one count_units metric
// with epsilon 2.
func L0Job(kind privacy.NoiseKind) string {
	return fmt.Sprintf(`version: 1
name: audit_l0
dataset: audit
purpose: marketing
input: {path: events.csv}
privacy_unit: user_id
consent: {column: consent}
privacy: {epsilon: 2, delta: 1e-3, k: 1, max_partitions_per_unit: 1, noise: %s}
outputs:
  - name: t
    group_by: [campaign]
    public_partitions: {campaign: [p1, p2, p3]}
    metrics: [{name: people, type: count_units}]
output: {dir: out, format: csv}
ledger: ledger/privagg-ledger.duckdb
`, kind)
}

// L0Event is the event of the L0 job on (D, D2): people in p1, p2 and p3 all
// at or above 21, their true value where x counts. With L0 enforced x raises
// only one of them, and the bound stays at the metric's epsilon 2; without
// it, all three rise and the privacy loss is 6.
func L0Event(plan *privacy.Plan) Event {
	return Event{
		Name:    "count_units people >= 21 in p1, p2 and p3 (x in 3 partitions, L0 = 1)",
		Claimed: plan.Guarantee(0, 0),
		Hit: func(r Released) bool {
			return AtLeast("t/p1", "people", 21)(r) && AtLeast("t/p2", "people", 21)(r) && AtLeast("t/p3", "people", 21)(r)
		},
	}
}

func Report(t *testing.T, section, path string, wantExceeded bool, results []Result) {
	t.Helper()
	for _, r := range results {
		pass := r.Exceeded == wantExceeded
		t.Logf("%s: P_D=%d/%d P_D'=%d/%d eps_lb=%.3f claimed=%.3g pass=%v", r.Event.Name, r.HitsD, r.N, r.HitsD2, r.N, r.EpsLB, r.Event.Claimed.Epsilon, pass)
		if err := Write(Record{
			Section: section, Check: r.Event.Name, Path: path, Trials: r.N,
			Claimed: r.Event.Claimed.Epsilon, EpsLB: r.EpsLB, Pass: pass,
		}); err != nil {
			t.Error(err)
		}
		switch {
		case !pass && wantExceeded:
			t.Errorf("%s: the audit did not flag a broken mechanism: eps_lb %.3f <= claimed %.3g (hits %d vs %d of %d)",
				r.Event.Name, r.EpsLB, r.Event.Claimed.Epsilon, r.HitsD, r.HitsD2, r.N)
		case !pass:
			t.Errorf("%s: epsilon lower bound %.3f exceeds the claimed %.3g (hits %d on D vs %d on D' of %d runs)",
				r.Event.Name, r.EpsLB, r.Event.Claimed.Epsilon, r.HitsD, r.HitsD2, r.N)
		}
	}
}
