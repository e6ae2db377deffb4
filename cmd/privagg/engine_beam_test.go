package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/privagg/privagg/pipeline"
)

// fakeBeam puts a privagg-beam script on PATH that prints its arguments and
// exits with code.
func fakeBeam(t *testing.T, code string) {
	t.Helper()
	dir := t.TempDir()
	script := "#!/bin/sh\necho \"$@\"\nexit " + code + "\n"
	if err := os.WriteFile(filepath.Join(dir, beamBinary), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
}

func TestEngineBeamPassesFlagsAndExitCodes(t *testing.T) {
	for _, tc := range []struct {
		code string
		want int
	}{{"0", pipeline.ExitOK}, {"1", pipeline.ExitRuntime}, {"2", pipeline.ExitConfig}, {"3", pipeline.ExitBudget}, {"4", pipeline.ExitInput}} {
		t.Run("exit "+tc.code, func(t *testing.T) {
			fakeBeam(t, tc.code)
			var out bytes.Buffer
			g := &globals{stdout: &out, stderr: &out, logFormat: "json"}
			e := addEngineFlags(&cobra.Command{})
			e.engine, e.runner, e.beamArgs = "beam", "flink", []string{"--endpoint=localhost:8099"}
			err := e.run(context.Background(), g, "job.yaml", pipeline.RunOptions{ReleaseID: "r1", Ledger: "l.duckdb"})
			if got := exitCode(err); got != tc.want {
				t.Errorf("exit code %d (err %v), want %d", got, err, tc.want)
			}
			want := "--log-format=json --ledger=l.duckdb --release-id=r1 --runner=flink --endpoint=localhost:8099 job.yaml"
			if got := strings.TrimSpace(out.String()); got != want {
				t.Errorf("privagg-beam args %q, want %q", got, want)
			}
		})
	}
}

func TestEngineBeamMissingBinary(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	e := addEngineFlags(&cobra.Command{})
	e.engine = "beam"
	err := e.run(context.Background(), &globals{}, "job.yaml", pipeline.RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "make beam") {
		t.Errorf("error %v, want a hint to build it with make beam", err)
	}
	e.engine = "spark"
	if err := e.run(context.Background(), &globals{}, "job.yaml", pipeline.RunOptions{}); exitCode(err) != pipeline.ExitConfig {
		t.Errorf("unknown engine: exit %d (%v), want %d", exitCode(err), err, pipeline.ExitConfig)
	}
}

// TestEngineBeamForwardsTheSignal (audit 2, L3): a run interrupted by
// SIGTERM sends privagg-beam that signal, not SIGKILL, and waits for it, so
// that it removes its --results_dir run folder (exact counts, noised
// results) before it exits; the run exits 143.
func TestEngineBeamForwardsTheSignal(t *testing.T) {
	dir := t.TempDir()
	started, cleaned := filepath.Join(dir, "started"), filepath.Join(dir, "cleaned")
	script := "#!/bin/sh\ntrap 'echo > " + cleaned + "; exit 143' TERM\necho > " + started + "\nwhile :; do /bin/sleep 0.05; done\n"
	if err := os.WriteFile(filepath.Join(dir, beamBinary), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan error, 1)
	go func() {
		var out bytes.Buffer
		e := addEngineFlags(&cobra.Command{})
		e.engine = "beam"
		done <- e.run(ctx, &globals{stdout: &out, stderr: &out, logFormat: "text"}, "job.yaml", pipeline.RunOptions{})
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(started); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the fake privagg-beam did not start")
		}
	}
	cancel(&pipeline.Interrupted{Signal: syscall.SIGTERM})
	err := <-done
	if got := exitCode(err); got != 143 {
		t.Errorf("exit code %d (err %v), want 143", got, err)
	}
	if _, serr := os.Stat(cleaned); serr != nil {
		t.Errorf("privagg-beam got no SIGTERM to clean up after (killed instead): %v", serr)
	}
}
