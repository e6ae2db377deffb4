package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/privagg/privagg/internal/progress"
	"github.com/privagg/privagg/internal/testfixture"
)

// phaseLog is a progress.Reporter that records each report as a line.
type phaseLog struct {
	mu    sync.Mutex
	lines []string
}

func (p *phaseLog) add(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lines = append(p.lines, s)
}
func (p *phaseLog) Phase(name string) { p.add("phase " + name) }
func (p *phaseLog) Items(unit string, done, total int) {
	p.add(fmt.Sprintf("items %s %d/%d", unit, done, total))
}
func (p *phaseLog) Rows(c progress.RowCount) { p.add(fmt.Sprintf("rows %d/%d", c.Done, c.Total)) }

// phases are the distinct phases in order of first report.
func (p *phaseLog) phases() []string {
	var out []string
	for _, l := range p.lines {
		if name, ok := strings.CutPrefix(l, "phase "); ok && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// TestRunReportsProgress runs a job with an output whose keys come from
// the data and checks the phases a progress line shows, in order, with the
// rows read and the outputs of the per-output phases; a re-publication
// reports publishing only.
func TestRunReportsProgress(t *testing.T) {
	jobYAML := strings.Replace(goldenJob, "outputs:\n", "outputs:\n  - name: by_campaign\n    group_by: [campaign]\n    metrics:\n      - {name: people, type: count_units}\n", 1)
	j := testfixture.CSVJob(t, jobYAML, eventsCSV, 10)
	var p phaseLog
	if _, err := Run(context.Background(), j, RunOptions{NewEngine: embedded, Progress: &p}); err != nil {
		t.Fatal(err)
	}
	want := []string{progress.PhaseReading, progress.PhaseBounding, progress.PhaseReleasing, progress.PhaseSelecting,
		progress.PhaseNoising, progress.PhaseStoring, progress.PhasePublishing}
	if got := p.phases(); !slices.Equal(got, want) {
		t.Errorf("phases = %q, want %q", got, want)
	}
	read := slices.IndexFunc(p.lines, func(l string) bool { return strings.HasPrefix(l, "rows ") })
	if read < 0 || p.lines[read] == "rows 0/0" || slices.Index(p.lines, "phase "+progress.PhaseBounding) < read {
		t.Errorf("rows read not reported before bounding: %q", p.lines)
	}
	for _, l := range []string{"items outputs 0/3", "items outputs 2/3"} {
		if !slices.Contains(p.lines, l) {
			t.Errorf("no %q in %q", l, p.lines)
		}
	}

	var again phaseLog
	res, err := Run(context.Background(), j, RunOptions{NewEngine: embedded, Progress: &again})
	if err != nil || !res.Republished {
		t.Fatalf("second run: %v, %+v", err, res)
	}
	if got := again.phases(); !slices.Equal(got, []string{progress.PhasePublishing}) {
		t.Errorf("re-publication phases = %q, want publishing only", got)
	}
}
