package catalog

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privagg/privagg/privacy"
	"github.com/privagg/privagg/release"
)

func loadCatalog(t *testing.T, ledger string) *Catalog {
	t.Helper()
	led, err := privacy.OpenLedger(ledger)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(context.Background(), led)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func TestLoad(t *testing.T) {
	t.Parallel()
	f := sharedFixture(t)
	c := loadCatalog(t, f.ledger)
	if len(c.Releases) != 3 {
		t.Fatalf("releases = %d, want 3", len(c.Releases))
	}
	want := []struct {
		id, format string
		tables     []string // query names
		latest     []bool
	}{
		{"rel-1", "csv", []string{"by_channel__rel_1", "by_campaign__rel_1"}, []bool{false, false}},
		{"rel.2", "parquet", []string{"by_channel__rel_2"}, []bool{false}},
		{"rel_3", "duckdb", []string{"by_channel__rel_3", "by_campaign__rel_3"}, []bool{true, true}},
	}
	for i, w := range want {
		r := c.Releases[i]
		t.Run(w.id, func(t *testing.T) {
			if r.ReleaseID != w.id || r.State != privacy.StatePublished || r.Problem != "" {
				t.Fatalf("release %d = %s %s (problem %q), want %s published", i, r.ReleaseID, r.State, r.Problem, w.id)
			}
			// Every output of the fixture has public partitions: k does not apply.
			if r.Dataset != "test_events" || r.Purpose != "marketing" || r.Job != "catalog_test" || r.K != 0 || r.Noise != "laplace" {
				t.Errorf("dataset %q purpose %q job %q k %d noise %q", r.Dataset, r.Purpose, r.Job, r.K, r.Noise)
			}
			if r.StoreDir != filepath.Join(f.dir, "ledger", "privagg-releases", w.id) {
				t.Errorf("store dir %s", r.StoreDir)
			}
			if len(r.Tables) != len(w.tables) {
				t.Fatalf("tables = %d, want %d", len(r.Tables), len(w.tables))
			}
			for j, tab := range r.Tables {
				if tab.QueryName != w.tables[j] || tab.Latest != w.latest[j] || tab.Format != w.format {
					t.Errorf("table %d = %s latest %v format %s, want %s latest %v format %s", j, tab.QueryName, tab.Latest, tab.Format, w.tables[j], w.latest[j], w.format)
				}
				if !strings.HasPrefix(tab.Path, r.StoreDir) {
					t.Errorf("table %s path %s is not in the release store", tab.QueryName, tab.Path)
				}
			}
			ch := r.Tables[0]
			if ch.Rows != 6 || len(ch.Metrics) != 4 {
				t.Fatalf("by_channel rows %d metrics %d, want 6 rows (public partitions) and 4 metrics", ch.Rows, len(ch.Metrics))
			}
			// count: epsilon split 4 ways, L0 2, Linf 3: Laplace b = 2*3/(1/4) = 24.
			m := ch.Metrics[0]
			if m.NoiseStdDev == nil || m.CI95 == nil {
				t.Fatalf("count metric without noise sd or CI: %+v", m)
			}
			if got, want := *m.CI95, *m.NoiseStdDev/math.Sqrt2*math.Log(20); math.Abs(got-want) > 1e-9 {
				t.Errorf("count ci95 = %v, want %v", got, want)
			}
			if mean := ch.Metrics[3]; mean.CI95 != nil {
				t.Errorf("mean has a constant CI %v; it varies by row", *mean.CI95)
			}
		})
	}
	if c.Release("rel.2") == nil || c.Release("nope") != nil {
		t.Error("Release lookup by id is wrong")
	}
}

func TestCI95HalfWidth(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mech string
		sd   float64
		want float64
	}{
		{"gaussian", 10, 19.59963984540054},
		{"laplace", math.Sqrt2, math.Log(20)}, // b = 1
	} {
		t.Run(tc.mech, func(t *testing.T) {
			if got := CI95HalfWidth(tc.mech, tc.sd); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("CI95HalfWidth(%s, %v) = %v, want %v", tc.mech, tc.sd, got, tc.want)
			}
		})
	}
}

func TestLoadReportsDamagedStore(t *testing.T) {
	t.Parallel()
	f := newFixture(t, t.TempDir())
	f.release(t, "csv", false, "r1")
	f.release(t, "parquet", false, "r2")
	store := filepath.Join(filepath.Dir(f.ledger), "privagg-releases", "r1")
	if err := os.Remove(filepath.Join(store, publishedList)); err != nil {
		t.Fatal(err)
	}
	// r2's REPORT.html is stored with the release (and its hash recorded).
	c := loadCatalog(t, f.ledger)
	if p := c.Release("r1").Problem; p == "" {
		t.Error("r1 with a missing published-files list has no problem")
	}
	r2 := c.Release("r2")
	if r2.Problem != "" || !r2.Tables[0].Latest || r2.Report != filepath.Join(filepath.Dir(store), "r2", "REPORT.html") {
		t.Errorf("r2: problem %q latest %v report %q", r2.Problem, r2.Tables[0].Latest, r2.Report)
	}
	db, err := OpenDB(context.Background(), c)
	if err != nil {
		t.Fatalf("OpenDB: %v", err)
	}
	defer db.Close()
	if w := db.Warnings(); len(w) != 1 || !strings.Contains(w[0], "r1") {
		t.Errorf("warnings = %q, want one about r1", w)
	}
	var names []string
	for _, qt := range db.Tables() {
		names = append(names, qt.Name)
	}
	if got := strings.Join(names, ","); got != "by_channel,by_channel__r2" {
		t.Errorf("tables = %s", got)
	}
}

func TestOpenDBRefusesChangedStoreFile(t *testing.T) {
	t.Parallel()
	f := newFixture(t, t.TempDir())
	f.release(t, "csv", false, "r1")
	path := filepath.Join(filepath.Dir(f.ledger), "privagg-releases", "r1", "by_channel.csv")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(data, "cmp_x,email,1,1,1,1,1,1,1,1\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = OpenDB(context.Background(), loadCatalog(t, f.ledger))
	var ie *release.IntegrityError
	if !errors.As(err, &ie) || ie.Path != path || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("OpenDB over a changed store file: %v, want a sha256 mismatch naming %s", err, path)
	}
}
