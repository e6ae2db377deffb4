package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/privagg/privagg/catalog"
)

func init() { register(newQueryCmd) }

func newQueryCmd(g *globals) *cobra.Command {
	var (
		format, out string
		list        bool
		from        []string
	)
	cmd := &cobra.Command{
		Use: `query "SQL" [--from DIR]... [--format table|csv|json|parquet] [--out FILE]`,
		Example: `  privagg query --tables
  privagg query "SELECT * FROM campaign_weekly ORDER BY campaign, week LIMIT 12"
  privagg query --from /shared/published "SELECT * FROM audience" --out audience.parquet
  privagg query --format json "DESCRIBE campaign_value"`,
		Short: "Run SQL over the published releases, and nothing else",
		Long: `Run one read-only SQL query (SELECT, WITH, VALUES, TABLE, FROM, DESCRIBE,
SHOW <table>, SUMMARIZE) in an in-memory DuckDB whose only tables are the
published releases of the ledger (--ledger, else PRIVAGG_LEDGER, else the
project file's ledger:, else ./privagg-ledger.duckdb), copied from the
release store:
  <output>               the latest release of each output: the one last
                         published (or re-published) into its output folder
  <output>__<release>    every published release (release id with characters
                         other than letters, digits and _ replaced by _)
List them with --tables.

--from DIR (repeatable) reads the published output folders DIR instead, and
nothing else (no ledger, no release store): for analysts who may read only
those. Its tables are the releases published there, named the same way: the
latest at the top of each folder, earlier ones from its history/ subfolder.
Symlinks are refused; each data file must have the sha256 of its manifest.
Without --from or --ledger, a query reads the project file's published:
folders when the project names no ledger or this user may not read it. Nothing else is reachable: files, table functions
(read_csv, read_parquet, glob, ...), COPY, ATTACH, INSTALL/LOAD, EXPORT, PRAGMA,
SET and any DDL or DML are refused (exit 2), and DuckDB's external access is
disabled before the query runs.

Output: an aligned table on a terminal, else CSV (--format table|csv|json|parquet).
With --out FILE the result is written atomically to FILE; the default format is
then taken from its extension (.csv, .json, .parquet, .txt for a table; csv for a
name without one). Any other extension, or one that disagrees with --format, is
refused (exit 2).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if list {
				return tooManyArgs(cmd, args, nil)
			}
			if len(args) == 0 {
				return usageError{fmt.Errorf("%s: missing SQL: one query, quoted (usage: %s)", cmd.CommandPath(), cmd.UseLine())}
			}
			return tooManyArgs(cmd, args, []string{"SQL (quote it)"})
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := queryFormat(format, out, g.stdout)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			cat, err := queryCatalog(cmd, g, from)
			if err != nil {
				return err
			}
			db, err := catalog.OpenDB(ctx, cat)
			if err != nil {
				return err
			}
			defer db.Close()
			for _, w := range db.Warnings() {
				g.logger.Warn(w)
			}
			if list {
				return queryTables(g.stdout, db.Tables())
			}
			rr, err := db.Query(ctx, args[0])
			if err != nil {
				return queryErr(err)
			}
			defer rr.Release()
			if out != "" {
				return queryErr(catalog.WriteResultFile(ctx, out, rr, f))
			}
			return queryErr(catalog.WriteResult(ctx, g.stdout, rr, f))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&format, "format", "", "output format: table | csv | json | parquet (default: table on a terminal, else csv; with --out, from its extension)")
	fl.StringVar(&out, "out", "", "write the result to FILE (atomically) instead of stdout")
	fl.BoolVar(&list, "tables", false, "list the tables a query can read, and exit")
	fl.StringArrayVar(&from, "from", nil, "read the published output folder DIR instead of the ledger (repeatable)")
	return cmd
}

// queryCatalog is the catalog a query reads: the published folders of
// --from, else the ledger's published releases (read-only).
func queryCatalog(cmd *cobra.Command, g *globals, from []string) (*catalog.Catalog, error) {
	if len(from) == 0 {
		published, err := publishedFallback(g)
		if err != nil {
			return nil, err
		}
		if len(published) > 0 {
			return catalog.LoadPublished(published)
		}
		led, err := openReadOnly(g)
		if err != nil {
			return nil, err
		}
		return catalog.Load(cmd.Context(), led)
	}
	if g.ledger != "" {
		return nil, usageError{errors.New("--from and --ledger: a query reads either published folders or a ledger's releases, not both")}
	}
	for _, d := range from {
		if _, err := os.Lstat(d); errors.Is(err, fs.ErrNotExist) {
			return nil, usageError{fmt.Errorf("--from %s: no such folder", d)}
		}
	}
	return catalog.LoadPublished(from)
}

// queryErr makes a refused or invalid query a usage error (exit 2).
func queryErr(err error) error {
	var qe *catalog.QueryError
	if errors.As(err, &qe) {
		return usageError{err}
	}
	return err
}

// outFormats are the extensions query --out writes, and their format.
var outFormats = map[string]catalog.Format{
	".csv": catalog.FormatCSV, ".json": catalog.FormatJSON, ".parquet": catalog.FormatParquet, ".txt": catalog.FormatTable,
}

// queryFormat resolves --format: explicit, else from --out's extension,
// else table on a terminal and csv otherwise. Parquet needs --out. An --out
// extension must be one query writes (.csv, .json, .parquet, .txt) and agree
// with an explicit --format; a name without an extension takes --format, else
// csv.
func queryFormat(format, out string, stdout io.Writer) (catalog.Format, error) {
	ext := strings.ToLower(filepath.Ext(out))
	fromExt, known := outFormats[ext]
	if ext != "" && !known {
		return "", usageError{fmt.Errorf("--out %s: %s is not a format query writes: use .csv, .json, .parquet or .txt (a table)", out, ext)}
	}
	if format == "" {
		switch {
		case out != "" && known:
			format = string(fromExt)
		case out != "":
			format = string(catalog.FormatCSV)
		case isTerminal(stdout):
			format = string(catalog.FormatTable)
		default:
			format = string(catalog.FormatCSV)
		}
	}
	f, err := catalog.ParseFormat(format)
	if err != nil {
		return "", usageError{fmt.Errorf("--format: %w", err)}
	}
	if known && f != fromExt {
		return "", usageError{fmt.Errorf("--out %s: extension %s does not match --format %s", out, ext, f)}
	}
	if f == catalog.FormatParquet && out == "" {
		return "", usageError{errors.New("--format parquet: requires --out FILE")}
	}
	return f, nil
}

func queryTables(w io.Writer, tables []catalog.QueryTable) error {
	if len(tables) == 0 {
		_, err := fmt.Fprintln(w, "no published tables")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tRELEASE ID\tOUTPUT\tROWS\tLATEST\tBOUNDS")
	for _, t := range tables {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%v\t%s\n", t.Name, t.ReleaseID, t.Table.Output, t.Table.Rows, t.Table.Latest, orDash(boundsSummary(t.Table)))
	}
	return tw.Flush()
}
