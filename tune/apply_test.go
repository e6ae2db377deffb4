package tune

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestApplySkipsSelectionShareWithCountThreshold: an output that selects
// through its count takes no selection_share, so --apply must not write one
// (the copy would not load).
func TestApplySkipsSelectionShareWithCountThreshold(t *testing.T) {
	for _, tc := range []struct {
		selection string
		want      bool
	}{{"count_threshold", false}, {"two_phase", true}, {"", true}} {
		text := "outputs:\n  - name: o\n    group_by: [g]\n"
		if tc.selection != "" {
			text += "    selection: " + tc.selection + "\n"
		}
		text += "    metrics:\n      - {name: people, type: count_units}\n"
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
			t.Fatal(err)
		}
		r := &Report{Mode: "raw", Outputs: []OutputReport{{Name: "o"}}}
		r.Outputs[0].L0.Recommended = 5
		r.Outputs[0].SelectionShare.Recommended = 0.6
		r.Outputs[0].Weight.Recommended = 1
		if err := applyReport(doc.Content[0], r, true); err != nil {
			t.Fatal(err)
		}
		out, err := yaml.Marshal(&doc)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(string(out), "selection_share"); got != tc.want {
			t.Errorf("selection %q: selection_share written %v, want %v:\n%s", tc.selection, got, tc.want, out)
		}
	}
}
