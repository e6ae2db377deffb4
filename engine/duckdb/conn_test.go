package duckdb

import (
	"context"
	"database/sql"
	"testing"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/privagg/privagg/internal/sqlq"
	"github.com/privagg/privagg/job"
)

// TestMemoryLimitAgreesWithDuckDB: every memory limit job.CheckMemoryLimit
// accepts (in a job file or in --memory-limit) is one DuckDB accepts, and
// OpenDB takes it; what DuckDB refuses, the rule refuses before any data is
// read. The rule may be stricter than DuckDB (it refuses 0GB, -1 and none).
func TestMemoryLimitAgreesWithDuckDB(t *testing.T) {
	ctx := context.Background()
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		t.Fatal(err)
	}
	raw := sql.OpenDB(connector)
	defer raw.Close()
	raw.SetMaxOpenConns(1)
	for _, s := range []string{
		"4GB", "4G", "4g", "512MiB", "512M", "1.5 GB", " 2TB ", "3T", "100KB", "100K", "64KiB", "1.GB", ".5GB",
		"2 gigabytes", "80%", "80", "4Gi", "4PB", "4 GBs", "GB", "1,5GB", "99999999999999GB",
	} {
		_, duckErr := raw.ExecContext(ctx, "SET memory_limit = "+sqlq.String(s))
		ruleErr := job.CheckMemoryLimit(s)
		if ruleErr == nil && duckErr != nil {
			t.Errorf("%q: the rule accepts what DuckDB refuses: %v", s, duckErr)
		}
		if duckErr != nil {
			continue
		}
		if ruleErr == nil {
			db, err := OpenDB(ctx, DBOptions{MemoryLimit: s})
			if err != nil {
				t.Errorf("OpenDB(%q): %v", s, err)
				continue
			}
			db.Close()
		}
		if _, err := raw.ExecContext(ctx, "RESET memory_limit"); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []string{"80%", "4Gi", "lots"} {
		if _, err := OpenDB(ctx, DBOptions{MemoryLimit: s}); err == nil {
			t.Errorf("OpenDB(%q) = nil error, want the memory limit rule", s)
		}
	}
}
