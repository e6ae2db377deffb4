package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/privagg/privagg/catalog"
	"github.com/privagg/privagg/privacy"
)

func init() { register(newQueryCmd) }

func newQueryCmd(g *globals) *cobra.Command {
	var (
		format, out string
		list        bool
	)
	cmd := &cobra.Command{
		Use:   `query "SQL" [--format table|csv|json|parquet] [--out FILE]`,
		Short: "Run SQL over the published releases, and nothing else",
		Long: `Run one read-only SQL query (SELECT, WITH, VALUES, TABLE, FROM, DESCRIBE,
SHOW <table>, SUMMARIZE) in an in-memory DuckDB whose only tables are the
published releases of the ledger (--ledger, else PRIVAGG_LEDGER, else
./privagg-ledger.duckdb), copied from the release store:
  <output>               the latest published release of each output
  <output>__<release>    every published release (release id with characters
                         other than letters, digits and _ replaced by _)
List them with --tables. Nothing else is reachable: files, table functions
(read_csv, read_parquet, glob, ...), COPY, ATTACH, INSTALL/LOAD, EXPORT, PRAGMA,
SET and any DDL or DML are refused (exit 2), and DuckDB's external access is
disabled before the query runs.

Output: an aligned table on a terminal, else CSV (--format table|csv|json|parquet).
With --out FILE the result is written atomically to FILE; the default format is
then taken from its extension (.csv, .json, .parquet; else csv).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if list {
				return cobra.NoArgs(cmd, args)
			}
			if len(args) != 1 {
				return usageError{fmt.Errorf("query: want exactly one SQL argument (quote it), got %d", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := queryFormat(format, out, g.stdout)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			led, err := privacy.OpenLedger(ledgerPath(g, ""), privacy.WithReadOnly())
			if err != nil {
				return err
			}
			cat, err := catalog.Load(ctx, led)
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
	return cmd
}

// queryErr makes a refused or invalid query a usage error (exit 2).
func queryErr(err error) error {
	var qe *catalog.QueryError
	if errors.As(err, &qe) {
		return usageError{err}
	}
	return err
}

// queryFormat resolves --format: explicit, else from --out's extension,
// else table on a terminal and csv otherwise. Parquet needs --out.
func queryFormat(format, out string, stdout io.Writer) (catalog.Format, error) {
	if format == "" {
		switch ext := strings.ToLower(filepath.Ext(out)); {
		case out != "" && (ext == ".json" || ext == ".parquet"):
			format = ext[1:]
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
	if f == catalog.FormatParquet && out == "" {
		return "", usageError{errors.New("--format parquet: requires --out FILE")}
	}
	return f, nil
}

func queryTables(w io.Writer, tables []catalog.QueryTable) error {
	if len(tables) == 0 {
		_, err := fmt.Fprintln(w, "no published releases in the ledger")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tRELEASE ID\tOUTPUT\tROWS\tLATEST")
	for _, t := range tables {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%v\n", t.Name, t.ReleaseID, t.Table.Output, t.Table.Rows, t.Table.Latest)
	}
	return tw.Flush()
}
