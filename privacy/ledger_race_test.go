package privacy

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Environment of the child processes of TestReserveRaceAcrossProcesses.
const (
	envRaceChild   = "PRIVAGG_TEST_RESERVE_CHILD"
	envRaceLedger  = "PRIVAGG_TEST_RESERVE_LEDGER"
	envRaceRelease = "PRIVAGG_TEST_RESERVE_RELEASE"
	envRaceDir     = "PRIVAGG_TEST_RESERVE_DIR"
)

// TestReserveChildProcess is not a test on its own: it is the child process
// of TestReserveRaceAcrossProcesses (the test binary re-executed). It reports
// "ready", waits for the parent's "go" file, reserves 0.6 of dataset "d" and
// prints the outcome.
func TestReserveChildProcess(t *testing.T) {
	if os.Getenv(envRaceChild) != "1" {
		t.Skip("child process of TestReserveRaceAcrossProcesses")
	}
	dir, id := os.Getenv(envRaceDir), os.Getenv(envRaceRelease)
	l, err := OpenLedger(os.Getenv(envRaceLedger))
	if err != nil {
		fmt.Printf("RESULT error %v\n", err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, "ready-"+id), nil, 0o600); err != nil {
		fmt.Printf("RESULT error %v\n", err)
		return
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		if _, err := os.Stat(filepath.Join(dir, "go")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			fmt.Println("RESULT error no go signal")
			return
		}
		time.Sleep(time.Millisecond)
	}
	_, err = l.Reserve(context.Background(), reserveReq(id, "d", 0.6, 0))
	var be *BudgetError
	switch {
	case err == nil:
		fmt.Println("RESULT ok")
	case errors.As(err, &be):
		fmt.Println("RESULT budget")
	default:
		fmt.Printf("RESULT error %v\n", err)
	}
}

// TestReserveRaceAcrossProcesses starts two processes that reserve 0.6 of a
// budget of 1 at the same moment: exactly one must succeed and the other get
// a *BudgetError, in every round.
func TestReserveRaceAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	for round := range 3 {
		t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "ledger.duckdb")
			l, err := OpenLedger(path)
			if err != nil {
				t.Fatal(err)
			}
			mustSetBudget(t, l, "d", 1, 0, "none")

			ids := []string{"a", "b"}
			outs := make([]*bytes.Buffer, len(ids))
			cmds := make([]*exec.Cmd, len(ids))
			for i, id := range ids {
				cmd := exec.Command(os.Args[0], "-test.run=^TestReserveChildProcess$", "-test.count=1")
				cmd.Env = append(os.Environ(), envRaceChild+"=1", envRaceLedger+"="+path, envRaceRelease+"="+id, envRaceDir+"="+dir)
				outs[i] = &bytes.Buffer{}
				cmd.Stdout, cmd.Stderr = outs[i], outs[i]
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				cmds[i] = cmd
			}
			// Release both at once when both are ready.
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
				_, ea := os.Stat(filepath.Join(dir, "ready-a"))
				_, eb := os.Stat(filepath.Join(dir, "ready-b"))
				if ea == nil && eb == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("children not ready after 30s")
				}
			}
			if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			results := map[string]int{}
			for i, cmd := range cmds {
				if err := cmd.Wait(); err != nil {
					t.Fatalf("child %s: %v\n%s", ids[i], err, outs[i])
				}
				_, after, ok := strings.Cut(outs[i].String(), "RESULT ")
				if !ok {
					t.Fatalf("child %s printed no result:\n%s", ids[i], outs[i])
				}
				res, _, _ := strings.Cut(after, "\n")
				results[res]++
			}
			if results["ok"] != 1 || results["budget"] != 1 {
				t.Fatalf("results %v, want exactly one ok and one budget refusal", results)
			}
			st, err := l.Status(context.Background(), "d")
			if err != nil {
				t.Fatal(err)
			}
			if st.EpsilonSpent.String() != "0.6" {
				t.Errorf("spent %s, want 0.6", st.EpsilonSpent)
			}
			if recs, err := l.Releases(context.Background()); err != nil || len(recs) != 1 {
				t.Errorf("releases %v, %v; want one", recs, err)
			}
		})
	}
}

// TestLedgerHolderProcess is the child process of
// TestWaitsForAnotherProcess: it holds the ledger file open (and so DuckDB's
// lock) for half a second.
func TestLedgerHolderProcess(t *testing.T) {
	if os.Getenv(envRaceChild) != "hold" {
		t.Skip("child process of TestWaitsForAnotherProcess")
	}
	db, err := sql.Open("duckdb", os.Getenv(envRaceLedger))
	if err == nil {
		err = db.Ping()
	}
	if err != nil {
		fmt.Printf("RESULT error %v\n", err)
		return
	}
	os.WriteFile(filepath.Join(os.Getenv(envRaceDir), "holding"), nil, 0o600)
	time.Sleep(500 * time.Millisecond)
	db.Close()
}

// TestWaitsForAnotherProcess: while another process holds the ledger, an
// operation waits and retries instead of failing; with a short lock timeout
// it fails with a *LedgerError saying the ledger is busy.
func TestWaitsForAnotherProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		wantErr bool
	}{{"waits", 20 * time.Second, false}, {"times out", 100 * time.Millisecond, true}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "ledger.duckdb")
			// The budget is set with the default lock timeout: on a loaded
			// machine the setup alone can take longer than 100 ms.
			setup, err := OpenLedger(path)
			if err != nil {
				t.Fatal(err)
			}
			mustSetBudget(t, setup, "d", 1, 0, "none")
			// Opening verifies the ledger under the lock timeout too; with
			// the race detector on a loaded machine that alone can take
			// more than 100 ms. So the handle is opened with the default
			// and the short timeout applies to the Reserve below only.
			l, err := OpenLedger(path)
			if err != nil {
				t.Fatal(err)
			}
			l.lockTimeout = tc.timeout
			cmd := exec.Command(os.Args[0], "-test.run=^TestLedgerHolderProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), envRaceChild+"=hold", envRaceLedger+"="+path, envRaceDir+"="+dir)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
				if _, err := os.Stat(filepath.Join(dir, "holding")); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("child did not take the ledger:\n%s", out.String())
				}
			}
			start := time.Now()
			_, err = l.Reserve(context.Background(), reserveReq("r1", "d", 0.5, 0))
			waited := time.Since(start)
			if tc.wantErr {
				wantLedgerErrorReason(t, err, "held by another process")
				return
			}
			if err != nil {
				t.Fatalf("Reserve while another process held the ledger: %v", err)
			}
			if waited < 200*time.Millisecond {
				t.Errorf("Reserve returned after %v, before the other process let go", waited)
			}
		})
	}
}
