package beamengine

import (
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/engine/duckdb"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"

	_ "github.com/duckdb/duckdb-go/v2" // the CSV sniffer, so both engines type CSV columns alike

	"github.com/privagg/privagg/transforms"
)

// compile turns a validated job into the Beam pipeline's parts. It checks
// the input's files and columns as privagg validate and the embedded engine
// do (checkInput), and reads the CSV header, the map files and the public
// lists, not the data.
func compile(ctx context.Context, j *job.Job) (*compiled, error) {
	c := &compiled{job: j, purpose: j.Purpose}
	names, err := checkInput(ctx, j)
	if err != nil {
		return nil, err
	}
	cols := j.InputColumns()
	src, err := newSource(j.Input.Format, j.Input.Path, cols, j.Input.CSV.Delimiter, *j.Input.CSV.Header)
	if err != nil {
		return nil, &engine.InputError{Reason: "cannot read the input's columns", Err: err}
	}
	src.Names = names.Input
	// Person ids, consent values and text times with a format are read as
	// text, as the embedded engine's readers read them (VARCHAR).
	src.Text = map[string]bool{}
	for _, col := range j.TextColumns() {
		src.Text[col] = true
	}
	c.src = *src
	if problems := unsupportedMetrics(j); len(problems) > 0 {
		return nil, &job.ConfigError{File: j.File, Problems: problems}
	}

	var keys []string
	for _, o := range j.Outputs {
		for _, g := range o.GroupBy {
			if !slices.Contains(keys, g) {
				keys = append(keys, g)
			}
		}
	}
	slices.Sort(keys)
	var measures []string
	for _, o := range j.Outputs {
		for _, m := range o.Metrics {
			if m.Column != "" && !slices.Contains(measures, m.Column) {
				measures = append(measures, m.Column)
			}
		}
	}
	c.ev = eventSpec{Columns: cols, FoldCase: j.FoldUnitCase(), ConsentColumn: j.Consent.Column, Keys: keys, Measures: measures, Derived: map[string]job.DerivedColumn{}}
	if j.PrivacyUnit != job.RowUnit {
		c.ev.Unit = j.PrivacyUnit
	}
	for _, k := range keys {
		if dc, ok := j.Columns[k]; ok {
			c.ev.Derived[k] = dc
		}
	}
	if err := c.ev.setup(); err != nil { // validates the derived columns and map files now
		return nil, &job.ConfigError{File: j.File, Problems: []job.Problem{{Key: "columns", Rule: err.Error()}}}
	}
	if t := j.Consent.Table; t != nil {
		cs, err := newSource(job.ConsentFormat(t.Path), t.Path, []string{t.Unit, t.Purpose, t.Granted, t.At}, ",", true)
		if err != nil {
			return nil, &engine.InputError{Reason: "cannot read consent.table", Err: err}
		}
		// Every column as text, as the embedded engine reads a consent table.
		cs.Types = map[string]string{}
		cs.Text = map[string]bool{t.Unit: true, t.Purpose: true, t.Granted: true, t.At: true}
		cs.Names = names.Consent
		c.consent = cs
	}

	for o, out := range j.Outputs {
		spec := outSpec{Public: map[int][]string{}}
		for _, g := range out.GroupBy {
			spec.KeyIdx = append(spec.KeyIdx, slices.Index(keys, g))
		}
		for _, m := range out.Metrics {
			spec.Values = append(spec.Values, slices.Index(measures, m.Column))
		}
		for gi, g := range out.GroupBy {
			pp, ok := out.PublicPartitions[g]
			if !ok {
				continue
			}
			vals, err := publicValues(pp)
			if err != nil {
				return nil, &job.ConfigError{File: j.File, Problems: []job.Problem{{
					Key: fmt.Sprintf("outputs[%d].public_partitions.%s", o, g), Value: pp.File, Rule: err.Error()}}}
			}
			spec.Public[gi] = vals
		}
		c.outs = append(c.outs, spec)
	}
	return c, nil
}

// unsupportedMetrics refuses, by key path, the metrics whose kind needs a
// statistic the Beam engine does not compute (see beamStatistics), and
// selection through the count (count_threshold).
func unsupportedMetrics(j *job.Job) []job.Problem {
	var problems []job.Problem
	for o, out := range j.PrivacySpec().Outputs {
		if out.Selection == privacy.SelectCountThreshold {
			problems = append(problems, job.Problem{Key: fmt.Sprintf("outputs[%d].selection", o), Value: out.Selection,
				Rule: "is not supported by the Beam engine (pbeam selects partitions per aggregation, not through one released count); use two_phase or run the job with the embedded engine"})
		}
		for i, ms := range out.Metrics {
			kind, ok := privacy.LookupMetric(ms.Kind)
			if !ok {
				continue // job validation reports it
			}
			for _, p := range kind.Parts(ms) {
				if !beamStatistics[p.Stat] {
					problems = append(problems, job.Problem{Key: fmt.Sprintf("outputs[%d].metrics[%d].type", o, i), Value: ms.Kind,
						Rule: fmt.Sprintf("is not supported by the Beam engine (it needs the statistic %s); run the job with the embedded engine", p.Stat)})
					break
				}
			}
		}
	}
	return problems
}

// newSource describes how to read path. For local CSV files the header and
// the column types come from DuckDB's sniffer, as in the embedded engine.
func newSource(format job.InputFormat, path string, cols []string, delim string, header bool) (*source, error) {
	s := &source{Format: format, Columns: cols, Delim: delim, HasHeader: header, Types: map[string]string{}}
	if format != job.InputCSV {
		return s, nil
	}
	files, err := localGlob(path)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("csv input %s: the header must be readable from the driver (remote CSV is not supported; use Parquet or NDJSON)", path)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	// The whole glob, as the embedded engine describes it: DuckDB samples
	// the next files too when the first is short. With ignore_errors, the
	// lines its reader would reject do not stop the sniffer.
	q := fmt.Sprintf("DESCRIBE SELECT * FROM read_csv(%s, delim=%s, header=%t, %s, ignore_errors=true)",
		transforms.QuoteString(path), transforms.QuoteString(delim), header, duckdb.CSVReadOptions)
	rows, err := db.Query(q)
	if err != nil {
		// DuckDB's sniffer errors may quote the file's lines: keep only that it failed.
		return nil, fmt.Errorf("sniff csv columns of %s: DuckDB's CSV reader failed (details withheld: they may quote input values)", path)
	}
	defer rows.Close()
	for rows.Next() {
		var name, typ string
		var null, key, def, extra sql.NullString
		if err := rows.Scan(&name, &typ, &null, &key, &def, &extra); err != nil {
			return nil, err
		}
		s.Header = append(s.Header, name)
		s.Types[name] = typ
	}
	return s, rows.Err()
}

// publicValues reads a public list like the embedded engine: inline values,
// or the first column of a CSV file with a header, trimmed, empty dropped,
// distinct.
func publicValues(pp job.PublicPartitions) ([]string, error) {
	vals := pp.Values
	if pp.File != "" {
		f, err := os.Open(pp.File)
		if err != nil {
			return nil, fmt.Errorf("cannot be read: %w", err)
		}
		defer f.Close()
		r := csv.NewReader(f)
		r.FieldsPerRecord = -1
		for first := true; ; first = false {
			rec, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("is not a valid CSV file: %w", err)
			}
			if first || len(rec) == 0 {
				continue
			}
			if v := strings.TrimSpace(rec[0]); v != "" {
				vals = append(vals, v)
			}
		}
	}
	out := slices.Clone(vals)
	slices.Sort(out)
	return slices.Compact(out), nil
}

// publicKeys encodes every combination of the output's public lists as a
// partition key: the released keys when every group-by column has a list.
func (o *outSpec) publicKeys() []string {
	lists := make([][]string, len(o.KeyIdx))
	for g := range lists {
		lists[g] = o.Public[g]
	}
	return crossProduct(lists)
}

// crossProduct encodes every combination of the lists as a partition key.
func crossProduct(lists [][]string) []string {
	keys := [][]string{{}}
	for _, l := range lists {
		var next [][]string
		for _, k := range keys {
			for _, v := range l {
				next = append(next, append(slices.Clone(k), v))
			}
		}
		keys = next
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = partKey(k, make([]bool, len(k)))
	}
	return out
}

// checkInput checks the job's input files and columns with
// duckdb.CheckInput, the function privagg validate and the embedded engine
// use, so that a missing or misspelt column gets the same message (key
// path, "did you mean") and exit code on every engine, and returns the
// files' spelling of the columns. A remote input or consent table
// (gs://...) cannot be described from the driver: then nothing is checked
// here, and the Beam readers look columns up as the job spells them.
func checkInput(ctx context.Context, j *job.Job) (duckdb.InputNames, error) {
	if remote(j.Input.Path) || (j.Consent.Table != nil && remote(j.Consent.Table.Path)) {
		return duckdb.InputNames{}, nil
	}
	names, err := duckdb.CheckInput(ctx, j)
	if err != nil {
		return duckdb.InputNames{}, err
	}
	return *names, nil
}

// remote reports whether path names files Beam's filesystems resolve on the
// workers (gs://...), not local files.
func remote(path string) bool { return strings.Contains(path, "://") }

var errNoInput = errors.New("input.path matches no file")

// localGlob lists the local files matching path; remote paths (gs://...)
// are resolved by Beam's filesystem on the workers.
func localGlob(path string) ([]string, error) {
	if remote(path) {
		return nil, nil
	}
	m, err := filepath.Glob(path)
	if err == nil && len(m) == 0 {
		return nil, errNoInput
	}
	return m, err
}
