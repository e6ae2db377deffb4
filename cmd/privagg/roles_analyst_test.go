package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
