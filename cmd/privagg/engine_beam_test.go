package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
