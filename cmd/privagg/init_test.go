package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// privagg init --from writes a starter job from a data file's columns
// (CSV, Parquet, newline-delimited JSON) that passes validate: identifier-
// like columns under identifiers, the consent column and the privacy unit
// guessed, one count_units output. It never overwrites a file (exit 2).
func TestInitFromFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	orders := write("orders.csv", "order_id,Customer_ID,email,phone_number,shipping_country,campaign_name,amount,consent_marketing\n"+
		"1,c1,a@b.c,123,DE,x,9.5,true\n2,c2,d@b.c,456,FR,y,3,false\n")
	jsonl := write("events.ndjson", `{"user_id":"u1","client_ip":"1.2.3.4","country":"DE","consent":true}`+"\n")
	parquet := filepath.Join(dir, "gen.parquet")
	if code, _, stderr := cli(t, "gen", "--events", "200", "--users", "20", "--seed", "1", "--out", parquet); code != 0 {
		t.Fatalf("gen: %s", stderr)
	}
	for _, tc := range []struct {
		from string
		want []string
	}{
		{orders, []string{`privacy_unit: "Customer_ID"`, `identifiers: ["email", "phone_number"]`, `column: "consent_marketing"`,
			`purpose: "marketing"`, `group_by: ["shipping_country"]`, "type: count_units", `path: "orders.csv"`, "max_partitions_per_unit: auto"}},
		{jsonl, []string{`privacy_unit: "user_id"`, `identifiers: ["client_ip"]`, `column: "consent"`, `group_by: ["country"]`}},
		{parquet, []string{`privacy_unit: "user_id"`, `column: "consent_marketing"`, `"email"`}},
	} {
		t.Run(filepath.Ext(tc.from), func(t *testing.T) {
			out := filepath.Join(dir, "job"+filepath.Ext(tc.from)+".yaml")
			code, stdout, stderr := cli(t, "init", out, "--from", tc.from)
			if code != 0 {
				t.Fatalf("init: exit %d: %s", code, stderr)
			}
			if !strings.Contains(stdout, "wrote "+out) {
				t.Errorf("stdout: %s", stdout)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(data), w) {
					t.Errorf("starter job lacks %q:\n%s", w, data)
				}
			}
			code, _, stderr = cli(t, "validate", out)
			if code != 0 || strings.Contains(stderr, "warning") {
				t.Errorf("validate of the starter job: exit %d:\n%s\n%s", code, stderr, data)
			}
			// Never overwritten.
			code, _, stderr = cli(t, "init", out, "--from", tc.from)
			if code != 2 || !strings.Contains(stderr, "never overwritten") {
				t.Errorf("init over an existing file: exit %d: %s", code, stderr)
			}
			if again, _ := os.ReadFile(out); string(again) != string(data) {
				t.Error("init changed an existing file")
			}
		})
	}
	for _, tc := range []struct {
		name, data string
		args       []string
		code       int
		want       string
	}{
		{"no unit", "email,country,consent\na@b.c,DE,true\n", nil, 2, "name it with --unit COLUMN"},
		{"no consent", "user_id,country\nu1,DE\n", nil, 2, "--consent COLUMN"},
		{"unknown --unit", "user_id,country,consent\nu1,DE,true\n", []string{"--unit", "uid"}, 2, `--unit: "uid" is not a column`},
		{"missing file", "", nil, 4, "cannot open"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".csv")
			if tc.data != "" {
				write(filepath.Base(from), tc.data)
			}
			out := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".yaml")
			code, _, stderr := cli(t, append([]string{"init", out, "--from", from}, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, want %d with %q: %s", code, tc.code, tc.want, stderr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("a refused init wrote the job file")
			}
		})
	}
}

// A public census extract (testdata/adult_extract.csv: the UCI Adult
// census file's columns, ";"-separated, with no person id and no consent
// column) goes from init to a published release through the binary: init
// writes the detected delimiter, privacy_unit row and the consent waiver,
// and validate and run accept the job as written. The same file with CR LF
// line breaks is read alike.
func TestInitCensusExtractToRelease(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "adult_extract.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, text string }{
		{"LF", string(data)},
		{"CRLF", strings.ReplaceAll(string(data), "\n", "\r\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			from := filepath.Join(dir, "adult.csv")
			if err := os.WriteFile(from, []byte(tc.text), 0o644); err != nil {
				t.Fatal(err)
			}
			jobFile, ledger := filepath.Join(dir, "adult.yaml"), filepath.Join(dir, "ledger.duckdb")
			code, stdout, stderr := cli(t, "init", jobFile, "--from", from, "--unit", "row", "--consent-waived", "public census extract")
			if code != 0 {
				t.Fatalf("init: exit %d: %s", code, stderr)
			}
			if !strings.Contains(stdout, "privacy unit row, consent waived") {
				t.Errorf("init's message: %s", stdout)
			}
			job, err := os.ReadFile(jobFile)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range []string{`csv: {delimiter: ";"}`, `privacy_unit: "row"`, `waived: "public census extract"`,
				`group_by: ["workclass"]`, "{name: rows, type: count_units}", "max_partitions_per_unit: 1"} {
				if !strings.Contains(string(job), w) {
					t.Errorf("starter job lacks %q:\n%s", w, job)
				}
			}
			if code, _, stderr := cli(t, "validate", jobFile); code != 0 || !strings.Contains(stderr, "consent is waived") {
				t.Fatalf("validate: exit %d: %s\n%s", code, stderr, job)
			}
			if code, _, stderr := cli(t, "--ledger", ledger, "budget", "set", "adult", "--epsilon", "1", "--delta", "1e-6", "--reason", "test"); code != 0 {
				t.Fatalf("budget set: exit %d: %s", code, stderr)
			}
			code, stdout, stderr = cli(t, "--ledger", ledger, "run", jobFile)
			if code != 0 || !strings.Contains(stdout, "published") {
				t.Fatalf("run: exit %d: %s\n%s", code, stdout, stderr)
			}
			if _, err := os.Stat(filepath.Join(dir, "out", "rows_by_workclass.csv")); err != nil {
				t.Errorf("released table: %v", err)
			}
		})
	}
}

// A CSV file the reader refuses is reported by line and kind, by init,
// validate and run alike, never with a value: one line with an extra field
// (which makes DuckDB's sniffer see a single column, so init once said
// there was no user_id column), CR LF lines in an LF file (which DuckDB
// cannot read at all), and a line with a CR in the middle (what appending a
// field with awk to a CR LF file gives). init also refuses a waiver that
// validate would refuse, and --consent with --consent-waived.
func TestInitAndRunNameTheBadLine(t *testing.T) {
	dir := t.TempDir()
	ledger := filepath.Join(dir, "l.duckdb")
	if code, _, stderr := cli(t, "--ledger", ledger, "budget", "set", "d", "--epsilon", "5", "--delta", "5e-6", "--reason", "test"); code != 0 {
		t.Fatalf("budget set: exit %d: %s", code, stderr)
	}
	for _, tc := range []struct {
		name, data string
		want       string
	}{
		{"ragged", "user_id,country,consent\nu1,DE,true\nu2,FR,s3cr3t,x\nu3,DE,true\n", "line 3: 4 fields, the header has 3"},
		{"mixed", "user_id,country,consent\nu1,DE,true\nu2,s3cr3t,false\r\n", "line 3: ends in CR LF, where the file's first line ends in LF"},
		{"cr", "user_id,country,consent\r\nu1,s3cr3t,true\r,x\n", "line 2: a carriage return (CR) inside the line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from := filepath.Join(dir, tc.name+".csv")
			if err := os.WriteFile(from, []byte(tc.data), 0o644); err != nil {
				t.Fatal(err)
			}
			jobFile := filepath.Join(dir, tc.name+".yaml")
			code, _, stderr := cli(t, "init", jobFile, "--from", from)
			if code != 4 || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "user_id") || strings.Contains(stderr, "s3cr3t") {
				t.Errorf("init: exit %d, want 4 with %q and no column or value: %s", code, tc.want, stderr)
			}
			if _, err := os.Stat(jobFile); err == nil {
				t.Fatal("a refused init wrote the job file")
			}
			if tc.name == "ragged" {
				return // validate and run name the columns: the ragged line is a malformed row (rejects.md)
			}
			job := fmt.Sprintf("version: 1\nname: j_%s\ndataset: d\npurpose: p\ninput: {path: %s}\nprivacy_unit: user_id\nconsent: {column: consent}\n"+
				"privacy: {epsilon: 1, delta: 1e-6}\noutputs: [{name: o, group_by: [country], metrics: [{name: people, type: count_units}]}]\noutput: {dir: out_%s}\n",
				tc.name, filepath.Base(from), tc.name)
			if err := os.WriteFile(jobFile, []byte(job), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"validate", jobFile}, {"run", "--dry-run", jobFile}, {"--ledger", ledger, "run", jobFile}} {
				code, _, stderr := cli(t, args...)
				if code == 0 || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "s3cr3t") || strings.Contains(stderr, "details withheld") {
					t.Errorf("%s: exit %d, want %q and no value: %s", strings.Join(args, " "), code, tc.want, stderr)
				}
			}
		})
	}
	from := filepath.Join(dir, "plain.csv")
	if err := os.WriteFile(from, []byte("user_id,country\nu1,DE\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"both consent flags", []string{"--consent", "country", "--consent-waived", "public"}, "exclude each other"},
		{"waiver of two lines", []string{"--consent-waived", "public\ndata"}, "consent.waived"},
		{"unit not a column", []string{"--unit", "person"}, "--unit row makes each row its own unit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".yaml")
			code, _, stderr := cli(t, append([]string{"init", out, "--from", from}, tc.args...)...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, want 2 with %q: %s", code, tc.want, stderr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("a refused init wrote the job file")
			}
		})
	}
}
