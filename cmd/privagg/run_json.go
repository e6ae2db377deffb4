package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/pipeline"
	"github.com/privagg/privagg/release"
)

// runSummary is what run --format json prints: one object per run.
type runSummary struct {
	ReleaseID string `json:"release_id,omitempty"`
	// Status is published, re-published (no new noise, no new charge),
	// refused (exit 2, 3 or 4: nothing charged or released) or failed
	// (exit 1).
	Status string `json:"status"`
	// Charge is what this run charged the dataset's budget: the release's
	// epsilon and delta when published, 0 otherwise.
	Charge    runCharge   `json:"charge"`
	OutputDir string      `json:"output_dir,omitempty"`
	Outputs   []runOutput `json:"outputs"`
	Error     string      `json:"error,omitempty"`
	ExitCode  int         `json:"exit_code"`
}

type runCharge struct {
	Epsilon float64 `json:"epsilon"`
	Delta   float64 `json:"delta"`
}

// runOutput is one published output: its data file (and table, in a DuckDB
// file) in output_dir and the number of rows released.
type runOutput struct {
	Name  string `json:"name"`
	File  string `json:"file"`
	Table string `json:"table,omitempty"`
	Rows  int64  `json:"rows"`
}

// newRunSummary describes the run of j (nil if it did not load) with
// result res or error err. Outputs come from the published manifests.
func newRunSummary(j *job.Job, opts pipeline.RunOptions, res *pipeline.RunResult, err error) runSummary {
	s := runSummary{Outputs: []runOutput{}, ExitCode: exitCode(err)}
	if err != nil {
		s.Status, s.Error = "refused", err.Error()
		if s.ExitCode == pipeline.ExitRuntime {
			s.Status = "failed"
		}
		s.ReleaseID = opts.ReleaseID
		if s.ReleaseID == "" && j != nil {
			s.ReleaseID, _ = job.Fingerprint(j)
		}
		return s
	}
	s.ReleaseID, s.OutputDir, s.Status = res.ReleaseID, res.OutputDir, "published"
	if res.Republished {
		s.Status = "re-published"
	}
	for _, f := range res.Files {
		if !strings.HasSuffix(f, release.ManifestSuffix) {
			continue
		}
		m, rerr := readManifest(filepath.Join(res.OutputDir, f))
		if rerr != nil {
			continue // the published files were checked; a summary does not fail the run
		}
		s.Outputs = append(s.Outputs, runOutput{Name: m.Output, File: m.File, Table: m.Table, Rows: m.Rows})
		if !res.Republished {
			s.Charge = runCharge{Epsilon: m.Epsilon, Delta: m.Delta}
		}
	}
	return s
}

func readManifest(path string) (*release.Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return release.ReadManifest(f)
}
