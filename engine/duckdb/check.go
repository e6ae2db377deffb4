package duckdb

import (
	"context"
	"errors"
	"strings"

	"github.com/privagg/privagg/job"
)

// Spelling maps lower-cased column names to a file's spelling of them. The
// embedded engine compares column names without case, as DuckDB does; an
// engine that looks names up exactly (Beam) reads column c as Of(c) to read
// what the embedded engine reads.
type Spelling map[string]string

// Of is the file's spelling of column c, or c when the file has no such
// column. A nil Spelling spells every column as given.
func (s Spelling) Of(c string) string {
	if n, ok := s[strings.ToLower(c)]; ok {
		return n
	}
	return c
}

// InputNames are the column names of a job's input files as the files
// spell them.
type InputNames struct {
	Input   Spelling // every column of input.path
	Consent Spelling // the columns of consent.table the job names; nil without one
}

// CheckInput checks j's input without reading its rows: the input files
// exist and can be opened, every column the job uses is there with a usable
// type (with a "did you mean" for a misspelt one, under the key path that
// names it), and a consent table has the columns the job names. It reads the
// schema only (Parquet metadata, a CSV or JSON sample), through the same
// readers a run uses. Missing columns are a *job.ConfigError, missing or
// unreadable files an *engine.InputError. It returns the files' spelling of
// the columns. privagg validate calls it, and so does the Beam engine, so
// that every engine refuses a job's columns by this one rule.
func CheckInput(ctx context.Context, j *job.Job) (_ *InputNames, err error) {
	qp, err := newQueryPlan(j, 0)
	if err != nil {
		return nil, err
	}
	eng, err := OpenDB(ctx, DBOptions{MemoryLimit: j.Privacy.MemoryLimit, TempDir: j.Privacy.TempDir, Threads: j.Privacy.Threads})
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, eng.Close()) }()
	consent, err := describeInput(ctx, eng, qp)
	if err != nil {
		return nil, err
	}
	return &InputNames{Input: qp.in.names, Consent: consent}, nil
}
