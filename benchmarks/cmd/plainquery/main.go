// Command plainquery runs the non-private yardstick of the benchmark: the
// plain GROUP BY of the benchmark job over the same file, in the same
// embedded DuckDB, with the same threads and memory settings as privagg.
//
//	plainquery --input events.parquet [--shape campaign_weekly] [--threads N] [--memory-limit 4GB] [--temp-dir DIR]
//
// It prints one JSON line: {"groups":..., "elapsed_ms":..., "duckdb":"v1.5.5"}.
// The consent filter of the job (WHERE consent_marketing) is applied here
// too, so both sides aggregate the same rows (per row: the generator's
// consent values are the same on every row of a person). A .csv input is
// read with read_csv's defaults (its sniffer).
package main

import (
	"github.com/privagg/privagg/internal/sqlq"

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

// shapes are the plain aggregates, one per benchmark job shape: the keys of
// the job with count(*), count(DISTINCT privacy unit) and sum(measure), and
// the consent column the job reads. %[1]s is the reader, %[2]s the WHERE
// clause.
var shapes = map[string]struct{ query, consent string }{
	// benchmarks/job.yaml
	"campaign_weekly": {`SELECT campaign, channel, date_trunc('week', ts) AS week,
  count(*) AS events, count(DISTINCT user_id) AS people, sum(revenue) AS revenue
FROM %[1]s
%[2]s
GROUP BY ALL`, "consent_marketing"},
	// benchmarks/job_csv.yaml
	"type_country_weekly": {`SELECT event_type, country, date_trunc('week', ts) AS week,
  count(*) AS events, count(DISTINCT user_id) AS people, sum(revenue) AS revenue
FROM %[1]s
%[2]s
GROUP BY ALL`, "consent_analytics"},
}

// reader is DuckDB's reader of path with its defaults: read_csv for a .csv
// file, read_parquet otherwise.
func reader(path string) string {
	if strings.HasSuffix(strings.ToLower(path), ".csv") {
		return "read_csv(" + sqlq.String(path) + ")"
	}
	return "read_parquet(" + sqlq.String(path) + ")"
}

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

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("plainquery", flag.ContinueOnError)
	input := fs.String("input", "", "Parquet or CSV (.csv) file or glob (required)")
	shapeName := fs.String("shape", "campaign_weekly", "the job shape: campaign_weekly or type_country_weekly")
	threads := fs.Int("threads", 0, "DuckDB threads (0 = all cores)")
	memoryLimit := fs.String("memory-limit", "", "DuckDB memory limit, e.g. 4GB")
	tempDir := fs.String("temp-dir", "", "DuckDB spill folder")
	consent := fs.String("consent-column", "", "boolean column rows must have true (default: the shape's; none: no filter)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	shape, ok := shapes[*shapeName]
	if !ok {
		return fmt.Errorf("--shape: %q must be campaign_weekly or type_country_weekly", *shapeName)
	}
	switch *consent {
	case "":
		*consent = shape.consent
	case "none":
		*consent = ""
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
		where = "WHERE " + sqlq.Ident(*consent)
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
		settings = append(settings, "SET memory_limit = "+sqlq.String(*memoryLimit))
	}
	if *tempDir != "" {
		settings = append(settings, "SET temp_directory = "+sqlq.String(*tempDir))
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
	rows, err := conn.QueryContext(ctx, fmt.Sprintf(shape.query, reader(*input), where))
	if err != nil {
		return fmt.Errorf("plain query: %w", err)
	}
	defer rows.Close()
	var (
		key1, key2     string
		week           time.Time
		events, people int64
		revenue        sql.NullFloat64
	)
	for rows.Next() { // the result is small (one row per partition)
		if err := rows.Scan(&key1, &key2, &week, &events, &people, &revenue); err != nil {
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
