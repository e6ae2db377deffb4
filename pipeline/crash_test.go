package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/internal/testfixture"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
	"github.com/privagg/privagg/release"
)

// The crash tests kill a real `Run` with SIGKILL at each step of the release
// protocol. The test binary re-executes itself (TestCrashHelper) to run the
// job in a child process whose stepHook kills it, then checks what the kill
// left behind and that running the job again completes without a second
// charge.

// Environment of the helper process.
const (
	envCrashHelper  = "PRIVAGG_CRASH_HELPER"  // "1": TestCrashHelper runs a job
	envCrashJob     = "PRIVAGG_CRASH_JOB"     // the job file
	envCrashRelease = "PRIVAGG_CRASH_RELEASE" // the release id
	envCrashKillAt  = "PRIVAGG_CRASH_KILL_AT" // protocol step at which the helper SIGKILLs itself; empty: none
	envCrashStart   = "PRIVAGG_CRASH_START"   // file whose appearance starts the run; empty: start at once
)

// TestCrashHelper is not a test: it is the child process of the crash tests.
func TestCrashHelper(t *testing.T) {
	if os.Getenv(envCrashHelper) != "1" {
		t.Skip("helper process of the crash tests: runs only when they re-execute the test binary")
	}
	os.Exit(crashHelper())
}

// crashHelper runs the job named by the environment and returns the exit
// code privagg would: 0 ok, 1 runtime, 2 config, 3 budget, 4 input.
func crashHelper() int {
	job, err := job.LoadJob(os.Getenv(envCrashJob))
	if err != nil {
		fmt.Fprintln(os.Stderr, "load job:", err)
		return exitCodeOf(err)
	}
	if at := os.Getenv(envCrashKillAt); at != "" {
		stepHook = func(s string) {
			if s == at {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				time.Sleep(time.Minute) // never returns: the signal is on its way
			}
		}
	}
	if start := os.Getenv(envCrashStart); start != "" {
		// Say we are ready, then wait for the go.
		if err := os.WriteFile(start+".ready-"+os.Getenv(envCrashRelease), nil, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "ready:", err)
			return 1
		}
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
			if _, err := os.Stat(start); err == nil {
				break
			}
			if time.Now().After(deadline) {
				fmt.Fprintln(os.Stderr, "no start signal within a minute")
				return 1
			}
		}
	}
	_, err = Run(context.Background(), job, RunOptions{NewEngine: embedded, ReleaseID: os.Getenv(envCrashRelease)})
	if err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
	}
	return exitCodeOf(err)
}

// exitCodeOf maps an error to privagg's exit codes (as cmd/privagg does).
func exitCodeOf(err error) int {
	var (
		ce *job.ConfigError
		be *privacy.BudgetError
		ie *engine.InputError
	)
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ce):
		return 2
	case errors.As(err, &be):
		return 3
	case errors.As(err, &ie):
		return 4
	}
	return 1
}

// helperCmd is a child process that runs job as release id.
func helperCmd(job *job.Job, id, killAt, start string, stderr *bytes.Buffer) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		envCrashHelper+"=1",
		envCrashJob+"="+job.File,
		envCrashRelease+"="+id,
		envCrashKillAt+"="+killAt,
		envCrashStart+"="+start,
	)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	return cmd
}

// checkKilled fails unless err says the child died of SIGKILL.
func checkKilled(t *testing.T, err error, stderr *bytes.Buffer) {
	t.Helper()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("helper was not killed: err %v\n%s", err, stderr.Bytes())
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("helper ended with %v, want killed by SIGKILL\n%s", err, stderr.Bytes())
	}
}

// killDuringScan runs the job in a child whose input is a named pipe: the
// child blocks reading it, and is killed while it reads (before StepScanned,
// so before anything is charged). The input file is restored afterwards.
func killDuringScan(t *testing.T, job *job.Job, id string) {
	t.Helper()
	input := job.Input.Path
	data, err := os.ReadFile(input)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(input); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(input, 0o600); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	var stderr bytes.Buffer
	cmd := helperCmd(job, id, "", "", &stderr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// A non-blocking open for writing succeeds once the child has the pipe
	// open for reading. Holding the write end open keeps the child waiting
	// for input that never comes: it is in the middle of reading.
	var w *os.File
	for deadline := time.Now().Add(time.Minute); w == nil; {
		f, err := os.OpenFile(input, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		switch {
		case err == nil:
			w = f
		case !errors.Is(err, syscall.ENXIO):
			t.Fatalf("open pipe: %v", err)
		case time.Now().After(deadline):
			t.Fatal("the helper never opened its input")
		}
		select {
		case err := <-done:
			t.Fatalf("helper ended before reading its input: %v\n%s", err, stderr.Bytes())
		case <-time.After(2 * time.Millisecond):
		}
	}
	time.Sleep(50 * time.Millisecond) // let it get into the reader
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	checkKilled(t, <-done, &stderr)
	w.Close()
	if err := os.Remove(input); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(input, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// jobCharge is what a run of job charges.
func jobCharge(t *testing.T, job *job.Job) (eps, del privacy.Amount) {
	t.Helper()
	plan, err := privacy.NewPlan(job.PrivacySpec())
	if err != nil {
		t.Fatal(err)
	}
	if eps, err = privacy.AmountFromFloat(plan.Total.Epsilon); err != nil {
		t.Fatal(err)
	}
	if del, err = privacy.AmountFromFloat(plan.Total.Delta); err != nil {
		t.Fatal(err)
	}
	return eps, del
}

// checkLedger opens and verifies the ledger and checks the dataset's spend and
// the state of release id ("" for no record).
func checkLedger(t *testing.T, job *job.Job, id string, wantEps, wantDel privacy.Amount, wantState privacy.ReleaseState) *privacy.Ledger {
	t.Helper()
	ctx := context.Background()
	led, err := privacy.OpenLedger(job.Ledger)
	if err != nil {
		t.Fatalf("ledger does not open: %v", err)
	}
	if err := led.Verify(ctx); err != nil {
		t.Fatalf("ledger does not verify: %v", err)
	}
	st, err := led.Status(ctx, job.Dataset)
	if err != nil {
		t.Fatal(err)
	}
	if st.EpsilonSpent.Cmp(wantEps) != 0 || st.DeltaSpent.Cmp(wantDel) != 0 {
		t.Errorf("spent epsilon %s, delta %s; want exactly %s, %s", st.EpsilonSpent, st.DeltaSpent, wantEps, wantDel)
	}
	rec, err := led.Lookup(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case rec == nil && wantState != "":
		t.Errorf("release %s is not in the ledger, want %s", id, wantState)
	case rec != nil && rec.State != wantState:
		t.Errorf("release %s is %q in the ledger, want %q", id, rec.State, wantState)
	}
	return led
}

// checkOutputDir checks that outDir holds no temporary file and either
// nothing (wantRelease false) or exactly the files published from storeDir,
// byte for byte, with a manifest per output naming its data file.
func checkOutputDir(t *testing.T, job *job.Job, storeDir string, wantRelease bool) {
	t.Helper()
	got := map[string][]byte{}
	hist := map[string][]byte{} // output.dir/history/<release_id>/
	err := filepath.WalkDir(job.Output.Dir, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && path == job.Output.Dir {
			return filepath.SkipDir
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(job.Output.Dir, path)
		if rel == "." {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") || strings.Contains(d.Name(), ".tmp") || strings.HasSuffix(d.Name(), ".wal") {
			t.Errorf("temporary file %s in output.dir", rel)
		}
		if d.IsDir() {
			if rel != release.HistoryDir && filepath.Dir(rel) != release.HistoryDir {
				t.Errorf("unexpected folder %s in output.dir", rel)
			}
			return nil
		}
		data, err := os.ReadFile(path)
		if strings.HasPrefix(rel, release.HistoryDir+string(filepath.Separator)) {
			hist[rel] = data
		} else {
			got[rel] = data
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !wantRelease {
		if len(got)+len(hist) > 0 {
			t.Errorf("output.dir holds %v %v, want nothing", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(hist)))
		}
		return
	}
	list, err := os.ReadFile(filepath.Join(storeDir, release.PublishedList))
	if err != nil {
		t.Fatalf("release store: %v", err)
	}
	var files []string
	if err := json.Unmarshal(list, &files); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(slices.Values(files))) {
		t.Fatalf("output.dir holds %v, want exactly the stored release %v", slices.Sorted(maps.Keys(got)), files)
	}
	manifests := 0
	for _, name := range files {
		stored, err := os.ReadFile(filepath.Join(storeDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[name], stored) {
			t.Errorf("%s in output.dir differs from the release store", name)
		}
		if h := filepath.Join(release.HistoryDir, filepath.Base(storeDir), name); !bytes.Equal(hist[h], stored) {
			t.Errorf("%s in output.dir differs from the release store", h)
		}
		if strings.HasSuffix(name, release.ManifestSuffix) {
			manifests++
			m, err := release.ReadManifest(bytes.NewReader(got[name]))
			if err != nil {
				t.Errorf("%s: %v", name, err)
			} else if _, ok := got[m.File]; !ok {
				t.Errorf("%s names %s, which is not in output.dir", name, m.File)
			}
		}
	}
	if manifests != len(job.Outputs) {
		t.Errorf("output.dir has %d manifests, want one per output (%d)", manifests, len(job.Outputs))
	}
}

// TestCrashAtEachStep kills a run at each step of the release protocol and
// checks what is left and that a re-run completes without a second charge.
// crashJob is the golden job with Gaussian noise, so that a run charges
// both epsilon and delta.
var crashJob = strings.Replace(goldenJob, "  k: 1\n", "  k: 1\n  noise: gaussian\n", 1)

func TestCrashAtEachStep(t *testing.T) {
	if testing.Short() {
		t.Skip("crash tests start child processes; skipped with -short")
	}
	const duringScan = "during the scan"
	for _, tc := range []struct {
		killAt    string
		charged   bool                 // the budget is charged after the kill
		state     privacy.ReleaseState // the ledger's state of the release after the kill
		published bool                 // output.dir holds the release after the kill
		// refused: noised values may have reached disk, so a re-run refuses
		// to complete the release rather than draw its noise again.
		refused bool
	}{
		{duringScan, false, "", false, false},
		{StepScanned, false, "", false, false},
		{StepReserved, true, privacy.StateReserved, false, false},
		{StepReleased, true, privacy.StateReserved, false, false},
		{StepWriting, true, privacy.StateReserved, false, true},
		{StepWritten, true, privacy.StateReserved, false, true},
		{StepStored, true, privacy.StateStored, false, false},
		{StepPublished, true, privacy.StateStored, true, false},
		{StepMarked, true, privacy.StatePublished, true, false},
	} {
		t.Run(tc.killAt, func(t *testing.T) {
			job := testfixture.CSVJob(t, crashJob, eventsCSV, 10)
			id := "crash-" + strings.ReplaceAll(tc.killAt, " ", "-")
			eps, del := jobCharge(t, job)
			zero, _ := privacy.ParseAmount("0")

			if tc.killAt == duringScan {
				killDuringScan(t, job, id)
			} else {
				var stderr bytes.Buffer
				checkKilled(t, helperCmd(job, id, tc.killAt, "", &stderr).Run(), &stderr)
			}

			// What the kill left behind.
			wantEps, wantDel := zero, zero
			if tc.charged {
				wantEps, wantDel = eps, del
			}
			led := checkLedger(t, job, id, wantEps, wantDel, tc.state)
			store := led.StoreDir(id)
			checkOutputDir(t, job, store, tc.published)
			if tc.state == privacy.StateStored || tc.state == privacy.StatePublished {
				for _, name := range []string{release.ReportJSONFile, release.ReportHTMLFile, release.PublishedList} {
					if _, err := os.Stat(filepath.Join(store, name)); err != nil {
						t.Errorf("stored release lacks %s: %v", name, err)
					}
				}
			}
			var before map[string][]byte
			if tc.published {
				before = readDir(t, job.Output.Dir)
			}
			if tc.refused {
				checkResumeRefused(t, job, id, store, eps, del)
				return
			}

			// Running the job again completes; a reserved release is
			// recomputed, a stored one re-published; nothing more is charged.
			res, err := Run(context.Background(), job, RunOptions{NewEngine: embedded, ReleaseID: id})
			if err != nil {
				t.Fatalf("re-run: %v", err)
			}
			wantRepublished := tc.state == privacy.StateStored || tc.state == privacy.StatePublished
			if res.Republished != wantRepublished {
				t.Errorf("re-run republished = %v, want %v", res.Republished, wantRepublished)
			}
			checkLedger(t, job, id, eps, del, privacy.StatePublished)
			checkOutputDir(t, job, store, true)
			for name, data := range before {
				if after, err := os.ReadFile(filepath.Join(job.Output.Dir, name)); err != nil || !bytes.Equal(after, data) {
					t.Errorf("%s changed on re-publication (err %v)", name, err)
				}
			}
		})
	}
}

// checkResumeRefused runs job again as release id, which an interrupted run
// left after noised values may have reached the release store: the run
// must refuse (exit 1) and change nothing: no new charge, no file in
// output.dir, the release store as the interrupted run left it.
func checkResumeRefused(t *testing.T, job *job.Job, id, store string, eps, del privacy.Amount) {
	t.Helper()
	stored := readTree(t, store)
	_, err := Run(context.Background(), job, RunOptions{NewEngine: embedded, ReleaseID: id})
	if !errors.Is(err, privacy.ErrNoiseWritten) || ExitCode(err) != ExitRuntime {
		t.Fatalf("re-run after noised values may have reached disk: err %v (exit %d), want privacy.ErrNoiseWritten (exit 1)", err, ExitCode(err))
	}
	if !strings.Contains(err.Error(), "--release-id") {
		t.Errorf("the refusal does not say how to go on (a new --release-id): %v", err)
	}
	checkLedger(t, job, id, eps, del, privacy.StateReserved)
	checkOutputDir(t, job, store, false)
	if after := readTree(t, store); !maps.EqualFunc(stored, after, bytes.Equal) {
		t.Errorf("the refused re-run changed the release store: %v -> %v", slices.Sorted(maps.Keys(stored)), slices.Sorted(maps.Keys(after)))
	}
}

// readTree reads every file under dir (none if dir does not exist), by path
// relative to dir.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && path == dir {
			return filepath.SkipDir
		}
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		data, err := os.ReadFile(path)
		out[rel] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestConcurrentRunsOneBudget starts two runs of the same job with different
// release ids in two processes at the same moment, on a budget that fits only
// one: exactly one publishes; the other is refused (exit 3) and output.dir
// holds only the winner's files.
func TestConcurrentRunsOneBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes; skipped with -short")
	}
	job := testfixture.CSVJob(t, crashJob, eventsCSV, 1.5) // the job spends epsilon 1
	eps, del := jobCharge(t, job)
	if del.IsZero() {
		t.Fatal("the crash job charges no delta; the test wants both charged")
	}
	start := filepath.Join(t.TempDir(), "go")
	ids := []string{"race-a", "race-b"}
	cmds := make([]*exec.Cmd, len(ids))
	outs := make([]bytes.Buffer, len(ids))
	for i, id := range ids {
		cmds[i] = helperCmd(job, id, "", start, &outs[i])
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	// Both wait at the start line; then they go together.
	for _, id := range ids {
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(2 * time.Millisecond) {
			if _, err := os.Stat(start + ".ready-" + id); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("helper %s never got ready", id)
			}
		}
	}
	if err := os.WriteFile(start, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	codes := make([]int, len(ids))
	for i, cmd := range cmds {
		err := cmd.Wait()
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee) && ee.Exited():
			codes[i] = ee.ExitCode()
		default:
			t.Fatalf("helper %s: %v\n%s", ids[i], err, outs[i].Bytes())
		}
	}
	winner, loser := -1, -1
	for i, c := range codes {
		switch c {
		case 0:
			winner = i
		case 3:
			loser = i
		}
	}
	if winner < 0 || loser < 0 {
		t.Fatalf("exit codes %v, want one 0 and one 3\n%s: %s\n%s: %s", codes, ids[0], outs[0].Bytes(), ids[1], outs[1].Bytes())
	}
	if !strings.Contains(outs[loser].String(), "budget refused") {
		t.Errorf("loser's error does not say the budget was refused: %s", outs[loser].Bytes())
	}
	led := checkLedger(t, job, ids[winner], eps, del, privacy.StatePublished)
	checkLedger(t, job, ids[loser], eps, del, "")
	recs, err := led.Releases(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Errorf("ledger holds %d releases, want only the winner's", len(recs))
	}
	checkOutputDir(t, job, led.StoreDir(ids[winner]), true)
	if _, err := os.Stat(led.StoreDir(ids[loser])); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the refused release has a release store folder (stat: %v)", err)
	}
}
