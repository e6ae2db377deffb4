package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/privagg/privagg/internal/sqlq"
	"github.com/privagg/privagg/release"
)

// Loading released tables into a DB. A published folder may be writable by
// someone other than the account that runs privagg query or serve, so its
// files are hostile input that only their recorded hash vouches for:
//
//   - each data file is hashed and copied, from one descriptor opened
//     without following symlinks, into a private folder (0700) made for the
//     DB; DuckDB reads that copy, never the published path again (so nothing
//     beside it, such as a planted releases.duckdb.wal, is read either);
//   - before DuckDB opens any copy, external access is switched off, with
//     the copies as the only files it may still read;
//   - a DuckDB file may hold base tables only: a view, a macro, a column
//     default or a generated column (SQL that would run when the table is
//     read) is refused before anything of the file is read.

// stageFiles copies the data file of every table of tables into a new
// private folder, checking each copy against its manifest's sha256, and
// then switches external access off with the copies as the only readable
// files. It records the copies in db.copies (data file path -> copy).
func (db *DB) stageFiles(ctx context.Context, tables []QueryTable) error {
	dir, err := os.MkdirTemp("", "privagg-query-")
	if err != nil {
		return fmt.Errorf("private folder for the released tables: %w", err)
	}
	db.stageDir = dir
	db.copies = map[string]string{}
	var allowed []string
	for _, qt := range tables {
		t := qt.Table
		if _, ok := db.copies[stageKey(t)]; ok {
			continue // another table of the same DuckDB file
		}
		dst := filepath.Join(dir, fmt.Sprintf("%d%s", len(db.copies), filepath.Ext(t.Path)))
		if err := copyVerified(t.Path, t.sha256, dst); err != nil {
			return fmt.Errorf("load table %s of release %s: %w", qt.Name, qt.ReleaseID, err)
		}
		db.copies[stageKey(t)] = dst
		// DuckDB looks for a write-ahead log beside a database it
		// attaches; in the private folder there is none.
		allowed = append(allowed, sqlq.String(dst), sqlq.String(dst+".wal"))
	}
	var settings []string
	if len(allowed) > 0 {
		// allowed_paths cannot be changed once external access is off.
		settings = append(settings, "SET allowed_paths = ["+strings.Join(allowed, ", ")+"]")
	}
	settings = append(settings, "SET enable_external_access = false")
	for _, s := range settings {
		if err := db.eng.Exec(ctx, s); err != nil {
			return fmt.Errorf("lock down query engine: %w", err)
		}
	}
	return nil
}

// stageKey identifies a verified copy: a data file with the hash a manifest
// recorded for it.
func stageKey(t Table) string { return t.Path + "\x00" + t.sha256 }

// unstage removes the copies, keeping the (empty) private folder until the
// DB is closed, so that no one else can put a file at a path DuckDB may
// still read.
func (db *DB) unstage() error {
	var errs []error
	for _, c := range db.copies {
		if err := os.Remove(c); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	db.copies = nil
	return errors.Join(errs...)
}

// copyVerified copies the data file at src to the new file dst (mode 0600)
// from one descriptor, which must not be a symlink, and checks that the
// bytes copied have the SHA-256 want that its manifest recorded, so that a
// query reads exactly what was released. On error dst is removed.
func copyVerified(src, want, dst string) (err error) {
	in, err := openNoFollow(src)
	if err != nil {
		return &release.IntegrityError{Path: src, Reason: "cannot be read: " + err.Error()}
	}
	defer in.Close()
	if st, err := in.Stat(); err != nil || !st.Mode().IsRegular() {
		return &release.IntegrityError{Path: src, Reason: "is not a regular file"}
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	defer func() {
		if cerr := out.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("copy %s: %w", src, cerr)
		}
		if err != nil {
			os.Remove(dst)
		}
	}()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(out, h), in); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return &release.IntegrityError{Path: src, Reason: fmt.Sprintf("has sha256 %s, its manifest records %s: the release store was changed after the release", got, want)}
	}
	return nil
}

// load copies one released table, from its verified copy, into a TEMP
// table.
func (db *DB) load(ctx context.Context, qt QueryTable) error {
	t := qt.Table
	path, ok := db.copies[stageKey(t)]
	if !ok {
		return fmt.Errorf("data file %s was not staged", t.Path)
	}
	create := "CREATE TEMP TABLE " + sqlq.Ident(qt.Name) + " AS SELECT * FROM "
	switch t.Format {
	case release.FormatParquet:
		return db.eng.Exec(ctx, create+"read_parquet("+sqlq.String(path)+")")
	case release.FormatCSV:
		cols := make([]string, len(t.columns))
		for i, c := range t.columns {
			if !slices.Contains([]string{"VARCHAR", "BIGINT", "DOUBLE"}, c.Type) {
				return fmt.Errorf("manifest %s: column %s: type %q must be VARCHAR, BIGINT or DOUBLE", t.ManifestPath, c.Name, c.Type)
			}
			cols[i] = sqlq.String(c.Name) + ": " + sqlq.String(c.Type)
		}
		// The csv sink writes NULL as an empty field and the empty string
		// as "", so quoted empty fields are not NULL.
		return db.eng.Exec(ctx, create+fmt.Sprintf("read_csv(%s, header = true, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "+
			"allow_quoted_nulls = false, columns = {%s})", sqlq.String(path), strings.Join(cols, ", ")))
	case release.FormatDuckDB:
		const alias = "__privagg_release"
		if err := db.eng.Exec(ctx, fmt.Sprintf("ATTACH %s AS %s (READ_ONLY)", sqlq.String(path), alias)); err != nil {
			return err
		}
		err := db.checkBaseTable(ctx, alias, t)
		if err == nil {
			err = db.eng.Exec(ctx, create+alias+"."+sqlq.Ident(t.DuckDBTable))
		}
		return errors.Join(err, db.eng.Exec(ctx, "DETACH "+alias))
	default:
		return fmt.Errorf("manifest %s: format %q must be parquet, csv or duckdb", t.ManifestPath, t.Format)
	}
}

// checkBaseTable refuses a DuckDB data file, attached as alias, that holds
// anything a release's DuckDB file does not: it must hold t.DuckDBTable as a
// base table, and no view or macro; the table's columns have no default and
// are not generated. Nothing of the file runs before this check passes (its
// catalog is read, not evaluated).
func (db *DB) checkBaseTable(ctx context.Context, alias string, t Table) error {
	holds := func(what string) error {
		return &release.IntegrityError{Path: t.Path, Reason: "holds " + what + ": a release's DuckDB file holds base tables only, so it was not written by privagg"}
	}
	count := func(sql string, args ...any) (int64, error) {
		rows, err := db.eng.QueryRows(ctx, sql, args...)
		if err != nil {
			return 0, err
		}
		if len(rows) != 1 || len(rows[0]) != 1 {
			return 0, errors.New("catalog check: no result")
		}
		n, _ := rows[0][0].(int64)
		return n, nil
	}
	for _, c := range []struct{ what, sql string }{
		{"a view", "SELECT count(*) FROM duckdb_views() WHERE database_name = ? AND NOT internal"},
		{"a macro", "SELECT count(*) FROM duckdb_functions() WHERE database_name = ? AND function_type IN ('macro', 'table_macro')"},
		{"a column default or generated column", "SELECT count(*) FROM duckdb_columns() WHERE database_name = ? AND column_default IS NOT NULL"},
	} {
		n, err := count(c.sql, alias)
		if err != nil {
			return fmt.Errorf("check data file %s: %w", t.Path, err)
		}
		if n > 0 {
			return holds(c.what)
		}
	}
	n, err := count("SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main' AND table_name = ?", alias, t.DuckDBTable)
	if err != nil {
		return fmt.Errorf("check data file %s: %w", t.Path, err)
	}
	if n != 1 {
		return &release.IntegrityError{Path: t.Path, Reason: fmt.Sprintf("has no table %q, which its manifest %s names", t.DuckDBTable, t.ManifestPath)}
	}
	return nil
}
