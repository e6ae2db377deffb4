package duckdb

import (
	"context"
	"errors"

	"github.com/privagg/privagg/job"
)

// CheckInput checks j's input without reading its rows: the input files
// exist and can be opened, every column the job uses is there with a usable
// type (with a "did you mean" for a misspelt one, under the key path that
// names it), and a consent table has the columns the job names. It reads the
// schema only (Parquet metadata, a CSV or JSON sample), through the same
// readers a run uses. Missing columns are a *job.ConfigError, missing or
// unreadable files an *engine.InputError. privagg validate calls it.
func CheckInput(ctx context.Context, j *job.Job) (err error) {
	qp, err := newQueryPlan(j, 0)
	if err != nil {
		return err
	}
	eng, err := OpenDB(ctx, DBOptions{MemoryLimit: j.Privacy.MemoryLimit, TempDir: j.Privacy.TempDir, Threads: j.Privacy.Threads})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, eng.Close()) }()
	_, err = describeInput(ctx, eng, qp)
	return err
}
