package pipeline

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/privagg/privagg/internal/testfixture"
	"github.com/privagg/privagg/privacy"
)

// TestInterruptLeavesReleaseResumable is issue 22 item 9 at the protocol's
// steps: a signal (the context cancelled with an *Interrupted cause) before
// the ledger records writing stops the run with exit 130 or 143 and leaves
// the release resumable (nothing charged before the reservation; after it,
// the next run completes it without a new charge); a signal after it no
// longer stops the run, which stores and publishes the release.
func TestInterruptLeavesReleaseResumable(t *testing.T) {
	for _, tc := range []struct {
		at        string
		sig       syscall.Signal
		wantCode  int
		wantState privacy.ReleaseState // after the interrupted run
		note      string
	}{
		{StepScanned, syscall.SIGINT, 130, "", "nothing was charged or written"},
		{StepReserved, syscall.SIGTERM, 143, privacy.StateReserved, "stays reserved, with no noised value written"},
		{StepReleased, syscall.SIGINT, 130, privacy.StateReserved, "stays reserved, with no noised value written"},
		{StepWriting, syscall.SIGINT, 0, privacy.StatePublished, ""},
	} {
		t.Run(tc.at, func(t *testing.T) {
			j := testfixture.CSVJob(t, crashJob, eventsCSV, 10)
			eps, del := jobCharge(t, j)
			const id = "intr1"
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			stepHook = func(s string) {
				if s == tc.at {
					cancel(&Interrupted{Signal: tc.sig})
				}
			}
			_, err := Run(ctx, j, RunOptions{NewEngine: embedded, ReleaseID: id})
			stepHook = nil
			if code := ExitCode(err); code != tc.wantCode {
				t.Fatalf("exit %d (%v), want %d", code, err, tc.wantCode)
			}
			if tc.wantCode != 0 {
				var intr *Interrupted
				if !errors.As(err, &intr) || !strings.Contains(err.Error(), tc.note) {
					t.Errorf("error %v, want an *Interrupted saying %q", err, tc.note)
				}
			}
			wantEps, wantDel := eps, del
			if tc.wantState == "" {
				wantEps, wantDel = privacy.Amount{}, privacy.Amount{}
			}
			led := checkLedger(t, j, id, wantEps, wantDel, tc.wantState)
			checkOutputDir(t, j, led.StoreDir(id), tc.wantState == privacy.StatePublished)
			// The next run completes (or re-publishes) it, charged once.
			res, err := Run(context.Background(), j, RunOptions{NewEngine: embedded, ReleaseID: id})
			if err != nil {
				t.Fatalf("run after the interruption: %v", err)
			}
			if res.Republished != (tc.wantState == privacy.StatePublished) {
				t.Errorf("run after the interruption: republished %v", res.Republished)
			}
			checkLedger(t, j, id, eps, del, privacy.StatePublished)
		})
	}
}
