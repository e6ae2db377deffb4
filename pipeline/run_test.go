package pipeline

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/engine/duckdb"
	"github.com/privagg/privagg/internal/testfixture"
	"github.com/privagg/privagg/internal/testnoise"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
	"github.com/privagg/privagg/transforms"
)

// eventsCSV is a small hand-checked input. Alice (u1) is heavy: 5 rows in
// cmp_a/email (Linf 3 keeps 3), a revenue total of 700 there (clamped to
// 500). Dave (u4) did not consent. Row 9 has no person and row 10 a NaN
// revenue: both are malformed. Erin (u5) contributes to 3 partitions with
// L0 = 2, so one of hers is dropped at random: she is only in cmp_b rows,
// which are not in the golden check (see goldenJob's public lists).
const eventsCSV = `email,user_id,campaign,channel,age,revenue,consent_marketing,ts
alice@example.com,u1,cmp_a,email,34,100,true,2026-01-05 10:00:00
alice@example.com,u1,cmp_a,email,34,200,true,2026-01-05 11:00:00
alice@example.com,u1,cmp_a,email,34,300,true,2026-01-06 10:00:00
alice@example.com,u1,cmp_a,email,34,50,true,2026-01-06 12:00:00
alice@example.com,u1,cmp_a,email,34,50,true,2026-01-07 10:00:00
bob@example.com,u2,cmp_a,email,52,20,true,2026-01-05 10:00:00
carol@example.com,u3,cmp_a,search,19,0,true,2026-01-05 10:00:00
dave@example.com,u4,cmp_a,email,40,999,false,2026-01-05 10:00:00
eve@example.com,,cmp_a,email,40,5,true,2026-01-05 10:00:00
frank@example.com,u6,cmp_a,email,40,nan,true,2026-01-05 10:00:00
erin@example.com,u5,cmp_b,email,70,1,true,2026-01-05 10:00:00
erin@example.com,u5,cmp_b,search,70,1,true,2026-01-05 10:00:00
erin@example.com,u5,cmp_b,social,70,1,true,2026-01-05 10:00:00
`

const goldenJob = `version: 1
name: golden
dataset: test_events
purpose: marketing
input:
  path: events.csv
  max_reject_fraction: 0.2
privacy_unit: user_id
identifiers: [email]
consent:
  column: consent_marketing
columns:
  age_band: {from: age, bins: [18, 25, 35, 45, 55, 65]}
privacy:
  epsilon: 1
  delta: 1e-6
  k: 1
  max_partitions_per_unit: 2
outputs:
  - name: by_channel
    group_by: [campaign, channel]
    public_partitions:
      campaign: [cmp_a, cmp_z]
      channel: [email, search]
    metrics:
      - {name: events, type: count, max_per_unit: 3}
      - {name: people, type: count_units}
      - {name: revenue, type: sum, column: revenue, min: 0, max: 500}
      - {name: avg_revenue, type: mean, column: revenue, min: 0, max: 500}
  - name: by_age
    group_by: [age_band]
    public_partitions:
      age_band: ["<18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+"]
    max_partitions_per_unit: 1
    metrics:
      - {name: people, type: count_units}
output:
  dir: out
  format: csv
ledger: ledger/privagg-ledger.duckdb
`

func checkGolden(t *testing.T, got []byte, name string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestRunGolden(t *testing.T) {
	job := testfixture.CSVJob(t, goldenJob, eventsCSV, 10)
	defer testfixture.WithNoise(t, testnoise.None{})()
	res, err := Run(context.Background(), job, RunOptions{NewEngine: embedded, ReleaseID: "golden-1"})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	// by_channel: public keys cmp_a/cmp_z x email/search, sorted, zero rows
	// for keys without data. cmp_a/email holds Alice (3 of 5 rows, total 700
	// clamped to 500) and Bob (1 row, 20); Dave has no consent; the rows
	// without a person or with a NaN revenue are rejected. Mean = 260.
	// by_age: Alice 25-34... Alice is 34, Bob 52, Carol 19, Erin 70.
	for _, name := range []string{"by_channel.csv", "by_age.csv"} {
		got, err := os.ReadFile(filepath.Join(job.Output.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		checkGolden(t, got, name)
	}
	r := res.Report
	if r.RowsRead != 13 || r.RowsRejected != 2 || r.RowsExcludedByConsent != 1 {
		t.Errorf("report counts read=%d rejected=%d excluded=%d, want 13, 2, 1", r.RowsRead, r.RowsRejected, r.RowsExcludedByConsent)
	}
	if len(res.Files) != 4 {
		t.Errorf("files = %v, want data + manifest for 2 outputs", res.Files)
	}
	leakScan(t, job, []string{"alice@example.com", "bob@example.com", "dave@example.com", "u1", "u2", "u3", "u4", "u5", "u6"})
}

// leakScan fails if any published file or manifest contains an identifier or
// privacy unit value of the input.
func leakScan(t *testing.T, job *job.Job, secrets []string) {
	t.Helper()
	err := filepath.WalkDir(job.Output.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if bytes.Contains(data, []byte(","+s+",")) || bytes.Contains(data, []byte(`"`+s+`"`)) || bytes.Contains(data, []byte(s+"@")) {
				t.Errorf("%s contains input value %q", path, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRunRepublishesWithoutCharge(t *testing.T) {
	job := testfixture.CSVJob(t, goldenJob, eventsCSV, 10)
	ctx := context.Background()
	first, err := Run(ctx, job, RunOptions{NewEngine: embedded})
	if err != nil {
		t.Fatal(err)
	}
	before := readDir(t, job.Output.Dir)
	led, _ := privacy.OpenLedger(job.Ledger)
	st1, _ := led.Status(ctx, job.Dataset)
	// Remove the published files: a re-run must restore them byte for byte.
	if err := os.RemoveAll(job.Output.Dir); err != nil {
		t.Fatal(err)
	}
	second, err := Run(ctx, job, RunOptions{NewEngine: embedded})
	if err != nil {
		t.Fatal(err)
	}
	if !second.Republished || second.ReleaseID != first.ReleaseID {
		t.Errorf("second run: republished=%v id=%s, want a re-publication of %s", second.Republished, second.ReleaseID, first.ReleaseID)
	}
	after := readDir(t, job.Output.Dir)
	for name, data := range before {
		if !bytes.Equal(after[name], data) {
			t.Errorf("%s differs after re-publication", name)
		}
	}
	st2, _ := led.Status(ctx, job.Dataset)
	if st1.EpsilonSpent.Cmp(st2.EpsilonSpent) != 0 {
		t.Errorf("re-publication charged: spent %s -> %s", st1.EpsilonSpent, st2.EpsilonSpent)
	}
	// A new release id draws new noise and is charged.
	if _, err := Run(ctx, job, RunOptions{NewEngine: embedded, ReleaseID: "golden-2"}); err != nil {
		t.Fatal(err)
	}
	st3, _ := led.Status(ctx, job.Dataset)
	if st3.EpsilonSpent.Cmp(st2.EpsilonSpent) <= 0 {
		t.Errorf("new release id was not charged: spent %s -> %s", st2.EpsilonSpent, st3.EpsilonSpent)
	}
}

func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue // history/ (crash_test.go checks it)
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = data
	}
	return out
}

// TestRunFailuresReleaseNothing: every refused run leaves output.dir without
// any file and returns the error type behind its exit code.
func TestRunFailuresReleaseNothing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		job    string
		events string
		budget float64
		check  func(error) bool
	}{
		{"no budget", goldenJob, eventsCSV, 0, isBudget},
		{"budget too small", goldenJob, eventsCSV, 0.5, isBudget},
		{"too many malformed rows", strings.Replace(goldenJob, "max_reject_fraction: 0.2", "max_reject_fraction: 0.1", 1), eventsCSV, 10, isInput},
		{"missing input", strings.Replace(goldenJob, "path: events.csv", "path: nothing-*.csv", 1), eventsCSV, 10, isInput},
		{"unknown column", strings.Replace(goldenJob, "column: consent_marketing", "column: consent_sms", 1), eventsCSV, 10, isConfig},
		{"wrong arity rows", goldenJob, eventsCSV + "x,u9,cmp_a\nx,u9,cmp_a,email,1,2,true,2026-01-01,extra\n", 10, isInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			job := testfixture.CSVJob(t, tc.job, tc.events, tc.budget)
			_, err := Run(context.Background(), job, RunOptions{NewEngine: embedded})
			if err == nil || !tc.check(err) {
				t.Fatalf("err = %v (%T)", err, err)
			}
			if entries, _ := os.ReadDir(job.Output.Dir); len(entries) > 0 {
				t.Errorf("output.dir has %d files after a failed run", len(entries))
			}
			for _, s := range []string{"alice", "u1,", "999"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error quotes input data %q: %v", s, err)
				}
			}
		})
	}
}

func isBudget(err error) bool { var e *privacy.BudgetError; return errors.As(err, &e) }
func isInput(err error) bool  { var e *engine.InputError; return errors.As(err, &e) }
func isConfig(err error) bool { var e *job.ConfigError; return errors.As(err, &e) }

// TestRunPrivatePartitions: keys from the data pass DP selection with the k
// pre-threshold: a campaign with 3 people (k = 5) is never released, one
// with 3,000 people always is.
func TestRunPrivatePartitions(t *testing.T) {
	var b strings.Builder
	b.WriteString("user_id,campaign,consent_marketing\n")
	for i := range 3000 {
		fmt.Fprintf(&b, "big%d,cmp_big,true\n", i)
	}
	for i := range 3 {
		fmt.Fprintf(&b, "small%d,cmp_small,true\n", i)
	}
	job := testfixture.CSVJob(t, `version: 1
name: private
dataset: d
purpose: marketing
input: {path: events.csv}
privacy_unit: user_id
consent: {column: consent_marketing}
privacy: {epsilon: 1, delta: 1e-6, k: 5, max_partitions_per_unit: 1}
outputs:
  - name: campaigns
    group_by: [campaign]
    metrics: [{name: people, type: count_units}]
output: {dir: out, format: csv}
ledger: privagg-ledger.duckdb
`, b.String(), 10)
	defer testfixture.WithNoise(t, testnoise.None{})()
	res, err := Run(context.Background(), job, RunOptions{NewEngine: embedded})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(job.Output.Dir, "campaigns.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "campaign,people,people_ci95\ncmp_big,3000,0\n"; string(got) != want {
		t.Errorf("campaigns.csv = %q, want %q", got, want)
	}
	if st := res.Report.Outputs["campaigns"]; st.Suppressed != 1 || st.Released != 1 {
		t.Errorf("report stats = %+v", st)
	}
}

// TestConsentTable: the latest record per (person, purpose) wins, a refusal
// wins a tie, records for other purposes do not count, and a person without
// a record is excluded.
func TestConsentTable(t *testing.T) {
	var ev strings.Builder
	ev.WriteString("user_id,campaign\n")
	for _, u := range []string{"granted", "revoked", "regranted", "tie", "other_purpose", "no_record"} {
		fmt.Fprintf(&ev, "%s,c\n", u)
	}
	consent := `user_id,purpose,granted,updated_at
granted,marketing,true,2026-01-01 00:00:00
revoked,marketing,true,2026-01-01 00:00:00
revoked,marketing,false,2026-02-01 00:00:00
regranted,marketing,false,2026-01-01 00:00:00
regranted,marketing,true,2026-03-01 00:00:00
tie,marketing,true,2026-01-01 00:00:00
tie,marketing,false,2026-01-01 00:00:00
other_purpose,analytics,true,2026-01-01 00:00:00
`
	job := testfixture.CSVJob(t, `version: 1
name: consent
dataset: d
purpose: marketing
input: {path: events.csv}
privacy_unit: user_id
consent:
  table: {path: consent.csv, unit: user_id, purpose: purpose, granted: granted, at: updated_at}
privacy: {epsilon: 1, delta: 0, k: 1, max_partitions_per_unit: 1}
outputs:
  - name: people
    group_by: [campaign]
    public_partitions: {campaign: [c]}
    metrics: [{name: people, type: count_units}]
output: {dir: out, format: csv}
ledger: privagg-ledger.duckdb
`, ev.String(), 10)
	if err := os.WriteFile(filepath.Join(filepath.Dir(job.File), "consent.csv"), []byte(consent), 0o644); err != nil {
		t.Fatal(err)
	}
	defer testfixture.WithNoise(t, testnoise.None{})()
	res, err := Run(context.Background(), job, RunOptions{NewEngine: embedded})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(job.Output.Dir, "people.csv"))
	if want := "campaign,people,people_ci95\nc,2,0\n"; string(got) != want { // granted, regranted
		t.Errorf("people.csv = %q, want %q", got, want)
	}
	if res.Report.RowsExcludedByConsent != 4 {
		t.Errorf("excluded by consent = %d, want 4", res.Report.RowsExcludedByConsent)
	}
}

// TestStaging: with staging configured, a run writes a pseudonymous Parquet
// copy of the consented, well-formed rows: the unit replaced by its HMAC
// pseudonym, identifiers dropped, quasi-identifiers generalized, and
// metadata saying it is not anonymous. Without the key the job fails with a
// config error before reading data, and no staging file appears.
func TestStaging(t *testing.T) {
	stagingJob := goldenJob + `staging:
  path: staging/events.parquet
  pseudonym_key_env: PRIVAGG_TEST_STAGING_KEY
`
	t.Run("no key", func(t *testing.T) {
		job := testfixture.CSVJob(t, stagingJob, eventsCSV, 10)
		t.Setenv("PRIVAGG_TEST_STAGING_KEY", "")
		_, err := Run(context.Background(), job, RunOptions{NewEngine: embedded})
		if !isConfig(err) || !strings.Contains(err.Error(), "staging.pseudonym_key_env") {
			t.Fatalf("err = %v, want a config error naming staging.pseudonym_key_env", err)
		}
		if _, err := os.Stat(job.Staging.Path); !os.IsNotExist(err) {
			t.Errorf("staging file exists after a failed run")
		}
	})
	t.Run("written", func(t *testing.T) {
		key := "0123456789abcdef-staging-test-key-XYZ"
		t.Setenv("PRIVAGG_TEST_STAGING_KEY", key)
		job := testfixture.CSVJob(t, stagingJob, eventsCSV, 10)
		var logs bytes.Buffer
		if _, err := Run(context.Background(), job, RunOptions{NewEngine: embedded, Logger: newTestLogger(&logs)}); err != nil {
			t.Fatal(err)
		}
		eng, err := duckdb.OpenDB(context.Background(), duckdb.DBOptions{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer eng.Close()
		rows, err := eng.QueryRows(context.Background(), fmt.Sprintf(
			"SELECT count(*)::BIGINT, count(DISTINCT user_id_pseudonym)::BIGINT, min(user_id_pseudonym), min(age_band) FROM read_parquet(%s)", transforms.QuoteString(job.Staging.Path)))
		if err != nil {
			t.Fatal(err)
		}
		// 13 rows: 1 without consent and 2 malformed are not staged.
		if rows[0][0].(int64) != 10 || rows[0][1].(int64) != 4 {
			t.Errorf("staged %v rows of %v people, want 10 rows of 4", rows[0][0], rows[0][1])
		}
		if p := rows[0][2].(string); !strings.HasPrefix(p, "v1:") || len(p) != 3+64 {
			t.Errorf("pseudonym %q is not v1:<64 hex>", p)
		}
		cols, err := eng.QueryRows(context.Background(), fmt.Sprintf("SELECT column_name FROM (DESCRIBE SELECT * FROM read_parquet(%s))", transforms.QuoteString(job.Staging.Path)))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range cols {
			names = append(names, c[0].(string))
		}
		for _, forbidden := range []string{"email", "user_id", "age"} {
			if slices.Contains(names, forbidden) {
				t.Errorf("staging has column %q (columns %v)", forbidden, names)
			}
		}
		meta, err := eng.QueryRows(context.Background(), fmt.Sprintf("SELECT decode(value) FROM parquet_kv_metadata(%s) WHERE decode(key) = 'privagg.note'", transforms.QuoteString(job.Staging.Path)))
		if err != nil || len(meta) != 1 || !strings.Contains(meta[0][0].(string), "NOT ANONYMOUS") {
			t.Errorf("staging metadata note = %v, %v", meta, err)
		}
		data, _ := os.ReadFile(job.Staging.Path)
		for _, s := range []string{"alice@example.com", "u1", key} {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("staging file contains %q", s)
			}
		}
		if strings.Contains(logs.String(), key) {
			t.Error("the pseudonym key appears in the logs")
		}
	})
}

func newTestLogger(w *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

var updateGolden = flag.Bool("update", false, "rewrite golden files under testdata/")
