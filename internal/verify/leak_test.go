package verify

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2" // database/sql driver "duckdb", to read the staging file

	"github.com/privagg/privagg/engine/duckdb"
	"github.com/privagg/privagg/pipeline"
)

const (
	keyEnv = "PRIVAGG_VERIFY_PSEUDONYM_KEY"
	// testKey is a pseudonym key used only by this test.
	testKey = "verify-suite-key-9d1c7be04f3a2e58a6b1c0d9e8f7a6b5"
)

// TestVerifyLeakScanWithStaging runs a job with staging (so pseudonyms
// exist) and all logs captured at debug level, twice (the second run
// re-publishes), then scans output.dir, every manifest and report in the
// release store, the internal run reports and every log line for the
// input's emails, phones, ips and person ids, for every pseudonym in the
// staging file, and for the pseudonym key: zero hits.
func TestVerifyLeakScanWithStaging(t *testing.T) {
	t.Setenv(keyEnv, testKey)
	good, err := os.ReadFile(filepath.Join("testdata", "badinput", "good.csv"))
	if err != nil {
		t.Fatal(err)
	}
	job := newJob(t, jobSetup{format: "csv", input: good, extra: "staging:\n  path: staging/events.parquet\n  pseudonym_key_env: " + keyEnv + "\n  key_version: v7\n"})
	var logs logBuffer
	ctx := context.Background()
	for range 2 {
		if _, err := pipeline.Run(ctx, job, pipeline.RunOptions{NewEngine: duckdb.Factory(duckdb.Options{}), Logger: logs.logger()}); err != nil {
			t.Fatal(err)
		}
	}
	pseudonyms := readPseudonyms(t, job.Staging.Path, job.PrivacyUnit+"_pseudonym")
	if len(pseudonyms) == 0 {
		t.Fatal("the staging file holds no pseudonyms: nothing to scan for")
	}
	secrets := append(corpusSecrets(), pseudonyms...)
	secrets = append(secrets, testKey, hex.EncodeToString([]byte(testKey)), base64.StdEncoding.EncodeToString([]byte(testKey)))
	files := leakScan(t, job, logs.Bytes(), secrets)
	if logs.Len() == 0 {
		t.Error("no log lines were captured: the scan would prove nothing")
	}
	t.Logf("scanned %d files and %d log bytes for %d secrets", files, logs.Len(), len(secrets))
	if err := Write(Record{Section: "leak", Check: "ids, pseudonyms, key in files + logs (staging run)",
		Path: "pipeline.Run", Trials: files, Pass: !t.Failed()}); err != nil {
		t.Error(err)
	}
}

// readPseudonyms returns the distinct values of column col in a Parquet file.
func readPseudonyms(t *testing.T, path, col string) []string {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT DISTINCT CAST("` + col + `" AS VARCHAR) FROM read_parquet('` + path + `')`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s sql.NullString
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		if s.Valid {
			out = append(out, s.String)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
