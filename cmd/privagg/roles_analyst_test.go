package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	duckdb "github.com/privagg/privagg/engine/duckdb"
	"github.com/privagg/privagg/release"
)

func TestRoleAnalystQueriesPublishedFolderOnly(t *testing.T) {
	needRoot(t)
	base := sharedTempDir(t)
	ledgerDir := roleDir(t, base, "ledger", officersGID)
	pubDir := roleDir(t, base, "published", analystsGID)
	ledger := publishTwoIn(t, ledgerDir, pubDir)
	checkRoleModes(t, pubDir)
	csvDir, parquetDir := filepath.Join(pubDir, "out_csv"), filepath.Join(pubDir, "out_parquet")

	analyst := cliRun{user: &cliUser{groups: []uint32{analystsGID}}}
	code, stdout, stderr := analyst.privagg(t, "query", "--from", parquetDir, "SELECT count(*) AS n FROM by_channel")
	if code != 0 || stdout != "n\n4\n" {
		t.Fatalf("analyst query --from: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = analyst.privagg(t, "query", "--from", csvDir, "--from", parquetDir, "--tables")
	for _, want := range []string{"by_channel      r2", "by_channel__r1  r1", "by_channel__r2  r2"} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("analyst query --tables: exit %d, lacks %q\n%s%s", code, want, stdout, stderr)
		}
	}
	code, stdout, stderr = analyst.privagg(t, "query", "--from", csvDir, "--from", parquetDir, "--format", "json",
		"SELECT count(*) AS n FROM by_channel__r1 a JOIN by_channel__r2 b USING (campaign, channel)")
	if code != 0 || !strings.Contains(stdout, `"n": 4`) {
		t.Errorf("analyst query across folders: exit %d\n%s%s", code, stdout, stderr)
	}

	// The ledger is not the analyst's to read.
	code, _, stderr = analyst.privagg(t, "--ledger", ledger, "query", "SELECT 1")
	wantPermissionDenied(t, "analyst query --ledger", code, stderr, "read")
	code, _, stderr = analyst.privagg(t, "--ledger", ledger, "releases", "list")
	wantPermissionDenied(t, "analyst releases list", code, stderr, "read")
	// Nor is a published folder of another group.
	code, _, stderr = cliRun{user: &cliUser{}}.privagg(t, "query", "--from", parquetDir, "SELECT 1")
	wantPermissionDenied(t, "outsider query --from", code, stderr, "read")

	// One project file for every role: the analyst's query reads the
	// published folders it names, since the ledger is not theirs to read;
	// the officer's reads the ledger.
	writeFile(t, filepath.Join(base, "privagg.yaml"),
		"version: 1\nledger: ledger/privagg-ledger.duckdb\npublished: [published/out_csv, published/out_parquet]\n")
	env := []string{"PRIVAGG_PROJECT=", "PRIVAGG_LEDGER="}
	analyst = cliRun{dir: base, env: env, user: analyst.user}
	code, stdout, stderr = analyst.privagg(t, "query", "--tables")
	if code != 0 || !strings.Contains(stdout, "by_channel__r1") || !strings.Contains(stdout, "by_channel__r2") {
		t.Errorf("analyst query in the project: exit %d\n%s%s", code, stdout, stderr)
	}
	code, _, stderr = analyst.privagg(t, "budget", "show")
	wantPermissionDenied(t, "analyst budget show in the project", code, stderr, "read")
	officer := cliRun{dir: filepath.Join(base, "ledger"), env: env, user: &cliUser{groups: []uint32{officersGID}}}
	code, stdout, stderr = officer.privagg(t, "budget", "show", "cmd_events", "--format", "json")
	if code != 0 || !strings.Contains(stdout, `"epsilon_spent": 2`) {
		t.Errorf("officer budget show in the project: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestQueryFromChecksFiles: --from reads only what its manifests describe,
// byte for byte, and refuses symlinks.
func TestQueryFromChecksFiles(t *testing.T) {
	dir, ledger := publishTwo(t)
	csvDir, parquetDir := filepath.Join(dir, "out_csv"), filepath.Join(dir, "out_parquet")
	code, stdout, stderr := cli(t, "query", "--from", csvDir, "--from", parquetDir, "--format", "csv",
		"SELECT count(*) AS n FROM by_channel__r1 JOIN by_channel__r2 USING (campaign, channel)")
	if code != 0 || stdout != "n\n4\n" {
		t.Fatalf("query --from: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"with --ledger", []string{"--ledger", ledger, "query", "--from", csvDir, "SELECT 1"}, 2, "--from and --ledger"},
		{"no such folder", []string{"query", "--from", filepath.Join(dir, "nope"), "SELECT 1"}, 2, "no such folder"},
		{"raw input unreachable", []string{"query", "--from", csvDir, "SELECT * FROM '" + filepath.Join(dir, "events.csv") + "'"}, 2, "files cannot be read"},
	} {
		code, _, stderr := cli(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, %q; want exit %d and %q", tc.name, code, stderr, tc.code, tc.want)
		}
	}

	// A symlinked folder, manifest or data file is refused.
	link := filepath.Join(dir, "link")
	if err := os.Symlink(parquetDir, link); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := cli(t, "query", "--from", link, "SELECT 1"); code != 1 || !strings.Contains(stderr, "symlink") {
		t.Errorf("symlinked folder: exit %d, %s", code, stderr)
	}
	data := filepath.Join(parquetDir, "by_channel.parquet")
	if err := os.Rename(data, data+".moved"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "privagg-releases", "r2", "by_channel.parquet"), data); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := cli(t, "query", "--from", parquetDir, "SELECT 1"); code != 1 || !strings.Contains(stderr, "symlink") {
		t.Errorf("symlinked data file: exit %d, %s", code, stderr)
	}
	os.Remove(data)
	if err := os.Rename(data+".moved", data); err != nil {
		t.Fatal(err)
	}

	// A data file that is not what its manifest describes is refused.
	f, err := os.OpenFile(filepath.Join(csvDir, "by_channel.csv"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("cmp_z,email,1,1,1,1\n")
	f.Close()
	if code, _, stderr := cli(t, "query", "--from", csvDir, "SELECT 1"); code != 1 || !strings.Contains(stderr, "sha256") {
		t.Errorf("changed data file: exit %d, %s", code, stderr)
	}
}

// plantDuckDBView makes a folder that looks like a published DuckDB-format
// release whose by_channel table is a view over read_csv(secret), its
// manifest's sha256 rewritten to match (audit 2, M1): what someone who may
// write a published folder can make. The manifest is the parquet release
// r2's of publishTwo, edited.
func plantDuckDBView(t *testing.T, parquetDir, secret string) string {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "pubx")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "releases.duckdb")
	eng, err := duckdb.OpenDB(ctx, duckdb.DBOptions{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"ATTACH '" + data + "' AS x",
		"CREATE VIEW x.by_channel AS SELECT * FROM read_csv('" + secret + "')",
		"DETACH x",
	} {
		if err := eng.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	eng.Close()
	raw, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	b, err := os.ReadFile(filepath.Join(parquetDir, "by_channel"+release.ManifestSuffix))
	if err != nil || json.Unmarshal(b, &m) != nil {
		t.Fatalf("read manifest: %v", err)
	}
	sum := sha256.Sum256(raw)
	m["release_id"], m["format"], m["file"], m["table"] = "evil1", "duckdb", "releases.duckdb", "by_channel"
	m["sha256"], m["bytes"] = hex.EncodeToString(sum[:]), len(raw)
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "by_channel"+release.ManifestSuffix), string(b))
	return dir
}

// TestFromRefusesDuckDBView (audit 2, M1): query --from and serve --from
// refuse a DuckDB-format published folder whose table is a view over a
// private file; the file's values reach neither stdout, nor stderr, nor a
// page.
func TestFromRefusesDuckDBView(t *testing.T) {
	dir, _ := publishTwo(t)
	secret := filepath.Join(t.TempDir(), "raw.csv")
	if err := os.WriteFile(secret, []byte("email,ssn\nalice@example.com,123-45-6789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pubx := plantDuckDBView(t, filepath.Join(dir, "out_parquet"), secret)
	code, stdout, stderr := cli(t, "query", "--from", pubx, "--format", "csv", "SELECT * FROM by_channel")
	if code != 1 || !strings.Contains(stderr, "holds a view") || strings.Contains(stdout+stderr, "123-45-6789") {
		t.Errorf("query --from a folder with a view: exit %d, want 1 and %q\n%s%s", code, "holds a view", stdout, stderr)
	}
	const token = "a-token-of-twenty-chars"
	base := startServe(t, []string{"PRIVAGG_SERVE_TOKEN=" + token}, "--from", pubx).base
	for _, path := range []string{"/", "/releases/evil1"} {
		code, b := httpGet(t, base+path, "Authorization", "Bearer "+token)
		if strings.Contains(b, "123-45-6789") || strings.Contains(b, "alice@") {
			t.Errorf("serve --from a folder with a view: GET %s (%d) shows the private file\n%s", path, code, b)
		}
		if path != "/" && !strings.Contains(b, "holds a view") {
			t.Errorf("serve --from a folder with a view: GET %s (%d) does not say why nothing is shown\n%s", path, code, b)
		}
	}
}
