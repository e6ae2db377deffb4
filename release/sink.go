// Package release is what happens to a differentially private release
// after the privacy layer made it: sinks write its tables atomically
// (parquet, csv, duckdb), the release store keeps them beside the ledger
// with manifests and a release report, and Publish copies them to
// output.dir.
package release

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
)

// Sink writes a differentially private release into a folder. A
// *privacy.Release is the only thing it accepts, so no table that did not go
// through the privacy layer can be written.
//
// Write is atomic: every file is written to a temporary name in dir, fsync'd
// and renamed, data files before manifests. If Write fails, dir holds exactly
// what it held before (no new file, no temporary file, replaced files
// restored).
type Sink interface {
	Write(ctx context.Context, rel *privacy.Release, dir string) ([]WrittenFile, error)
}

// Output formats as manifests record them (job.OutputFormat values).
const (
	FormatParquet = string(job.OutputParquet)
	FormatCSV     = string(job.OutputCSV)
	FormatDuckDB  = string(job.OutputDuckDB)
)

// DuckDBFileName is the database file the duckdb format writes, with one
// table per output.
const DuckDBFileName = "releases.duckdb"

// ManifestSuffix ends the name of every manifest: <output>.manifest.json.
const ManifestSuffix = ".manifest.json"

// FileKind says whether a written file holds data or a manifest.
type FileKind string

// File kinds.
const (
	DataFile     FileKind = "data"
	ManifestFile FileKind = "manifest"
)

// WrittenFile is one file a Sink put in place.
type WrittenFile struct {
	Name   string   // base name inside the folder, e.g. "campaign_weekly.parquet"
	Kind   FileKind // DataFile or ManifestFile
	Output string   // the output it belongs to; "" for the shared releases.duckdb
	Rows   int64    // released rows (data files; for releases.duckdb, all outputs)
	Bytes  int64
	SHA256 string // lower-case hex
}

// FileNames returns the names of files in order, as Publish takes them.
func FileNames(files []WrittenFile) []string {
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Name
	}
	return names
}

// NewSink returns the sink for an output.format value: parquet, csv or duckdb.
func NewSink(format job.OutputFormat) (Sink, error) {
	switch format {
	case job.OutputParquet:
		return newParquetSink(), nil
	case job.OutputCSV:
		return &csvSink{}, nil
	case job.OutputDuckDB:
		return &duckdbSink{}, nil
	default:
		return nil, fmt.Errorf("output.format: %q must be one of parquet, csv, duckdb", format)
	}
}

var (
	_ Sink = (*parquetSink)(nil)
	_ Sink = (*csvSink)(nil)
	_ Sink = (*duckdbSink)(nil)
)

// outTable is the part of a privacy.Table a sink needs. Sinks work on it so
// that their tests can build tables without the privacy package; Write only
// ever fills it from a *privacy.Release.
type outTable struct {
	name    string
	record  arrow.RecordBatch
	groupBy []string
	metrics []privacy.MetricInfo
	k       int64 // privacy.Table.K: 0 for public partitions
	bounds  *privacy.OutputBounds
}

// column roles within an output table.
type columnRole int

const (
	roleKey columnRole = iota
	roleValue
	roleCI
)

// columnDesc describes one released column.
type columnDesc struct {
	name    string
	typ     string // VARCHAR | BIGINT | DOUBLE
	role    columnRole
	metric  int // index into outTable.metrics for roleValue and roleCI
	meaning string
}

// stagedData says where the data of one output went.
type stagedData struct {
	file  string // data file name
	table string // table inside the file (duckdb only)
	info  fileInfo
}

// formatWriter stages the data files of one format.
type formatWriter interface {
	format() string
	// stageData writes the data of every table through dir and returns, per
	// table, where it went.
	stageData(ctx context.Context, dir *atomicDir, tables []outTable, meta privacy.Metadata) ([]stagedData, error)
}

// tablesOf converts a release into the sinks' view of it.
func tablesOf(rel *privacy.Release) ([]outTable, error) {
	if rel == nil {
		return nil, errors.New("release: must not be nil")
	}
	ts := rel.Tables()
	out := make([]outTable, len(ts))
	for i, t := range ts {
		out[i] = outTable{name: t.Name(), record: t.Record(), groupBy: t.GroupBy(), metrics: t.Metrics(), k: t.K(), bounds: t.Bounds()}
	}
	return out, nil
}

// writeRelease validates tables, stages their data with fw and a manifest per
// table, and commits the whole set atomically into dir.
func writeRelease(ctx context.Context, fw formatWriter, tables []outTable, meta privacy.Metadata, dir string, ops fsOps) ([]WrittenFile, error) {
	if meta.ID == "" {
		return nil, errors.New("release: id must not be empty")
	}
	descs, err := validateTables(tables)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("write release: %w", err)
	}
	ad, err := newAtomicDir(dir, ops)
	if err != nil {
		return nil, fmt.Errorf("write release %s: %w", meta.ID, err)
	}
	var files []WrittenFile
	err = ad.run(func() error {
		locs, err := fw.stageData(ctx, ad, tables, meta)
		if err != nil {
			return err
		}
		seen := map[string]int{}
		for i, t := range tables {
			loc := locs[i]
			rows := t.record.NumRows()
			if j, ok := seen[loc.file]; ok {
				files[j].Rows += rows
				files[j].Output = ""
			} else {
				seen[loc.file] = len(files)
				files = append(files, WrittenFile{Name: loc.file, Kind: DataFile, Output: t.name, Rows: rows, Bytes: loc.info.Bytes, SHA256: loc.info.SHA256})
			}
		}
		for i, t := range tables {
			if err := ctx.Err(); err != nil {
				return err
			}
			m := buildManifest(t, descs[i], meta, fw.format(), locs[i])
			name := t.name + ManifestSuffix
			info, err := ad.stage(name, true, m.encode)
			if err != nil {
				return err
			}
			files = append(files, WrittenFile{Name: name, Kind: ManifestFile, Output: t.name, Rows: t.record.NumRows(), Bytes: info.Bytes, SHA256: info.SHA256})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("write release %s to %s: %w", meta.ID, dir, err)
	}
	return files, nil
}

// validOutputName is what an output name must look like to be a file and a table
// name: the job's validation is stricter; this guards the file system.
var validOutputName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_-]*$`)

// validateTables checks that every table can be written: a safe, unique name,
// a record, and every column either a group-by key (VARCHAR) or a column of a
// metric (BIGINT or DOUBLE, _ci95 columns DOUBLE). It returns the column
// descriptions per table.
func validateTables(tables []outTable) ([][]columnDesc, error) {
	if len(tables) == 0 {
		return nil, errors.New("release: has no tables")
	}
	names := map[string]bool{}
	descs := make([][]columnDesc, len(tables))
	for i, t := range tables {
		if !validOutputName.MatchString(t.name) {
			return nil, fmt.Errorf("release table %d: name %q must match %s", i, t.name, validOutputName)
		}
		if names[strings.ToLower(t.name)] {
			return nil, fmt.Errorf("release table %q: name appears twice (names are case-insensitive in files and DuckDB)", t.name)
		}
		names[strings.ToLower(t.name)] = true
		if t.record == nil {
			return nil, fmt.Errorf("release table %q: has no record", t.name)
		}
		d, err := describeColumns(t)
		if err != nil {
			return nil, fmt.Errorf("release table %q: %w", t.name, err)
		}
		descs[i] = d
	}
	return descs, nil
}

func describeColumns(t outTable) ([]columnDesc, error) {
	keys := map[string]bool{}
	for _, k := range t.groupBy {
		keys[k] = true
	}
	type owner struct {
		metric int
		ci     bool
	}
	owners := map[string]owner{}
	for mi, m := range t.metrics {
		for _, c := range m.Columns {
			if _, dup := owners[c]; dup || keys[c] {
				return nil, fmt.Errorf("column %q: claimed twice by the release description", c)
			}
			owners[c] = owner{metric: mi, ci: strings.HasSuffix(c, ciSuffix)}
		}
	}
	schema := t.record.Schema()
	if schema.NumFields() != len(keys)+len(owners) {
		return nil, fmt.Errorf("has %d columns, the release describes %d (%d group-by, %d metric)",
			schema.NumFields(), len(keys)+len(owners), len(keys), len(owners))
	}
	out := make([]columnDesc, schema.NumFields())
	for i, f := range schema.Fields() {
		d := columnDesc{name: f.Name}
		switch f.Type.ID() {
		case arrow.STRING:
			d.typ = "VARCHAR"
		case arrow.INT64:
			d.typ = "BIGINT"
		case arrow.FLOAT64:
			d.typ = "DOUBLE"
		default:
			return nil, fmt.Errorf("column %q: type %s is not one of utf8, int64, float64", f.Name, f.Type)
		}
		if i < len(t.groupBy) {
			if f.Name != t.groupBy[i] {
				return nil, fmt.Errorf("column %d: %q, want group-by column %q (keys come first, in order)", i, f.Name, t.groupBy[i])
			}
			if d.typ != "VARCHAR" {
				return nil, fmt.Errorf("group-by column %q: type %s must be utf8", f.Name, f.Type)
			}
			d.role = roleKey
			d.meaning = "group-by key"
			out[i] = d
			continue
		}
		o, ok := owners[f.Name]
		if !ok {
			return nil, fmt.Errorf("column %q: is neither a group-by key nor a column of a released metric", f.Name)
		}
		m := t.metrics[o.metric]
		d.metric = o.metric
		if o.ci {
			if d.typ != "DOUBLE" {
				return nil, fmt.Errorf("column %q: type %s must be float64", f.Name, f.Type)
			}
			d.role = roleCI
			d.meaning = privacy.CIMeaning(f.Name, m.Bias)
		} else {
			if d.typ == "VARCHAR" {
				return nil, fmt.Errorf("column %q: type %s must be int64 or float64", f.Name, f.Type)
			}
			d.role = roleValue
			d.meaning = privacy.ColumnMeaning(m.Kind, m.Name, f.Name)
			if m.Consistency != "" {
				d.meaning += "; made consistent by post-processing: " + m.Consistency
			}
		}
		out[i] = d
	}
	return out, nil
}

const ciSuffix = privacy.CISuffix
