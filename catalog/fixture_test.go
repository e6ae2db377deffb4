package catalog

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/privagg/privagg/job"

	"github.com/privagg/privagg/engine/duckdb"
	"github.com/privagg/privagg/pipeline"
	"github.com/privagg/privagg/privacy"
)

// eventsCSV is a small input: enough people per partition to be released
// with k = 1 and public partitions.
const eventsCSV = `email,user_id,campaign,channel,revenue,consent_marketing
alice@example.com,u1,cmp_a,email,100,true
alice@example.com,u1,cmp_a,email,200,true
bob@example.com,u2,cmp_a,email,20,true
carol@example.com,u3,cmp_a,search,0,true
dave@example.com,u4,cmp_b,email,999,true
erin@example.com,u5,cmp_b,search,1,true
`

// jobYAML is a job with output by_channel (and by_campaign when extra is
// true) in the given format.
func jobYAML(format string, extra bool) string {
	s := `version: 1
name: catalog_test
dataset: test_events
purpose: marketing
input:
  path: events.csv
privacy_unit: user_id
identifiers: [email]
consent:
  column: consent_marketing
privacy:
  epsilon: 1
  delta: 1e-6
  k: 1
  max_partitions_per_unit: 2
outputs:
  - name: by_channel
    group_by: [campaign, channel]
    public_partitions:
      campaign: [cmp_a, cmp_b, cmp_z]
      channel: [email, search]
    metrics:
      - {name: events, type: count, max_per_unit: 3}
      - {name: people, type: count_units}
      - {name: revenue, type: sum, column: revenue, min: 0, max: 500}
      - {name: avg_revenue, type: mean, column: revenue, min: 0, max: 500}
`
	if extra {
		s += `  - name: by_campaign
    group_by: [campaign]
    public_partitions:
      campaign: [cmp_a, cmp_b]
    metrics:
      - {name: people, type: count_units}
`
	}
	return s + "output:\n  dir: out_" + format + "\n  format: " + format + "\nledger: ledger/privagg-ledger.duckdb\n"
}

// fixture is a folder with a ledger and published releases.
type fixture struct {
	dir    string
	ledger string
	input  string
}

// release runs a real job through pipeline.Run.
func (f *fixture) release(t testing.TB, format string, extra bool, id string) {
	t.Helper()
	path := filepath.Join(f.dir, "job_"+id+".yaml")
	if err := os.WriteFile(path, []byte(jobYAML(format, extra)), 0o644); err != nil {
		t.Fatal(err)
	}
	job, err := job.LoadJob(path)
	if err != nil {
		t.Fatalf("LoadJob: %v", err)
	}
	if _, err := pipeline.Run(context.Background(), job, pipeline.RunOptions{NewEngine: duckdb.Factory(duckdb.Options{}), ReleaseID: id}); err != nil {
		t.Fatalf("Run %s: %v", id, err)
	}
}

func newFixture(t testing.TB, dir string) *fixture {
	t.Helper()
	f := &fixture{dir: dir, ledger: filepath.Join(dir, "ledger", "privagg-ledger.duckdb"), input: filepath.Join(dir, "events.csv")}
	if err := os.WriteFile(f.input, []byte(eventsCSV), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(f.ledger), 0o755); err != nil {
		t.Fatal(err)
	}
	led, err := privacy.OpenLedger(f.ledger)
	if err != nil {
		t.Fatal(err)
	}
	if err := led.SetBudget(context.Background(), "test_events", 100, 1e-3, "none"); err != nil {
		t.Fatal(err)
	}
	return f
}

var (
	sharedOnce sync.Once
	shared     *fixture
	sharedDir  string
)

// sharedFixture has three published releases of the same job, read-only for
// the tests: rel-1 (csv, by_channel and by_campaign), rel.2 (parquet,
// by_channel), rel_3 (duckdb, by_channel and by_campaign), published in
// this order. It is built once; if that fails, the test building it fails
// with the cause and every later one says so.
func sharedFixture(t *testing.T) *fixture {
	t.Helper()
	sharedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "catalog-test-")
		if err != nil {
			t.Fatal(err)
		}
		sharedDir = dir
		f := newFixture(t, dir)
		f.release(t, "csv", true, "rel-1")
		f.release(t, "parquet", false, "rel.2")
		f.release(t, "duckdb", true, "rel_3")
		shared = f
	})
	if shared == nil {
		t.Fatal("the shared fixture could not be built (see the first failing test)")
	}
	return shared
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
	os.Exit(code)
}

func removeAll(dir string) error { return os.RemoveAll(dir) }

func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }
