// Command plainquery runs the non-private yardstick of the benchmark: the
// plain GROUP BY of the benchmark job over the same file, in the same
// embedded DuckDB, with the same threads and memory settings as privagg.
//
//	plainquery --input events.parquet [--threads N] [--memory-limit 4GB] [--temp-dir DIR]
//
// It prints one JSON line: {"groups":..., "elapsed_ms":..., "duckdb":"v1.5.5"}.
// The consent filter of the job (WHERE consent_marketing) is applied here
// too, so both sides aggregate the same rows.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
)

// Query is the plain aggregate: the keys of benchmarks/job.yaml with
// count(*), count(DISTINCT privacy unit) and sum(measure).
const Query = `SELECT campaign, channel, date_trunc('week', ts) AS week,
  count(*) AS events, count(DISTINCT user_id) AS people, sum(revenue) AS revenue
FROM read_parquet(%s)
%s
GROUP BY ALL`

type result struct {
	Groups    int64  `json:"groups"`
	ElapsedMS int64  `json:"elapsed_ms"`
	DuckDB    string `json:"duckdb"`
}

var memoryLimitRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB|%)$`)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "plainquery: %v\n", err)
		os.Exit(1)
	}
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("plainquery", flag.ContinueOnError)
	input := fs.String("input", "", "Parquet file or glob (required)")
	threads := fs.Int("threads", 0, "DuckDB threads (0 = all cores)")
	memoryLimit := fs.String("memory-limit", "", "DuckDB memory limit, e.g. 4GB")
	tempDir := fs.String("temp-dir", "", "DuckDB spill folder")
	consent := fs.String("consent-column", "consent_marketing", "boolean column rows must have true (empty: no filter)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *input == "" {
		return errors.New("--input: must be set")
	}
	if *memoryLimit != "" && !memoryLimitRE.MatchString(*memoryLimit) {
		return fmt.Errorf("--memory-limit: %q must be a size like 4GB", *memoryLimit)
	}
	if *threads < 0 {
		return fmt.Errorf("--threads: %d must be >= 0", *threads)
	}
	where := ""
	if *consent != "" {
		where = `WHERE "` + strings.ReplaceAll(*consent, `"`, `""`) + `"`
	}

	ctx := context.Background()
	start := time.Now()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return fmt.Errorf("open duckdb: %w", err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("open duckdb connection: %w", err)
	}
	defer conn.Close()
	var settings []string
	if *threads > 0 {
		settings = append(settings, fmt.Sprintf("SET threads = %d", *threads))
	}
	if *memoryLimit != "" {
		settings = append(settings, "SET memory_limit = "+sqlString(*memoryLimit))
	}
	if *tempDir != "" {
		settings = append(settings, "SET temp_directory = "+sqlString(*tempDir))
	}
	for _, s := range settings {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	var res result
	if err := conn.QueryRowContext(ctx, "SELECT version()").Scan(&res.DuckDB); err != nil {
		return fmt.Errorf("duckdb version: %w", err)
	}
	rows, err := conn.QueryContext(ctx, fmt.Sprintf(Query, sqlString(*input), where))
	if err != nil {
		return fmt.Errorf("plain query: %w", err)
	}
	defer rows.Close()
	var (
		campaign, channel string
		week              time.Time
		events, people    int64
		revenue           sql.NullFloat64
	)
	for rows.Next() { // the result is small (one row per partition)
		if err := rows.Scan(&campaign, &channel, &week, &events, &people, &revenue); err != nil {
			return fmt.Errorf("plain query: %w", err)
		}
		res.Groups++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("plain query: %w", err)
	}
	res.ElapsedMS = time.Since(start).Milliseconds()
	return json.NewEncoder(stdout).Encode(res)
}
