package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// projectTree lays out a project: privagg.yaml at root naming
// ledger/privagg-ledger.duckdb and published out/; jobs/job.yaml (no
// ledger: key) publishing to out/; and an empty folder jobs/sub.
func projectTree(t *testing.T) (root string) {
	t.Helper()
	root = t.TempDir()
	writeFile(t, filepath.Join(root, "privagg.yaml"), "version: 1\nledger: ledger/privagg-ledger.duckdb\npublished: [out/]\n")
	if err := os.Mkdir(filepath.Join(root, "ledger"), 0o755); err != nil {
		t.Fatal(err)
	}
	spec := strings.Replace(strings.Replace(runJob, "ledger: ledger.duckdb\n", "", 1), "dir: out,", "dir: ../out,", 1)
	writeFile(t, filepath.Join(root, "jobs", "job.yaml"), spec)
	writeFile(t, filepath.Join(root, "jobs", "events.csv"), "email,user_id,campaign,ok\nx@y.z,u1,a,true\nw@y.z,u2,b,true\n")
	if err := os.Mkdir(filepath.Join(root, "jobs", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

// TestProjectFileOneLedger: from a subfolder of a project, budget set, plan,
// run, releases list, budget show and query use the project's ledger with
// no flags.
func TestProjectFileOneLedger(t *testing.T) {
	root := projectTree(t)
	ledger := filepath.Join(root, "ledger", "privagg-ledger.duckdb")
	sub := cliRun{dir: filepath.Join(root, "jobs", "sub"), env: []string{"PRIVAGG_PROJECT=", "PRIVAGG_LEDGER="}}
	for _, args := range [][]string{
		{"budget", "set", "cli_events", "--epsilon", "5", "--delta", "5e-6", "--reason", "project test"},
		{"plan", "../job.yaml"},
		{"run", "../job.yaml"},
	} {
		if code, stdout, stderr := sub.privagg(t, args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, stdout, stderr)
		}
	}
	if _, err := os.Stat(ledger); err != nil {
		t.Fatalf("the project's ledger: %v", err)
	}
	for _, stray := range []string{filepath.Join(root, "jobs", "privagg-ledger.duckdb"), filepath.Join(root, "jobs", "sub", "privagg-ledger.duckdb")} {
		if _, err := os.Stat(stray); err == nil {
			t.Errorf("a second ledger appeared: %s", stray)
		}
	}
	code, stdout, stderr := sub.privagg(t, "releases", "list", "--format", "json")
	var rels []map[string]any
	if code != 0 || json.Unmarshal([]byte(stdout), &rels) != nil || len(rels) != 1 || rels[0]["state"] != "published" {
		t.Errorf("releases list: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = sub.privagg(t, "budget", "show", "cli_events", "--format", "json")
	if code != 0 || !strings.Contains(stdout, `"epsilon_spent": 1`) {
		t.Errorf("budget show: exit %d\n%s%s", code, stdout, stderr)
	}
	// Two rows, one per public campaign: the check does not depend on the noise
	// (a sum of noisy counts of 2 people is <= 0 about one run in ten).
	code, stdout, stderr = sub.privagg(t, "query", "--format", "csv", "SELECT count(*) = 2 AS ok FROM people")
	if code != 0 || stdout != "ok\ntrue\n" {
		t.Errorf("query: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = sub.privagg(t, "plan", "../job.yaml")
	if code != 0 || !strings.Contains(stdout, "ledger "+ledger) {
		t.Errorf("plan does not show the project's ledger: exit %d\n%s%s", code, stdout, stderr)
	}

	// --ledger and PRIVAGG_LEDGER still override the project file.
	other := filepath.Join(t.TempDir(), "other.duckdb")
	code, stdout, _ = sub.privagg(t, "--ledger", other, "budget", "show")
	if code != 0 || !strings.Contains(stdout, "no budgets") {
		t.Errorf("--ledger over the project: exit %d, %s", code, stdout)
	}
	envRun := cliRun{dir: sub.dir, env: []string{"PRIVAGG_PROJECT=", "PRIVAGG_LEDGER=" + other}}
	if code, stdout, _ = envRun.privagg(t, "budget", "show"); code != 0 || !strings.Contains(stdout, "no budgets") {
		t.Errorf("PRIVAGG_LEDGER over the project: exit %d, %s", code, stdout)
	}
	// --project names the file from anywhere; none turns it off.
	elsewhere := cliRun{dir: t.TempDir(), env: []string{"PRIVAGG_PROJECT=", "PRIVAGG_LEDGER="}}
	if code, stdout, stderr = elsewhere.privagg(t, "--project", root, "budget", "show", "cli_events"); code != 0 || !strings.Contains(stdout, "cli_events") {
		t.Errorf("--project DIR: exit %d\n%s%s", code, stdout, stderr)
	}
	envProject := cliRun{dir: elsewhere.dir, env: []string{"PRIVAGG_PROJECT=" + filepath.Join(root, "privagg.yaml"), "PRIVAGG_LEDGER="}}
	if code, stdout, stderr = envProject.privagg(t, "releases", "list", "--wide"); code != 0 || !strings.Contains(stdout, "people=") {
		t.Errorf("PRIVAGG_PROJECT=FILE: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, _, stderr = sub.privagg(t, "--project", "none", "budget", "set", "d", "--epsilon", "1", "--reason", "x"); code != 2 || !strings.Contains(stderr, "no privagg.yaml") {
		t.Errorf("--project none: exit %d, %s", code, stderr)
	}
}

// TestProjectJobLedgerConflict: a job whose ledger: names another ledger
// than its project's is refused, naming both; the same ledger spelled
// differently is not a conflict.
func TestProjectJobLedgerConflict(t *testing.T) {
	root := projectTree(t)
	jobs := filepath.Join(root, "jobs")
	spec, err := os.ReadFile(filepath.Join(jobs, "job.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(jobs, "other.yaml"), string(spec)+"ledger: own.duckdb\n")
	writeFile(t, filepath.Join(jobs, "same.yaml"), string(spec)+"ledger: ./../ledger/privagg-ledger.duckdb\n")
	c := cliRun{dir: jobs, env: []string{"PRIVAGG_PROJECT=", "PRIVAGG_LEDGER="}}
	if code, _, stderr := c.privagg(t, "budget", "set", "cli_events", "--epsilon", "5", "--delta", "5e-6", "--reason", "test"); code != 0 {
		t.Fatal(stderr)
	}
	for _, cmd := range []string{"run", "plan"} {
		code, _, stderr := c.privagg(t, cmd, "other.yaml")
		if code != 2 || !strings.Contains(stderr, filepath.Join(jobs, "own.duckdb")) ||
			!strings.Contains(stderr, filepath.Join(root, "ledger", "privagg-ledger.duckdb")) {
			t.Errorf("%s with a conflicting ledger: exit %d, %s", cmd, code, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(jobs, "own.duckdb")); err == nil {
		t.Error("the refused job created its own ledger")
	}
	if code, _, stderr := c.privagg(t, "plan", "same.yaml"); code != 0 {
		t.Errorf("plan with the same ledger spelled differently: exit %d, %s", code, stderr)
	}
	// --ledger overrides both: no conflict.
	if code, _, stderr := c.privagg(t, "--ledger", filepath.Join(root, "ledger", "privagg-ledger.duckdb"), "plan", "other.yaml"); code != 0 {
		t.Errorf("plan --ledger: exit %d, %s", code, stderr)
	}
}

func TestProjectFileStrict(t *testing.T) {
	for _, tc := range []struct{ name, file, want string }{
		{"unknown key", "version: 1\nledger: l.duckdb\nledgr: x\n", "ledgr is not a project file key"},
		{"no version", "ledger: l.duckdb\n", "version: is required"},
		{"version 2", "version: 2\nledger: l.duckdb\n", "version: 2 is not supported"},
		{"empty", "", "is empty"},
		{"nothing named", "version: 1\n", "names neither a ledger"},
		{"empty ledger", "version: 1\nledger: ''\n", "ledger: must not be empty"},
		{"not yaml", "version: [1\n", "project file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "privagg.yaml"), tc.file)
			c := cliRun{dir: dir, env: []string{"PRIVAGG_PROJECT=", "PRIVAGG_LEDGER="}}
			code, _, stderr := c.privagg(t, "budget", "show")
			if code != 2 || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, filepath.Join(dir, "privagg.yaml")) {
				t.Errorf("exit %d, %q; want exit 2 and %q", code, stderr, tc.want)
			}
		})
	}
}

// TestProjectPublishedOnly: an analysts' project file names published
// folders only; query reads them with no flags, and ledger commands say the
// project has no ledger.
func TestProjectPublishedOnly(t *testing.T) {
	dir, _ := publishTwo(t)
	analysts := t.TempDir()
	writeFile(t, filepath.Join(analysts, "privagg.yaml"), "version: 1\npublished:\n  - "+filepath.Join(dir, "out_csv")+"\n  - "+filepath.Join(dir, "out_parquet")+"\n")
	c := cliRun{dir: analysts, env: []string{"PRIVAGG_PROJECT=", "PRIVAGG_LEDGER="}}
	code, stdout, stderr := c.privagg(t, "query", "--tables")
	if code != 0 || !strings.Contains(stdout, "by_channel__r1") || !strings.Contains(stdout, "by_channel__r2") {
		t.Errorf("query --tables in an analysts' project: exit %d\n%s%s", code, stdout, stderr)
	}
	code, _, stderr = c.privagg(t, "budget", "show")
	if code != 2 || !strings.Contains(stderr, "names no ledger") {
		t.Errorf("budget show in an analysts' project: exit %d, %s", code, stderr)
	}
}

// TestExampleJobAgreesWithDemoProject: configs/example.yaml names the ledger
// that `make demo`'s project file does, so that the demo's run is not
// refused as a second ledger.
func TestExampleJobAgreesWithDemoProject(t *testing.T) {
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	var demo, ledger string
	for _, line := range strings.Split(string(mk), "\n") {
		if v, ok := strings.CutPrefix(line, "DEMO := "); ok {
			demo = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "LEDGER := "); ok {
			ledger = strings.ReplaceAll(strings.TrimSpace(v), "$(DEMO)", demo)
		}
	}
	if ledger == "" || !strings.Contains(string(mk), "ledger: $(LEDGER)") {
		t.Fatal("the Makefile no longer writes privagg.yaml with ledger: $(LEDGER)")
	}
	root, _ := filepath.Abs("../..")
	example, err := os.ReadFile("../../configs/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	own, ok := jobFileLedger("../../configs/example.yaml", example)
	if want := filepath.Join(root, ledger); !ok || own != want {
		t.Errorf("configs/example.yaml ledger: %q, the demo project's is %q", own, want)
	}
}
