package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/privagg/privagg/internal/testfixture"
	"github.com/privagg/privagg/internal/verify"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
)

// TestVerifyAuditRun runs the L0 audit through pipeline.Run itself: every
// trial is a new release (new id, new charge) read back from the published
// CSV. Run opens DuckDB and the ledger each time, so it has few trials: it
// shows the end-to-end path gives the same kind of output the faster audits
// test, with a valid (if loose) bound.
func TestVerifyAuditRun(t *testing.T) {
	n := verify.Size(5, 100)
	j := verify.L0Job(privacy.Laplace)
	jd, jd2 := testfixture.CSVJob(t, j, verify.AuditEvents(), 1e6), testfixture.CSVJob(t, j, verify.AuditEvents("p1", "p2", "p3"), 1e6)
	plan, err := privacy.NewPlan(jd.PrivacySpec())
	if err != nil {
		t.Fatal(err)
	}
	ev := verify.L0Event(plan)
	hits := [2]int{}
	for i := range n {
		for k, j := range []*job.Job{jd, jd2} {
			if _, err := Run(context.Background(), j, RunOptions{NewEngine: embedded, ReleaseID: fmt.Sprintf("audit-%d", i)}); err != nil {
				t.Fatal(err)
			}
			if ev.Hit(readReleasedCSV(t, filepath.Join(j.Output.Dir, "t.csv"), "t")) {
				hits[k]++
			}
		}
	}
	lb, err := verify.EpsilonLowerBound(hits[0], hits[1], n, ev.Claimed.Delta, verify.Alpha)
	if err != nil {
		t.Fatal(err)
	}
	verify.Report(t, "dp-audit", "pipeline.Run end to end", false, []verify.Result{{Event: ev, HitsD: hits[0], HitsD2: hits[1], N: n, EpsLB: lb, Exceeded: lb > ev.Claimed.Epsilon}})
}

// readReleasedCSV reads a published CSV with one key column.
func readReleasedCSV(t *testing.T, path, output string) verify.Released {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	header := strings.Split(lines[0], ",")
	out := verify.Released{}
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		cols := map[string]float64{}
		for c := 1; c < len(f) && c < len(header); c++ {
			v, err := strconv.ParseFloat(f[c], 64)
			if err != nil {
				t.Fatalf("%s: column %s: %v", path, header[c], err)
			}
			cols[header[c]] = v
		}
		out[output+"/"+f[0]] = cols
	}
	return out
}
