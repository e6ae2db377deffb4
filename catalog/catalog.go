// Package catalog is the analysts' side of privagg: the catalog of releases
// recorded in a ledger (what was released, with which guarantee, where the
// tables and the report are) and a SQL query engine whose only tables are the
// published releases.
//
// Everything here reads the release store beside the ledger
// (<dir of ledger>/privagg-releases/<release_id>/), never the jobs' output
// folders nor any input: an analyst sees exactly what was released.
package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/privagg/privagg/release"

	"github.com/privagg/privagg/privacy"
)

// publishedList is the file in a release's store folder naming the files the
// release published (written by pipeline.Run).
const publishedList = "published-files.json"

// ReportFile is the release report's file name in the release store.
const ReportFile = "REPORT.html"

// Catalog is every release recorded in a ledger, oldest first, with what the
// release store says about its tables.
type Catalog struct {
	LedgerPath string `json:"ledger"`
	// Published are the published folders a catalog of LoadPublished was
	// read from (absolute); empty for a ledger's catalog.
	Published []string  `json:"published,omitempty"`
	Releases  []Release `json:"releases"`
}

// Release is one release: the ledger's record and, once stored, its tables.
type Release struct {
	privacy.ReleaseRecord
	StoreDir string `json:"store_dir"`
	// Report is the path of the release's REPORT.html; empty if there is none.
	Report string `json:"report,omitempty"`
	// K and Noise come from the manifests; zero before the release is
	// stored. K is the k of the outputs whose keys came from partition
	// selection, 0 when every output has public partitions (k does not
	// apply to them: each table's manifest says which holds).
	K     int64  `json:"k"`
	Noise string `json:"noise"`
	// Tables are the released tables, in the order the release stored them.
	// Empty for a release in state reserved.
	Tables []Table `json:"tables"`
	// Problem says why the release store could not be read; empty if it
	// could (or the release is not stored yet).
	Problem string `json:"problem,omitempty"`

	// integrity is set when the store differs from what the ledger
	// recorded (a *release.IntegrityError): OpenDB then refuses to run.
	integrity error
}

// Published reports whether the release is in state published.
func (r *Release) Published() bool { return r.State == privacy.StatePublished }

// Table is one released output table.
type Table struct {
	Output string `json:"output"`
	// QueryName is the table's name in `privagg query`: <output>__<release id>
	// with the id's characters other than letters, digits and '_' replaced by
	// '_'. Empty if the release is not published.
	QueryName string `json:"query_name,omitempty"`
	// Latest is true if this is the latest published release of Output, which
	// `privagg query` also offers under the plain name Output.
	Latest       bool     `json:"latest"`
	Format       string   `json:"format"`
	Path         string   `json:"path"`                   // data file in the release store
	DuckDBTable  string   `json:"duckdb_table,omitempty"` // table inside Path (duckdb format)
	ManifestPath string   `json:"manifest"`
	Rows         int64    `json:"rows"`
	GroupBy      []string `json:"group_by"`
	Metrics      []Metric `json:"metrics"`
	// Bounds are the contribution bounds the table was made with (the
	// estimated ones marked auto) and what bounding removed, from its
	// manifest; nil when the job estimated nothing.
	Bounds *privacy.OutputBounds `json:"bounds,omitempty"`

	sha256  string
	columns []release.ManifestColumn
}

// Metric says how one metric of a table was made private and how precise it is.
type Metric struct {
	Name      string   `json:"name"`
	Kind      string   `json:"kind"`
	Columns   []string `json:"columns"`
	Mechanism string   `json:"mechanism"`
	Epsilon   float64  `json:"epsilon"`
	Delta     float64  `json:"delta"`
	L0        int64    `json:"l0"`
	LInf      float64  `json:"linf"`
	// NoiseStdDev is the standard deviation of the noise added to each row's
	// value, and CI95 the half-width of its 95% confidence interval; both nil
	// where the precision varies by row (mean, variance, quantiles): the
	// row's <metric>_ci95 column has it, if the kind has one.
	NoiseStdDev *float64 `json:"noise_std_dev,omitempty"`
	CI95        *float64 `json:"ci95,omitempty"`
	// Interval says what the row's _ci95 covers (release.IntervalNoise or
	// release.IntervalBounding), and Bias how the values were corrected
	// for what bounding removed.
	Interval string        `json:"interval,omitempty"`
	Bias     *privacy.Bias `json:"bias,omitempty"`
}

// Load reads the ledger's releases and, for each stored or published one,
// the manifests in its release store. A release whose store cannot be read
// is listed with a Problem instead of failing the whole catalog.
func Load(ctx context.Context, led *privacy.Ledger) (*Catalog, error) {
	recs, err := led.Releases(ctx)
	if err != nil {
		return nil, err
	}
	c := &Catalog{LedgerPath: led.Path(), Releases: make([]Release, 0, len(recs))}
	for _, rec := range recs {
		r := Release{ReleaseRecord: rec, StoreDir: led.StoreDir(rec.ReleaseID), Tables: []Table{}}
		if rec.State != privacy.StateReserved {
			if err := r.readStore(); err != nil {
				r.Problem = err.Error()
				var ie *release.IntegrityError
				if errors.As(err, &ie) {
					r.integrity = err
				}
			}
			if st, err := os.Stat(filepath.Join(r.StoreDir, ReportFile)); err == nil && st.Mode().IsRegular() {
				r.Report = filepath.Join(r.StoreDir, ReportFile)
			}
		}
		c.Releases = append(c.Releases, r)
	}
	c.nameTables()
	return c, nil
}

// Release returns the release with id, or nil.
func (c *Catalog) Release(id string) *Release {
	for i := range c.Releases {
		if c.Releases[i].ReleaseID == id {
			return &c.Releases[i]
		}
	}
	return nil
}

// readStore fills r's tables from the manifests its published files name.
// When the ledger recorded the store's hashes, every file is checked
// against them first (a *release.IntegrityError if one differs or is a
// symlink); a store folder that is a symlink is always refused.
func (r *Release) readStore() error {
	var files []string
	if r.Files != nil {
		if err := release.VerifyStore(r.StoreDir, r.Files); err != nil {
			return err
		}
		files = r.Files.Published
	} else {
		if err := checkNotSymlink(r.StoreDir, "release store"); err != nil {
			return &release.IntegrityError{Path: r.StoreDir, Reason: "is a symlink; a release store is read only from its own folder"}
		}
		f, err := openNoFollow(filepath.Join(r.StoreDir, publishedList))
		if err != nil {
			return fmt.Errorf("release store %s: %w", r.StoreDir, err)
		}
		err = json.NewDecoder(f).Decode(&files)
		f.Close()
		if err != nil {
			return fmt.Errorf("release store %s: %s: %w", r.StoreDir, publishedList, err)
		}
	}
	for _, name := range files {
		if !strings.HasSuffix(name, release.ManifestSuffix) {
			continue
		}
		t, m, err := readTable(r.StoreDir, name)
		if err != nil {
			return err
		}
		if m.ReleaseID != r.ReleaseID {
			return fmt.Errorf("release store %s: manifest %s: release_id %q, want %q", r.StoreDir, name, m.ReleaseID, r.ReleaseID)
		}
		r.K, r.Noise = max(r.K, m.K), m.Noise
		r.Tables = append(r.Tables, t)
	}
	return nil
}

func readTable(dir, manifestName string) (Table, *release.Manifest, error) {
	path := filepath.Join(dir, manifestName)
	f, err := openNoFollow(path)
	if err != nil {
		return Table{}, nil, fmt.Errorf("manifest: %w", err)
	}
	defer f.Close()
	m, err := release.ReadManifest(f)
	if err != nil {
		return Table{}, nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	if m.File == "" || m.File != filepath.Base(m.File) || strings.HasPrefix(m.File, ".") {
		return Table{}, nil, fmt.Errorf("manifest %s: file %q must be a file name inside the release store", path, m.File)
	}
	t := Table{
		Output:       m.Output,
		Format:       m.Format,
		Path:         filepath.Join(dir, m.File),
		DuckDBTable:  m.Table,
		ManifestPath: path,
		Rows:         m.Rows,
		GroupBy:      m.GroupBy,
		Metrics:      make([]Metric, len(m.Metrics)),
		Bounds:       m.Bounds,
		sha256:       m.SHA256,
		columns:      m.Columns,
	}
	for i, mm := range m.Metrics {
		t.Metrics[i] = Metric{
			Name: mm.Name, Kind: mm.Kind, Columns: mm.Columns, Mechanism: mm.Mechanism,
			Epsilon: mm.Epsilon, Delta: mm.Delta, L0: mm.L0, LInf: mm.LInf, NoiseStdDev: mm.NoiseStdDev,
			Interval: mm.Interval, Bias: mm.Bias,
		}
		if mm.NoiseStdDev != nil && mm.Interval != release.IntervalBounding {
			ci := CI95HalfWidth(mm.Mechanism, *mm.NoiseStdDev)
			t.Metrics[i].CI95 = &ci
		}
	}
	return t, m, nil
}

// CI95HalfWidth is the half-width of the 95% confidence interval of noise
// with standard deviation sd: 1.96 sd for Gaussian noise, and b ln(20) with
// b = sd/sqrt(2) (about 2.12 sd) for Laplace noise, as the DP library
// computes it for the _ci95 columns (up to its rounding of integer counts).
func CI95HalfWidth(mechanism string, sd float64) float64 {
	if strings.EqualFold(mechanism, string(privacy.Gaussian)) {
		return 1.959963984540054 * sd
	}
	return sd / math.Sqrt2 * math.Log(20)
}

// nameTables gives every table of a published release its query name and
// marks the latest published release of each output.
func (c *Catalog) nameTables() {
	type ref struct{ r, t int }
	latest := map[string]ref{} // lower-case output name -> table
	used := map[string]bool{}  // lower-case query names (DuckDB names are case-insensitive)
	for ri := range c.Releases {
		r := &c.Releases[ri]
		if !r.Published() || r.Problem != "" {
			continue
		}
		for ti := range r.Tables {
			t := &r.Tables[ti]
			base := t.Output + "__" + sanitize(r.ReleaseID)
			name := base
			for n := 2; used[strings.ToLower(name)]; n++ {
				name = fmt.Sprintf("%s_%d", base, n)
			}
			used[strings.ToLower(name)] = true
			t.QueryName = name
			key := strings.ToLower(t.Output)
			if old, ok := latest[key]; !ok || newer(r, &c.Releases[old.r]) {
				latest[key] = ref{ri, ti}
			}
		}
	}
	for _, l := range latest {
		c.Releases[l.r].Tables[l.t].Latest = true
	}
}

// newer reports whether a was last published after b (ties: reserved later, then
// the larger id, so the choice never depends on map order).
func newer(a, b *Release) bool {
	ta, tb := publishedAt(a), publishedAt(b)
	if !ta.Equal(tb) {
		return ta.After(tb)
	}
	if !a.ReservedAt.Equal(b.ReservedAt) {
		return a.ReservedAt.After(b.ReservedAt)
	}
	return a.ReleaseID > b.ReleaseID
}

// publishedAt is when r was last published into its output folder (see
// history.go): the one time "latest" is decided by.
func publishedAt(r *Release) time.Time {
	if t := r.LastPublished(); t != nil {
		return *t
	}
	return r.ReservedAt
}

// sanitize turns a release id into identifier characters: letters, digits
// and '_' stay, everything else becomes '_'.
func sanitize(id string) string {
	b := []byte(id)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// QueryTables are the tables `privagg query` offers, sorted by name: every
// table of a published release under its QueryName, and the latest one of
// each output also under the output's name.
func (c *Catalog) QueryTables() []QueryTable {
	var out []QueryTable
	for ri := range c.Releases {
		r := &c.Releases[ri]
		if !r.Published() || r.Problem != "" {
			continue
		}
		for _, t := range r.Tables {
			out = append(out, QueryTable{Name: t.QueryName, ReleaseID: r.ReleaseID, Table: t})
			if t.Latest {
				out = append(out, QueryTable{Name: t.Output, ReleaseID: r.ReleaseID, Table: t})
			}
		}
	}
	slices.SortFunc(out, func(a, b QueryTable) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// QueryTable is one table name in `privagg query` and what it holds.
type QueryTable struct {
	Name      string
	ReleaseID string
	Table     Table
}
