// Package duckdb is privagg's embedded engine: DuckDB reads the declared
// columns, filters consent, derives columns, bounds each person's
// contributions and computes per-partition statistics in SQL (sqlplan.go);
// the results come back as Arrow batches for the privacy package to noise.
// DB (conn.go) is the one in-memory database and connection a job uses; the
// analyst catalog opens one too.
package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"runtime"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/duckdb/duckdb-go/v2"

	"github.com/privagg/privagg/internal/duckarrow"
	"github.com/privagg/privagg/internal/sqlq"
	"github.com/privagg/privagg/job"
)

// DBOptions configures the engine. The zero value uses all cores and DuckDB's
// default memory limit (80% of RAM).
type DBOptions struct {
	// MemoryLimit caps DuckDB's memory, e.g. "4GB"; see job.CheckMemoryLimit.
	// Optional. Beyond it DuckDB spills to TempDir.
	MemoryLimit string
	// TempDir is the spill folder. Optional; DuckDB's default is used when empty.
	TempDir string
	// Threads is the number of worker threads. Optional; 0 means all cores.
	Threads int
}

// DB is one DuckDB database with one connection. It is not safe for
// concurrent use.
type DB struct {
	db    *sql.DB
	conn  *sql.Conn
	arrow duckarrow.Conn
}

// OpenDB starts an in-memory DuckDB with opts.
func OpenDB(ctx context.Context, opts DBOptions) (*DB, error) {
	if opts.MemoryLimit != "" {
		if err := job.CheckMemoryLimit(opts.MemoryLimit); err != nil {
			return nil, fmt.Errorf("open engine: memory limit %q: %w", opts.MemoryLimit, err)
		}
	}
	if opts.Threads < 0 {
		return nil, fmt.Errorf("open engine: threads %d must be >= 0", opts.Threads)
	}
	threads := opts.Threads
	if threads == 0 {
		threads = runtime.NumCPU()
	}
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		return nil, fmt.Errorf("open engine: %w", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open engine: %w", err)
	}
	e := &DB{db: db, conn: conn}
	settings := []string{
		fmt.Sprintf("SET threads = %d", threads),
		"SET preserve_insertion_order = false",
		"SET enable_progress_bar = false",
		"SET autoinstall_known_extensions = false",
		"SET autoload_known_extensions = false",
		"SET TimeZone = 'UTC'", // derived time columns are UTC
	}
	if opts.MemoryLimit != "" {
		settings = append(settings, "SET memory_limit = "+sqlq.String(opts.MemoryLimit))
	}
	if opts.TempDir != "" {
		settings = append(settings, "SET temp_directory = "+sqlq.String(opts.TempDir))
	}
	for _, s := range settings {
		if err := e.Exec(ctx, s); err != nil {
			e.Close()
			return nil, fmt.Errorf("open engine: %w", err)
		}
	}
	// The Arrow handle keeps the driver connection beyond Raw. That is sound
	// here: the DB owns the *sql.Conn exclusively until Close, so the
	// driver connection is neither shared nor returned to the pool.
	err = conn.Raw(func(dc any) error {
		var err error
		e.arrow, err = duckarrow.Open(dc.(driver.Conn))
		return err
	})
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("open engine: %w", err)
	}
	return e, nil
}

// Conn is the connection, e.g. to register scalar functions.
func (e *DB) Conn() *sql.Conn { return e.conn }

// Exec runs statements that return no rows.
func (e *DB) Exec(ctx context.Context, query string, args ...any) error {
	_, err := e.conn.ExecContext(ctx, query, args...)
	return err
}

// QueryArrow runs a query and streams its result as Arrow record batches. The
// caller must Release the reader.
func (e *DB) QueryArrow(ctx context.Context, query string, args ...any) (array.RecordReader, error) {
	return e.arrow.QueryContext(ctx, query, args...)
}

// RegisterArrow registers reader as a view named name. A view of an Arrow
// stream can be scanned once only: copy it into a table, drop the view, then
// call free, which releases the stream.
func (e *DB) RegisterArrow(reader array.RecordReader, name string) (free func(), err error) {
	return e.arrow.RegisterView(reader, name)
}

// QueryRows runs a small query and returns all rows as Go values.
func (e *DB) QueryRows(ctx context.Context, query string, args ...any) ([][]any, error) {
	rows, err := e.conn.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, vals)
	}
	return out, rows.Err()
}

// Close closes the connection and the database.
func (e *DB) Close() error {
	return errors.Join(e.conn.Close(), e.db.Close())
}
