package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privagg/privagg/internal/sqlq"
	"github.com/privagg/privagg/release"

	duckdb "github.com/privagg/privagg/engine/duckdb"
)

// secretCSV stands for a file only the account running privagg may read.
const secretCSV = "email,ssn\nalice@example.com,123-45-6789\n"

// rewriteDuckDB runs stmts on the DuckDB data file of the published folder
// dir (as someone who may write the folder could) and rewrites the sha256
// and bytes of every manifest naming the file to match, so that only the
// content of the file tells it from a release.
func rewriteDuckDB(t *testing.T, dir, file string, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(dir, file)
	eng, err := duckdb.OpenDB(ctx, duckdb.DBOptions{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if err := eng.Exec(ctx, "ATTACH "+sqlq.String(path)+" AS planted"); err != nil {
		t.Fatal(err)
	}
	for _, s := range append([]string{"USE planted"}, stmts...) {
		if err := eng.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	for _, s := range []string{"USE memory", "DETACH planted"} {
		if err := eng.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	manifests, _ := filepath.Glob(filepath.Join(dir, "*"+release.ManifestSuffix))
	for _, mp := range manifests {
		raw, err := os.ReadFile(mp)
		if err != nil {
			t.Fatal(err)
		}
		var m release.Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		if m.File != file {
			continue
		}
		m.SHA256, m.Bytes = hex.EncodeToString(sum[:]), int64(len(data))
		out, err := json.Marshal(&m)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(mp, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOpenDBRefusesDuckDBObjectsThatRun (audit 2, M1): a published folder
// in DuckDB format whose table is a view over read_csv of a private file,
// with its manifests' sha256 rewritten to match, must not read that file.
// OpenDB accepts base tables only: a view, a macro, a column default or a
// generated column is refused before anything in the file runs, and the
// error quotes nothing of the private file.
func TestOpenDBRefusesDuckDBObjectsThatRun(t *testing.T) {
	t.Parallel()
	secret := filepath.Join(t.TempDir(), "raw.csv")
	if err := os.WriteFile(secret, []byte(secretCSV), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		stmts []string
		want  string
	}{
		{"view over a private file", []string{
			"DROP TABLE by_channel",
			"CREATE VIEW by_channel AS SELECT * FROM read_csv(" + sqlq.String(secret) + ")",
		}, "view"},
		{"view beside the tables", []string{
			"CREATE VIEW extra AS SELECT * FROM read_csv(" + sqlq.String(secret) + ")",
		}, "view"},
		{"macro", []string{"CREATE MACRO leak() AS TABLE SELECT * FROM read_csv(" + sqlq.String(secret) + ")"}, "macro"},
		{"column default", []string{"ALTER TABLE by_channel ALTER COLUMN campaign SET DEFAULT 'x'"}, "default"},
		{"generated column", []string{
			"DROP TABLE by_channel",
			"CREATE TABLE by_channel (campaign VARCHAR, channel VARCHAR GENERATED ALWAYS AS (campaign || 'x'))",
		}, "default"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, t.TempDir())
			f.release(t, "duckdb", true, "rel-1")
			pub := filepath.Join(f.dir, "out_duckdb")
			rewriteDuckDB(t, pub, "releases.duckdb", tc.stmts...)
			c, err := LoadPublished([]string{pub})
			if err != nil {
				t.Fatalf("LoadPublished: %v", err)
			}
			db, err := OpenDB(context.Background(), c)
			if err == nil {
				defer db.Close()
				out, _ := db.eng.QueryRows(context.Background(), "SELECT * FROM by_channel")
				t.Fatalf("OpenDB of a DuckDB file with a %s succeeded; by_channel returns %v", tc.name, out)
			}
			var ie *release.IntegrityError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("OpenDB: %v, want a *release.IntegrityError naming the %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "123-45-6789") || strings.Contains(err.Error(), secret) {
				t.Errorf("error %q quotes the private file", err)
			}
		})
	}
}

// TestOpenDBReadsOnlyTheVerifiedFile: OpenDB reads the bytes whose hash it
// checked, not the folder again. A write-ahead log planted beside a DuckDB
// data file (releases.duckdb.wal, which DuckDB replays when it opens the
// path) leaves the data file and its hash untouched; it must change
// nothing: the release's tables are read as they were published.
func TestOpenDBReadsOnlyTheVerifiedFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	secret := filepath.Join(t.TempDir(), "raw.csv")
	if err := os.WriteFile(secret, []byte(secretCSV), 0o600); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, t.TempDir())
	f.release(t, "duckdb", true, "rel-1")
	pub := filepath.Join(f.dir, "out_duckdb")
	data := filepath.Join(pub, "releases.duckdb")
	before, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	// Write the planted changes into a copy's WAL, then put that WAL beside
	// the published file.
	scratch := filepath.Join(t.TempDir(), "releases.duckdb")
	if err := os.WriteFile(scratch, before, 0o644); err != nil {
		t.Fatal(err)
	}
	eng, err := duckdb.OpenDB(ctx, duckdb.DBOptions{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"ATTACH " + sqlq.String(scratch) + " AS planted",
		"SET wal_autocheckpoint = '1TB'",
		"PRAGMA disable_checkpoint_on_shutdown",
		"DROP TABLE planted.by_channel",
		"CREATE VIEW planted.by_channel AS SELECT * FROM read_csv(" + sqlq.String(secret) + ")",
	} {
		if err := eng.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	eng.Close()
	wal, err := os.ReadFile(scratch + ".wal")
	if err != nil {
		t.Fatalf("no WAL was left: %v", err)
	}
	if err := os.WriteFile(data+".wal", wal, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadPublished([]string{pub})
	if err != nil {
		t.Fatalf("LoadPublished: %v", err)
	}
	db, err := OpenDB(ctx, c)
	if err != nil {
		t.Fatalf("OpenDB: %v", err)
	}
	defer db.Close()
	got := rows(t, db, "SELECT count(*) FROM by_channel WHERE campaign LIKE 'cmp_%'")
	if got[0][0] != int64(6) {
		t.Errorf("by_channel has %v release rows, want the 6 published ones", got[0][0])
	}
	after, err := os.ReadFile(data)
	if err != nil || string(after) != string(before) {
		t.Errorf("OpenDB changed the published data file (err %v)", err)
	}
}
