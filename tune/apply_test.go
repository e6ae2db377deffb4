package tune

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// patchJob applies r to text through applyReport and returns the edited
// text.
func patchJob(t *testing.T, text string, r *Report) string {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	p := newYAMLPatch([]byte(text))
	if err := applyReport(p, doc.Content[0], r, true); err != nil {
		t.Fatal(err)
	}
	return string(p.bytes())
}

// TestApplySkipsSelectionShareWithCountThreshold: an output that selects
// through its count takes no selection_share, so --apply must not write one
// (the copy would not load).
func TestApplySkipsSelectionShareWithCountThreshold(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		selection string
		want      bool
	}{{"count_threshold", false}, {"two_phase", true}, {"", true}} {
		text := "outputs:\n  - name: o\n    group_by: [g]\n"
		if tc.selection != "" {
			text += "    selection: " + tc.selection + "\n"
		}
		text += "    metrics:\n      - {name: people, type: count_units}\n"
		r := &Report{Mode: "raw", Outputs: []OutputReport{{Name: "o"}}}
		r.Outputs[0].L0.Recommended = 5
		r.Outputs[0].SelectionShare.Recommended = 0.6
		r.Outputs[0].Weight.Recommended = 1
		out := patchJob(t, text, r)
		if got := strings.Contains(out, "selection_share"); got != tc.want {
			t.Errorf("selection %q: selection_share written %v, want %v:\n%s", tc.selection, got, tc.want, out)
		}
	}
}

// TestApplyKeepsLayout: --apply changes the values it sets and nothing
// else: aligned comments, blank lines, quoting and flow mappings stay as
// written; a new key goes at the end of its mapping with its indentation;
// raw clamp bounds are rounded to 2 significant digits away from the data.
func TestApplyKeepsLayout(t *testing.T) {
	t.Parallel()
	text := `# head comment

version: 1        # aligned
outputs:
  # the weekly table
  - name: "weekly"            # quoted name
    group_by: [campaign, week]
    max_partitions_per_unit: 3   # L0

    metrics:
      - {name: events, type: count, max_per_unit: 3}   # rows
      - name: revenue
        type: sum
        column: revenue
        min: 0
        max: 50       # clamp
# trailing comment
`
	r := &Report{Mode: "raw", Outputs: []OutputReport{{Name: "weekly", Metrics: []MetricReport{
		{Name: "events", Linf: &Choice[int64]{Recommended: 1}, Weight: Choice[float64]{Recommended: 0.5}},
		{Name: "revenue", Clamp: &Choice[Bounds]{Recommended: Bounds{Min: 0, Max: 42.86080000000002}}, Weight: Choice[float64]{Recommended: 1.5}},
	}}}}
	r.Outputs[0].L0.Recommended = 25
	r.Outputs[0].SelectionShare.Recommended = 0.4
	r.Outputs[0].Weight.Recommended = 1.2
	want := `# head comment

version: 1        # aligned
outputs:
  # the weekly table
  - name: "weekly"            # quoted name
    group_by: [campaign, week]
    max_partitions_per_unit: 25   # L0

    metrics:
      - {name: events, type: count, max_per_unit: 1, weight: 0.5}   # rows
      - name: revenue
        type: sum
        column: revenue
        min: 0
        max: 43       # clamp
        weight: 1.5
    selection_share: 0.4
    weight: 1.2
# trailing comment
`
	if got := patchJob(t, text, r); got != want {
		t.Errorf("applied text:\n%s\nwant:\n%s", got, want)
	}
}

// TestCoarse: 2 significant digits, the upper bound rounded up and the
// lower down.
func TestCoarse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		x    float64
		up   bool
		want float64
	}{{42.86080000000002, true, 43}, {601.2, true, 610}, {99.5, true, 100}, {0.04231, true, 0.043}, {-42.86, false, -43}, {-42.86, true, -42}, {0, true, 0}, {7, true, 7}} {
		if got := coarse(tc.x, tc.up); got != tc.want {
			t.Errorf("coarse(%v, %v) = %v, want %v", tc.x, tc.up, got, tc.want)
		}
	}
}

// TestRawTuned finds the stamp at the start of a line only.
func TestRawTuned(t *testing.T) {
	t.Parallel()
	if !RawTuned([]byte("version: 1\n" + rawStampText)) {
		t.Error("stamp not found")
	}
	if RawTuned([]byte("name: x # " + RawStamp + "\n")) {
		t.Error("stamp found inside a line")
	}
}
