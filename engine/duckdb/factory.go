package duckdb

import (
	"context"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/job"
)

// Factory returns the maker of the embedded engine with opts's memory
// limit and spill folder, for pipeline.RunOptions.NewEngine: the release
// id, logger and progress reporter of each engine it makes are the run's.
func Factory(opts Options) engine.Factory {
	return func(j *job.Job, run engine.RunParams) (engine.Engine, error) {
		o := opts
		o.ReleaseID, o.Logger, o.Progress = run.ReleaseID, run.Logger, run.Progress
		e, err := New(j, o)
		if err != nil {
			return nil, err
		}
		return e, nil
	}
}

// Prepare reads and checks the input and returns its row counts
// (engine.Engine). An input DuckDB could not read is reported by the line
// and kind of problem (LocateReadError): DuckDB's own reason quotes the
// input, so it is withheld.
func (d *Engine) Prepare(ctx context.Context) (engine.InputCounts, error) {
	counts, err := d.prepare(ctx)
	if err != nil {
		return counts, LocateReadError(ctx, d.job, err)
	}
	return counts, nil
}
