package catalog

import (
	"github.com/privagg/privagg/internal/sqlq"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/duckdb/duckdb-go/v2"

	duckengine "github.com/privagg/privagg/engine/duckdb"
)

// QueryError is an analyst's query that privagg refuses to run (Refused:
// it is not one read-only query over the released tables) or that DuckDB
// rejects as invalid (syntax, unknown column, bad cast, ...). The privagg
// command exits 2 on it.
type QueryError struct {
	Refused bool
	Reason  string
	Err     error // DuckDB's error, if any
}

func (e *QueryError) Error() string {
	msg := "query"
	if e.Refused {
		msg = "query refused"
	}
	msg += ": " + e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *QueryError) Unwrap() error { return e.Err }

func refuse(format string, a ...any) *QueryError {
	return &QueryError{Refused: true, Reason: fmt.Sprintf(format, a...)}
}

// DB is an in-memory DuckDB whose only tables are the published releases of
// a catalog, copied into memory (see load.go); it cannot reach any file but
// private copies of the verified data files while loading them, and none
// after (external access is disabled and the configuration locked). It is
// not safe for concurrent use.
type DB struct {
	eng      *duckengine.DB
	tables   []QueryTable
	allowed  map[string]bool // lower-case table names
	warnings []string
	stageDir string            // private folder of the verified copies
	copies   map[string]string // stageKey -> verified copy, while loading
}

// OpenDB loads every table of c's published releases into a new in-memory
// DuckDB (see Catalog.QueryTables for the names) and locks it down. Each data
// file must have the SHA-256 its manifest recorded, and a DuckDB data file
// must hold base tables only (see load.go). A published release whose
// store cannot be read is left out, with a warning (see Warnings); one
// whose store differs from the hashes the ledger recorded, or holds a
// symlink, makes OpenDB fail with a *release.IntegrityError.
func OpenDB(ctx context.Context, c *Catalog) (_ *DB, err error) {
	eng, err := duckengine.OpenDB(ctx, duckengine.DBOptions{Threads: 1})
	if err != nil {
		return nil, err
	}
	db := &DB{eng: eng, allowed: map[string]bool{}}
	defer func() {
		if err != nil {
			db.Close()
		}
	}()
	if len(c.Published) > 0 {
		// No publication changes the folders while their tables load.
		unlock, err := lockShared(c.Published)
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	for _, r := range c.Releases {
		if r.Published() && r.integrity != nil {
			return nil, fmt.Errorf("release %s: %w", r.ReleaseID, r.integrity)
		}
		if r.Published() && r.Problem != "" {
			db.warnings = append(db.warnings, fmt.Sprintf("release %s is left out: %s", r.ReleaseID, r.Problem))
		}
	}
	var tables []QueryTable
	for _, qt := range c.QueryTables() {
		if qt.Name == qt.Table.QueryName {
			tables = append(tables, qt) // not the latest-release alias, created below
		}
	}
	// External access is off from here on: only the verified copies can be
	// read.
	if err := db.stageFiles(ctx, tables); err != nil {
		return nil, err
	}
	for _, qt := range tables {
		if err := db.load(ctx, qt); err != nil {
			return nil, fmt.Errorf("load table %s of release %s: %w", qt.Name, qt.ReleaseID, err)
		}
		db.add(qt)
	}
	if err := db.unstage(); err != nil {
		return nil, fmt.Errorf("remove the copies of the released tables: %w", err)
	}
	for _, qt := range c.QueryTables() {
		if qt.Name == qt.Table.QueryName {
			continue
		}
		if db.allowed[strings.ToLower(qt.Name)] {
			db.warnings = append(db.warnings, fmt.Sprintf("output %s: the name is taken by another table; use %s", qt.Name, qt.Table.QueryName))
			continue
		}
		if err := eng.Exec(ctx, fmt.Sprintf("CREATE TEMP VIEW %s AS SELECT * FROM %s", sqlq.Ident(qt.Name), sqlq.Ident(qt.Table.QueryName))); err != nil {
			return nil, fmt.Errorf("create view %s: %w", qt.Name, err)
		}
		db.add(qt)
	}
	if err := db.createMacros(ctx); err != nil {
		return nil, err
	}
	// The settings cannot be changed back.
	if err := eng.Exec(ctx, "SET lock_configuration = true"); err != nil {
		return nil, fmt.Errorf("lock down query engine: %w", err)
	}
	return db, nil
}

func (db *DB) add(qt QueryTable) {
	db.allowed[strings.ToLower(qt.Name)] = true
	db.tables = append(db.tables, qt)
}

// Tables are the tables a query can read, sorted by name.
func (db *DB) Tables() []QueryTable {
	out := slices.Clone(db.tables)
	slices.SortFunc(out, func(a, b QueryTable) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Warnings are the published releases OpenDB had to leave out, and why.
func (db *DB) Warnings() []string { return db.warnings }

// Close frees the database and removes its private folder.
func (db *DB) Close() error {
	err := db.eng.Close()
	if db.stageDir != "" {
		err = errors.Join(err, os.RemoveAll(db.stageDir))
	}
	return err
}

// Query checks sql (see Check) and runs it. The caller must Release the
// reader; an error while reading it is best passed through QueryErr.
func (db *DB) Query(ctx context.Context, sql string) (array.RecordReader, error) {
	if err := db.Check(ctx, sql); err != nil {
		return nil, err
	}
	rr, err := db.eng.QueryArrow(ctx, sql)
	if err != nil {
		return nil, QueryErr(err)
	}
	return rr, nil
}

// QueryErr turns a DuckDB error about the analyst's SQL (syntax, binding,
// casts, division by zero, ...) into a *QueryError; other errors pass
// unchanged.
func QueryErr(err error) error {
	var de *duckdb.Error
	if err == nil || !errors.As(err, &de) {
		return err
	}
	switch de.Type {
	case duckdb.ErrorTypeParser, duckdb.ErrorTypeSyntax, duckdb.ErrorTypeBinder, duckdb.ErrorTypeCatalog,
		duckdb.ErrorTypeConversion, duckdb.ErrorTypeMismatchType, duckdb.ErrorTypeInvalidType,
		duckdb.ErrorTypeDivideByZero, duckdb.ErrorTypeOutOfRange, duckdb.ErrorTypeInvalidInput,
		duckdb.ErrorTypeNotImplemented, duckdb.ErrorTypePermission, duckdb.ErrorTypeParameterNotResolved:
		return &QueryError{Reason: "invalid SQL", Err: err}
	}
	return err
}

// Check refuses, before anything runs, every statement but one read-only
// query over the released tables. It asks DuckDB's own parser for the
// statement's syntax tree (json_serialize_sql, which accepts SELECT, WITH,
// VALUES, TABLE, FROM, DESCRIBE, SHOW and SUMMARIZE queries only) and walks
// it: every table reference must name a released table (or a CTE of the
// query), unqualified; table functions (read_csv, read_parquet, glob, ...)
// and file paths in FROM are refused.
func (db *DB) Check(ctx context.Context, sql string) error {
	if strings.TrimSpace(sql) == "" {
		return refuse("the query is empty")
	}
	rows, err := db.eng.QueryRows(ctx, "SELECT json_serialize_sql(?::VARCHAR)::VARCHAR", sql)
	if err != nil {
		return fmt.Errorf("parse query: %w", err)
	}
	var ast struct {
		Error        bool              `json:"error"`
		ErrorType    string            `json:"error_type"`
		ErrorMessage string            `json:"error_message"`
		Statements   []json.RawMessage `json:"statements"`
	}
	if len(rows) != 1 || len(rows[0]) != 1 {
		return errors.New("parse query: no result")
	}
	text, _ := rows[0][0].(string)
	if err := json.Unmarshal([]byte(text), &ast); err != nil {
		return fmt.Errorf("parse query: %w", err)
	}
	if ast.Error {
		if ast.ErrorType == "parser" {
			return &QueryError{Reason: "syntax error: " + ast.ErrorMessage}
		}
		return refuseKind(sql)
	}
	if len(ast.Statements) == 0 {
		return refuse("the query is empty")
	}
	if len(ast.Statements) != 1 {
		return refuse("%d statements: run one query at a time", len(ast.Statements))
	}
	var tree any
	if err := json.Unmarshal(ast.Statements[0], &tree); err != nil {
		return fmt.Errorf("parse query: %w", err)
	}
	return db.walk(tree, nil)
}

var plainIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// walk checks every table reference in the syntax tree n. scope holds the
// (lower-case) names of the CTEs visible at n: a name is trusted as a CTE
// only where SQL's scoping makes it one, since out of its scope DuckDB
// resolves the same name in the catalog (duckdb_tables, pg_settings) or as
// a file. A query node's CTEs are visible in its body and in the CTEs
// defined after them; a CTE sees itself only when it is recursive, and then
// in its recursive part only, not in its anchor. A name that looks like a
// path is never trusted as a CTE. current_setting() is refused.
func (db *DB) walk(n any, scope map[string]bool) error {
	switch v := n.(type) {
	case map[string]any:
		if cm, ok := v["cte_map"].(map[string]any); ok {
			var err error
			if scope, err = db.walkCTEs(cm, scope); err != nil {
				return err
			}
		}
		switch v["type"] {
		case "TABLE_FUNCTION":
			name := "?"
			if f, ok := v["function"].(map[string]any); ok {
				name, _ = f["function_name"].(string)
			}
			return refuse("table function %s() is not allowed: only the released tables can be read (FROM <table>; see privagg query --tables)", name)
		case "BASE_TABLE":
			if err := db.checkTable(v, scope); err != nil {
				return err
			}
		case "SHOW_REF":
			if v["query"] == nil {
				return refuse("SHOW of the database's catalog is not supported: list the tables with privagg query --tables; DESCRIBE <table> and SUMMARIZE <table> work")
			}
		case "FUNCTION":
			if name, _ := v["function_name"].(string); strings.EqualFold(name, "current_setting") {
				return refuse("current_setting() is not allowed: the engine's settings name this machine's folders, and are not released data")
			}
		}
		// A recursive CTE sees itself in its recursive part (right) only: in
		// its anchor (left), its name is the catalog's.
		inner := scope
		if v["type"] == "RECURSIVE_CTE_NODE" {
			name, _ := v["cte_name"].(string)
			inner = withCTE(scope, name)
		}
		for k, c := range v {
			s := inner
			switch k {
			case "cte_map":
				continue // walked by walkCTEs
			case "left":
				s = scope
			}
			if err := db.walk(c, s); err != nil {
				return err
			}
		}
	case []any:
		for _, c := range v {
			if err := db.walk(c, scope); err != nil {
				return err
			}
		}
	}
	return nil
}

// walkCTEs walks the CTE definitions of a query node (its cte_map), each
// with the CTEs defined before it in scope, and returns the scope of the
// node's body: scope and all of the node's CTEs.
func (db *DB) walkCTEs(cm map[string]any, scope map[string]bool) (map[string]bool, error) {
	entries, _ := cm["map"].([]any)
	for _, e := range entries {
		em, _ := e.(map[string]any)
		if err := db.walk(em["value"], scope); err != nil {
			return nil, err
		}
		name, _ := em["key"].(string)
		scope = withCTE(scope, name)
	}
	return scope, nil
}

// withCTE returns scope with the CTE name added (scope is not changed),
// or scope itself for a name that is not a plain identifier.
func withCTE(scope map[string]bool, name string) map[string]bool {
	if !plainIdent.MatchString(name) {
		return scope
	}
	out := make(map[string]bool, len(scope)+1)
	for k := range scope {
		out[k] = true
	}
	out[strings.ToLower(name)] = true
	return out
}

func (db *DB) checkTable(v map[string]any, ctes map[string]bool) error {
	name, _ := v["table_name"].(string)
	schema, _ := v["schema_name"].(string)
	cat, _ := v["catalog_name"].(string)
	if schema != "" || cat != "" {
		return refuse("table %s is qualified with a schema or database: only the released tables can be read, by their plain names (see privagg query --tables)",
			strings.Trim(strings.Join([]string{cat, schema, name}, "."), "."))
	}
	lower := strings.ToLower(name)
	if db.allowed[lower] || ctes[lower] {
		return nil
	}
	if strings.ContainsAny(name, "/\\.:") {
		return refuse("%q is not a released table: files cannot be read, only the released tables (see privagg query --tables)", name)
	}
	return refuse("%s is not a released table (see privagg query --tables or privagg releases list)", name)
}

// refuseKind names the kind of a statement json_serialize_sql does not
// accept, from its first keyword.
func refuseKind(sql string) error {
	kw := strings.ToUpper(firstWord(sql))
	why := ""
	switch kw {
	case "COPY":
		why = "it reads or writes files"
	case "ATTACH", "DETACH", "USE":
		why = "it attaches or switches databases"
	case "INSTALL", "LOAD", "FORCE", "UPDATE_EXTENSIONS":
		why = "it installs or loads extensions"
	case "EXPORT", "IMPORT":
		why = "it exports or imports a database to or from files"
	case "PRAGMA":
		why = "PRAGMA statements read settings, files or the catalog"
	case "SET", "RESET":
		why = "it changes settings"
	case "CALL":
		why = "it calls a table function"
	case "CREATE", "DROP", "ALTER", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "COMMENT", "MERGE", "UPSERT", "VACUUM", "CHECKPOINT", "ANALYZE":
		why = "the released tables are read-only"
	case "BEGIN", "COMMIT", "ROLLBACK", "ABORT", "START", "END", "PREPARE", "EXECUTE", "DEALLOCATE":
		why = "transactions and prepared statements are not needed to read the released tables"
	case "SELECT", "WITH", "VALUES", "TABLE", "FROM", "(":
		return refuse("only one read-only query is allowed, and the text holds another kind of statement after or inside it")
	case "":
		return refuse("the query is empty")
	default:
		why = "it is not a read-only query"
	}
	return refuse("%s is not allowed (%s): privagg query runs one SELECT, WITH, VALUES, TABLE, FROM, DESCRIBE, SHOW or SUMMARIZE query over the released tables", kw, why)
}

// firstWord is the first keyword of sql, after whitespace and comments; "("
// if it starts with a parenthesis.
func firstWord(sql string) string {
	s := sql
	for {
		s = strings.TrimLeft(s, " \t\r\n\f;")
		switch {
		case strings.HasPrefix(s, "--"):
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				return ""
			}
			s = s[i+1:]
		case strings.HasPrefix(s, "/*"):
			i := strings.Index(s, "*/")
			if i < 0 {
				return ""
			}
			s = s[i+2:]
		case strings.HasPrefix(s, "("):
			return "("
		default:
			end := strings.IndexFunc(s, func(r rune) bool {
				return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_')
			})
			if end < 0 {
				end = len(s)
			}
			return s[:end]
		}
	}
}
