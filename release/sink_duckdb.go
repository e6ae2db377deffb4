package release

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/duckdb/duckdb-go/v2"

	"github.com/privagg/privagg/internal/duckarrow"
	"github.com/privagg/privagg/internal/sqlq"
	"github.com/privagg/privagg/privacy"
)

// duckdbSink writes one DuckDB database, <dir>/releases.duckdb, holding one
// table per output (named as the output, rows in the release's order, with
// table and column comments), plus <dir>/<output>.manifest.json per output.
// The database is built under a temporary name and renamed into place, so it
// replaces any previous releases.duckdb in dir as a whole.
type duckdbSink struct {
	ops fsOps
}

func (s *duckdbSink) format() string { return FormatDuckDB }

// Write implements Sink.
func (s *duckdbSink) Write(ctx context.Context, rel *privacy.Release, dir string) ([]WrittenFile, error) {
	tables, err := tablesOf(rel)
	if err != nil {
		return nil, err
	}
	return writeRelease(ctx, s, tables, rel.Metadata(), dir, opsOrDefault(s.ops))
}

func (s *duckdbSink) stageData(ctx context.Context, dir *atomicDir, tables []outTable, meta privacy.Metadata) ([]stagedData, error) {
	info, err := dir.stageExternal(DuckDBFileName, func(tmp string) error {
		return writeDuckDB(ctx, tmp, tables, meta)
	})
	if err != nil {
		return nil, err
	}
	locs := make([]stagedData, len(tables))
	for i, t := range tables {
		locs[i] = stagedData{file: DuckDBFileName, table: t.name, info: info}
	}
	return locs, nil
}

// writeDuckDB creates a new database at path with one table per output.
func writeDuckDB(ctx context.Context, path string, tables []outTable, meta privacy.Metadata) (err error) {
	connector, err := duckdb.NewConnector(path, nil)
	if err != nil {
		return fmt.Errorf("open duckdb: %w", err)
	}
	defer func() {
		if cerr := connector.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close duckdb: %w", cerr)
		}
	}()
	conn, err := connector.Connect(ctx)
	if err != nil {
		return fmt.Errorf("connect duckdb: %w", err)
	}
	defer func() {
		if cerr := conn.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close duckdb: %w", cerr)
		}
	}()
	exec, ok := conn.(driver.ExecerContext)
	if !ok {
		return errors.New("duckdb connection cannot execute statements")
	}
	ar, err := duckarrow.Open(conn)
	if err != nil {
		return fmt.Errorf("duckdb arrow: %w", err)
	}
	for i, t := range tables {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := createDuckDBTable(ctx, exec, ar, fmt.Sprintf("__privagg_src_%d", i), t, meta); err != nil {
			return fmt.Errorf("table %s: %w", t.name, err)
		}
	}
	if _, err := exec.ExecContext(ctx, "CHECKPOINT", nil); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

func createDuckDBTable(ctx context.Context, exec driver.ExecerContext, ar duckarrow.Conn, view string, t outTable, meta privacy.Metadata) error {
	reader, err := array.NewRecordReader(t.record.Schema(), []arrow.RecordBatch{t.record})
	if err != nil {
		return err
	}
	defer reader.Release()
	release, err := ar.RegisterView(reader, view)
	if err != nil {
		return fmt.Errorf("register arrow view: %w", err)
	}
	defer release()
	partitions, note := t.partitions()
	stmts := []string{
		fmt.Sprintf("CREATE TABLE %s AS SELECT * FROM %s", sqlq.Ident(t.name), sqlq.Ident(view)),
		fmt.Sprintf("DROP VIEW IF EXISTS %s", sqlq.Ident(view)),
		fmt.Sprintf("COMMENT ON TABLE %s IS %s", sqlq.Ident(t.name), sqlq.String(fmt.Sprintf(
			"%s %s (job %s, dataset %s, purpose %s; epsilon %g, delta %g, noise %s, k %d, partitions %s). %s",
			ReleaseDescription, meta.ID, meta.Job, meta.Dataset, meta.Purpose,
			meta.Epsilon, meta.Delta, meta.Noise, t.k, partitions, note))),
	}
	descs, err := describeColumns(t)
	if err != nil {
		return err
	}
	for _, d := range descs {
		stmts = append(stmts, fmt.Sprintf("COMMENT ON COLUMN %s.%s IS %s", sqlq.Ident(t.name), sqlq.Ident(d.name), sqlq.String(d.meaning)))
	}
	for _, q := range stmts {
		if _, err := exec.ExecContext(ctx, q, nil); err != nil {
			return err
		}
	}
	return nil
}

// duckdbIdent quotes a SQL identifier.

// duckdbLiteral quotes a SQL string literal.
