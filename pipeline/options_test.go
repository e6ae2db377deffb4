package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/internal/testfixture"
	"github.com/privagg/privagg/privacy"
)

// spyEngine records whether Run asked it to read the input.
type spyEngine struct{ prepared bool }

var _ engine.Engine = (*spyEngine)(nil)

func (s *spyEngine) Prepare(context.Context) (engine.InputCounts, error) {
	s.prepared = true
	return engine.InputCounts{}, nil
}
func (s *spyEngine) Release(context.Context, *privacy.Plan, *privacy.Reservation) (*privacy.Release, map[string]privacy.OutputStats, error) {
	return nil, nil, nil
}
func (s *spyEngine) Published() error { return nil }
func (s *spyEngine) Close() error     { return nil }

// TestRunChecksOptionsFirst: Run refuses options that break the job file's
// rules (exit 2, naming the flag) before it reads the input or writes
// anything, the run report included. Before, a release id the ledger
// refuses was found out only after the whole input was scanned.
func TestRunChecksOptionsFirst(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts func(dir string) RunOptions
		want string
	}{
		{"release id", func(string) RunOptions { return RunOptions{ReleaseID: "_x"} }, "--release-id: _x must be"},
		{"memory limit", func(string) RunOptions { return RunOptions{MemoryLimit: "80%"} }, "--memory-limit: 80% must be"},
		{"ledger in output.dir", func(dir string) RunOptions {
			return RunOptions{Ledger: filepath.Join(dir, "out", "l.duckdb")}
		}, "must not be inside output.dir"},
		{"temp dir in output.dir", func(dir string) RunOptions {
			return RunOptions{TempDir: filepath.Join(dir, "out", "spill")}
		}, "must not be inside output.dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := testfixture.CSVJob(t, goldenJob, eventsCSV, 10)
			dir := filepath.Dir(j.File)
			spy := &spyEngine{}
			opts := tc.opts(dir)
			opts.Engine = spy
			_, err := Run(context.Background(), j, opts)
			if ExitCode(err) != ExitConfig || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v (exit %d), want exit %d and %q", err, ExitCode(err), ExitConfig, tc.want)
			}
			if spy.prepared {
				t.Error("the input was read")
			}
			for _, d := range []string{filepath.Join(dir, "out"), filepath.Join(filepath.Dir(j.Ledger), "privagg-runs")} {
				if _, err := os.Stat(d); !os.IsNotExist(err) {
					t.Errorf("%s exists (err %v)", d, err)
				}
			}
		})
	}
}
