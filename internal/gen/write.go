package gen

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" driver

	"github.com/privagg/privagg/internal/progress"
	"github.com/privagg/privagg/internal/sqlq"
)

// engineSettings are passed to DuckDB before the COPY.
type engineSettings struct {
	threads     int
	memoryLimit string
	tempDir     string
}

// sqlString quotes s as a SQL string literal.

func copyOptions(format string) string {
	switch format {
	case FormatCSV:
		return "FORMAT csv, HEADER true"
	case FormatJSON:
		return "FORMAT json"
	default:
		return "FORMAT parquet"
	}
}

// openEngine opens an in-memory DuckDB and returns one connection configured
// with es. Close the connection, then the database.
func openEngine(ctx context.Context, es engineSettings) (*sql.DB, *sql.Conn, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, nil, fmt.Errorf("gen: open duckdb: %w", err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("gen: open duckdb connection: %w", err)
	}
	settings := []string{"SET preserve_insertion_order = true"}
	if es.threads > 0 {
		settings = append(settings, fmt.Sprintf("SET threads = %d", es.threads))
	}
	if es.memoryLimit != "" {
		settings = append(settings, "SET memory_limit = "+sqlq.String(es.memoryLimit))
	}
	if es.tempDir != "" {
		settings = append(settings, "SET temp_directory = "+sqlq.String(es.tempDir))
	}
	for _, s := range settings {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			conn.Close()
			db.Close()
			return nil, nil, fmt.Errorf("gen: configure duckdb (%s): %w", s, err)
		}
	}
	return db, conn, nil
}

// write runs COPY (query) TO a temporary file beside out, syncs it and renames
// it to out, telling prog the phase and the rows it writes (0: not known). On any failure no file is left behind and out is untouched.
func write(ctx context.Context, es engineSettings, query, out, format string, users int64, prog progress.Reporter, total int64) (st Stats, err error) {
	start := time.Now()
	dir := filepath.Dir(out)
	f, err := os.CreateTemp(dir, "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return Stats{}, fmt.Errorf("gen: create temporary output in %s: %w", dir, err)
	}
	tmp := f.Name()
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return Stats{}, fmt.Errorf("gen: create temporary output: %w", err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()

	db, conn, err := openEngine(ctx, es)
	if err != nil {
		return Stats{}, err
	}
	defer db.Close()
	defer conn.Close()

	stmt := fmt.Sprintf("COPY (%s) TO %s (%s)", query, sqlq.String(tmp), copyOptions(format))
	// DuckDB tells nothing while the COPY runs: the phase, and the rows
	// it writes when they are known.
	prog = progress.OrNop(prog)
	prog.Phase(progress.PhaseGenerating)
	prog.Rows(progress.RowCount{Total: total})
	res, err := conn.ExecContext(ctx, stmt)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return Stats{}, fmt.Errorf("gen: write %s: %w", out, ctxErr)
		}
		return Stats{}, fmt.Errorf("gen: write %s: %w", out, err)
	}
	rows, err := res.RowsAffected()
	if err != nil {
		return Stats{}, fmt.Errorf("gen: write %s: rows written: %w", out, err)
	}
	if err := syncFile(tmp); err != nil {
		return Stats{}, err
	}
	if err := os.Rename(tmp, out); err != nil {
		return Stats{}, fmt.Errorf("gen: rename temporary output to %s: %w", out, err)
	}
	if err := syncFile(dir); err != nil {
		return Stats{}, err
	}
	size, err := fileSize(out)
	if err != nil {
		return Stats{}, err
	}
	return Stats{Path: out, Format: format, Rows: rows, Users: users, Bytes: size, Elapsed: time.Since(start)}, nil
}

// syncFile fsyncs a file or folder.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("gen: sync %s: %w", path, err)
	}
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(serr, cerr); err != nil {
		return fmt.Errorf("gen: sync %s: %w", path, err)
	}
	return nil
}
