package pipeline

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/privagg/privagg/internal/testfixture"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
)

// runReportsByStatus returns the run reports of release id, by status.
func runReportsByStatus(t *testing.T, j *job.Job, id string) map[string][]RunReport {
	t.Helper()
	dir := filepath.Join(filepath.Dir(j.Ledger), "privagg-runs")
	matches, err := filepath.Glob(filepath.Join(dir, id+".*.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]RunReport{}
	for _, m := range matches {
		data, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		var r RunReport
		if err := json.Unmarshal(data, &r); err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		out[r.Status] = append(out[r.Status], r)
	}
	return out
}

// TestRaceLoserRepublishes is the second audit's L5 and issue 22 item 7:
// two runs of one release id race. The loser reports the winner's release
// as a re-publication (no error, no charge), and its run report holds no
// counts of the draw it discarded. The other run wins at each point where
// the loser can learn it: before the loser reserves (Reserve says stored),
// after the loser drew its noise (MarkWriting says stored), and while the
// winner is still writing (MarkWriting says writing; the loser waits).
func TestRaceLoserRepublishes(t *testing.T) {
	for _, tc := range []struct {
		name, at string // the loser's step at which the winner runs
		during   bool   // the winner is still writing when the loser goes on
	}{
		{"before reserve", StepScanned, false},
		{"after the draw", StepReleased, false},
		{"while the winner writes", StepReleased, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := testfixture.CSVJob(t, crashJob, eventsCSV, 10)
			eps, del := jobCharge(t, j)
			const id = "same1"
			ctx := context.Background()
			var (
				started       atomic.Bool
				winnerRes     *RunResult
				winnerErr     error
				winnerDone    = make(chan struct{})
				writing       = make(chan struct{})
				loserWaits    = make(chan struct{})
				loserDone     = make(chan struct{})
				closeWriting  sync.Once
				closeLoserWts sync.Once
			)
			stepHook = func(s string) {
				switch s {
				case tc.at: // the loser first, then the winner
					if !started.CompareAndSwap(false, true) {
						return
					}
					go func() {
						defer close(winnerDone)
						winnerRes, winnerErr = Run(ctx, j, RunOptions{NewEngine: embedded, ReleaseID: id})
					}()
					if tc.during {
						<-writing
					} else {
						<-winnerDone
					}
				case StepWriting: // only the winner gets here
					closeWriting.Do(func() { close(writing) })
					if tc.during { // hold the winner until the loser waits for it
						select {
						case <-loserWaits:
						case <-loserDone:
						}
					}
				case stepWaiting: // only the loser gets here
					closeLoserWts.Do(func() { close(loserWaits) })
				}
			}
			defer func() { stepHook = nil }()
			res, err := Run(ctx, j, RunOptions{NewEngine: embedded, ReleaseID: id})
			close(loserDone)
			<-winnerDone
			if winnerErr != nil || winnerRes == nil || winnerRes.Republished {
				t.Fatalf("winner: %+v, %v; want a new publication", winnerRes, winnerErr)
			}
			if err != nil || res == nil || !res.Republished || ExitCode(err) != ExitOK {
				t.Fatalf("loser: %+v, %v; want a re-publication and exit 0", res, err)
			}
			if len(res.Files) != len(winnerRes.Files) || res.OutputDir != winnerRes.OutputDir {
				t.Errorf("loser re-published %v in %s, winner published %v in %s", res.Files, res.OutputDir, winnerRes.Files, winnerRes.OutputDir)
			}
			checkLedger(t, j, id, eps, del, privacy.StatePublished)
			reports := runReportsByStatus(t, j, id)
			if len(reports["published"]) != 1 || len(reports["republished"]) != 1 || len(reports) != 2 {
				t.Fatalf("run reports by status: %v; want one published and one republished", reports)
			}
			if got := reports["republished"][0].Outputs; got != nil {
				t.Errorf("the loser's run report holds the counts of its discarded draw: %v", got)
			}
			if reports["published"][0].Outputs == nil {
				t.Errorf("the winner's run report has no outputs")
			}
		})
	}
}
