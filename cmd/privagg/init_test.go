package main

import (
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
			`purpose: "marketing"`, `group_by: ["shipping_country"]`, "type: count_units", `path: "orders.csv"`}},
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
