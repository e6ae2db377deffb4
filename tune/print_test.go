package tune

import (
	"bytes"
	"strings"
	"testing"
)

// A bound the job sets to auto reads "auto" as its current value, not the
// placeholder the job loader put in its place.
func TestWriteTableShowsAutoBounds(t *testing.T) {
	t.Parallel()
	r := &Report{Mode: "dp", Job: "j", Outputs: []OutputReport{{
		Name: "o", L0: Choice[int64]{Current: 1, Recommended: 8, Auto: true},
		Metrics: []MetricReport{{Name: "events", Type: "count", Linf: &Choice[int64]{Current: 1, Recommended: 2, Auto: true}},
			{Name: "revenue", Type: "sum", Clamp: &Choice[Bounds]{Current: Bounds{Min: 0, Max: 1}, Recommended: Bounds{Min: 0, Max: 60}, Auto: true}}},
	}}}
	var b bytes.Buffer
	if err := WriteTable(&b, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"max_partitions_per_unit  auto", "events.max_per_unit      auto", "revenue.min, max         auto"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}
