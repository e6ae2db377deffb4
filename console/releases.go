package console

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/privagg/privagg/catalog"
	"github.com/privagg/privagg/internal/sqlq"
	"github.com/privagg/privagg/release"
)

// The releases pages: the list, and one release with its report, its
// tables (the first maxRows rows, each noisy value with its 95% confidence
// interval as an error bar) and download links for the files its manifests
// list.

// maxRows is how many rows of a table a release page shows.
const maxRows = 500

// Error bar geometry, in pixels.
const (
	errBarWidth  = 140.0
	errBarHeight = 14.0
	errBarPad    = 6.0
)

type releasesView struct {
	Releases []catalog.Release
}

type releaseView struct {
	R        *catalog.Release
	Report   *release.ReleaseReport // nil: none (analyst, or not stored)
	HasHTML  bool                   // a report page can be shown
	Tables   []tableView
	Internal *release.ReportInternal // only with Config.Internal
	Note     string                  // why the tables are not shown
}

type tableView struct {
	T        catalog.Table
	File     string // download names
	Manifest string
	Columns  []columnView
	Rows     [][]cellView
	Shown    int
	Problem  string
	Chart    *chart // the first metric with an interval (chart.go)
}

type columnView struct {
	Name   string
	Metric bool // a noisy value (right-aligned)
	CI     bool // with an error bar from its _ci95 column
}

type cellView struct {
	Text  string
	Value string // full precision, for data-value
	CI    string // "±x" when the column has an interval
	Bar   *errorBar
	Num   bool
	Null  bool
}

// errorBar is value ± ci95 on an axis shared by the rows of its column.
type errorBar struct {
	W, H        float64
	Zero        float64 // x of 0
	Left, Right float64 // the interval
	X           float64 // the value
	Label       string
}

func (s *Server) loadCatalog(ctx context.Context) (*catalog.Catalog, error) {
	if s.mode == ModeAnalyst {
		return catalog.LoadPublished(s.cfg.Published)
	}
	return catalog.Load(ctx, s.led)
}

func (s *Server) releases(w http.ResponseWriter, r *http.Request) {
	cat, err := s.loadCatalog(r.Context())
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "The releases could not be read.", err)
		return
	}
	// Newest first: the one a person looks for is usually the last.
	rels := slices.Clone(cat.Releases)
	slices.Reverse(rels)
	s.render(w, r, http.StatusOK, "releases.html", s.newPage("Releases", "releases", releasesView{Releases: rels}))
}

// lookup finds the release of the request's {id}; nil after an error page.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request) (*catalog.Catalog, *catalog.Release) {
	cat, err := s.loadCatalog(r.Context())
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "The releases could not be read.", err)
		return nil, nil
	}
	rel := cat.Release(r.PathValue("id"))
	if rel == nil {
		s.fail(w, r, http.StatusNotFound, fmt.Sprintf("There is no release %q here.", r.PathValue("id")), nil)
		return nil, nil
	}
	return cat, rel
}

func (s *Server) release(w http.ResponseWriter, r *http.Request) {
	cat, rel := s.lookup(w, r)
	if rel == nil {
		return
	}
	v := releaseView{R: rel}
	if s.mode == ModeOfficer {
		rep, err := readReport(rel.StoreDir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.cfg.Logger.Warn("console: release report", "release", rel.ReleaseID, "err", err)
		}
		v.Report = rep
		v.HasHTML = rep != nil || (s.cfg.Internal && rel.Report != "")
		if rep != nil && s.cfg.Internal {
			v.Internal = &rep.Internal
		}
	}
	switch {
	case rel.Problem != "":
		v.Note = "The release store could not be read: " + rel.Problem
	case !rel.Published():
		v.Note = "This release is " + string(rel.State) + ", not published: its tables are shown once it is."
	default:
		v.Tables = s.readTables(r.Context(), cat, rel)
	}
	s.render(w, r, http.StatusOK, "release.html", s.newPage("Release "+rel.ReleaseID, "releases", v))
}

// readReport reads report.json from a release store folder (never through
// a symlink); nil if there is none.
func readReport(dir string) (*release.ReleaseReport, error) {
	data, err := readNoFollow(filepath.Join(dir, release.ReportJSONFile))
	if err != nil {
		return nil, err
	}
	return release.ReadReleaseReport(data)
}

// readTables reads the release's tables through the catalog's query
// engine: each data file is checked against its manifest's sha256, and the
// engine reaches no other file.
func (s *Server) readTables(ctx context.Context, cat *catalog.Catalog, rel *catalog.Release) []tableView {
	views := make([]tableView, len(rel.Tables))
	for i, t := range rel.Tables {
		views[i] = tableView{T: t, File: filepath.Base(t.Path), Manifest: filepath.Base(t.ManifestPath)}
	}
	db, err := catalog.OpenDB(ctx, &catalog.Catalog{LedgerPath: cat.LedgerPath, Published: cat.Published, Releases: []catalog.Release{*rel}})
	if err != nil {
		s.cfg.Logger.Error("console: read tables", "release", rel.ReleaseID, "err", err)
		for i := range views {
			views[i].Problem = "The tables could not be read: " + err.Error()
		}
		return views
	}
	defer db.Close()
	for i := range views {
		if err := views[i].read(ctx, db); err != nil {
			s.cfg.Logger.Error("console: read table", "release", rel.ReleaseID, "table", views[i].T.Output, "err", err)
			views[i].Problem = "The table could not be read: " + err.Error()
		}
	}
	return views
}

// read fills the view with the table's first maxRows rows.
func (tv *tableView) read(ctx context.Context, db *catalog.DB) error {
	name := tv.T.QueryName
	sql := fmt.Sprintf(`SELECT * FROM %s LIMIT %d`, sqlq.Ident(name), maxRows)
	rr, err := db.Query(ctx, sql)
	if err != nil {
		return fmt.Errorf("query %s: %w", name, err)
	}
	defer rr.Release()
	var buf strings.Builder
	if err := catalog.WriteResult(ctx, &buf, rr, catalog.FormatCSV); err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	recs, err := csv.NewReader(strings.NewReader(buf.String())).ReadAll()
	if err != nil || len(recs) == 0 {
		return fmt.Errorf("read %s: %w", name, errors.Join(err, errors.New("no header")))
	}
	tv.layout(recs[0], recs[1:])
	if ms := chartMetrics(tv.T, recs[0]); len(ms) > 0 {
		tv.Chart = newChart(tv.T.GroupBy, recs[0], recs[1:], ms[0])
	}
	return nil
}

// layout turns the CSV of a table into columns and cells: group-by keys as
// they are, each metric value with its _ci95 column folded into it as
// "value ± ci" and an error bar.
func (tv *tableView) layout(header []string, rows [][]string) {
	metricCols := map[string]bool{}
	for _, m := range tv.T.Metrics {
		for _, c := range m.Columns {
			metricCols[c] = true
		}
	}
	index := map[string]int{}
	for i, h := range header {
		index[h] = i
	}
	type col struct {
		src, ci int
		view    columnView
	}
	var cols []col
	for i, h := range header {
		if _, isCI := index[strings.TrimSuffix(h, "_ci95")]; strings.HasSuffix(h, "_ci95") && isCI && metricCols[h] {
			continue // shown with its value
		}
		c := col{src: i, ci: -1, view: columnView{Name: h, Metric: metricCols[h]}}
		if j, ok := index[h+"_ci95"]; ok && metricCols[h] {
			c.ci, c.view.CI = j, true
		}
		cols = append(cols, c)
	}
	tv.Shown = len(rows)
	tv.Rows = make([][]cellView, len(rows))
	for ci, c := range cols {
		tv.Columns = append(tv.Columns, c.view)
		// The axis of a column's error bars spans every row's interval and 0.
		lo, hi := 0.0, 0.0
		vals := make([]float64, len(rows))
		cis := make([]float64, len(rows))
		oks := make([]bool, len(rows))
		for ri, row := range rows {
			if !c.view.Metric {
				continue
			}
			v, err1 := strconv.ParseFloat(row[c.src], 64)
			e := 0.0
			var err2 error
			if c.ci >= 0 {
				e, err2 = strconv.ParseFloat(row[c.ci], 64)
			}
			if err1 != nil || err2 != nil || math.IsNaN(v+e) || math.IsInf(v+e, 0) {
				continue
			}
			vals[ri], cis[ri], oks[ri] = v, math.Abs(e), true
			lo, hi = math.Min(lo, v-math.Abs(e)), math.Max(hi, v+math.Abs(e))
		}
		for ri, row := range rows {
			cell := cellView{Text: row[c.src], Null: row[c.src] == "" && c.view.Metric, Num: c.view.Metric}
			if oks[ri] {
				cell.Text, cell.Value = catalog.ReadableFloat(vals[ri]), row[c.src]
				if c.ci >= 0 {
					cell.CI = "±" + catalog.ReadableFloat(cis[ri])
					cell.Bar = newErrorBar(vals[ri], cis[ri], lo, hi)
				}
			}
			if tv.Rows[ri] == nil {
				tv.Rows[ri] = make([]cellView, len(cols))
			}
			tv.Rows[ri][ci] = cell
		}
	}
}

func newErrorBar(v, ci, lo, hi float64) *errorBar {
	if !(hi > lo) {
		hi = lo + 1
	}
	x := func(u float64) float64 { return px(errBarPad + (errBarWidth-2*errBarPad)*(u-lo)/(hi-lo)) }
	return &errorBar{W: errBarWidth, H: errBarHeight, Zero: x(0), Left: x(v - ci), Right: x(v + ci), X: x(v),
		Label: fmt.Sprintf("%s, 95%% confidence interval %s to %s", catalog.ReadableFloat(v), catalog.ReadableFloat(v-ci), catalog.ReadableFloat(v+ci))}
}

// reportCSP is the policy of a release report page: REPORT.html carries its
// own stylesheet inline and nothing else; no script may run (sandbox).
const reportCSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; sandbox"

// report shows a release's report. With Config.Internal it is the stored
// REPORT.html as it is; without, the report is rendered anew from
// report.json with its INTERNAL section (the run's exact counts) left out.
func (s *Server) report(w http.ResponseWriter, r *http.Request) {
	if s.mode == ModeAnalyst {
		s.fail(w, r, http.StatusNotFound, "Release reports are in the release store beside the ledger, which an analyst's console does not read.", nil)
		return
	}
	_, rel := s.lookup(w, r)
	if rel == nil {
		return
	}
	var page []byte
	var err error
	switch {
	case s.cfg.Internal && rel.Report != "":
		page, err = readNoFollow(rel.Report)
	case s.cfg.Internal:
		var rep *release.ReleaseReport
		if rep, err = readReport(rel.StoreDir); err == nil {
			page, err = rep.RenderHTML()
		}
	default:
		page, err = publicReport(rel.StoreDir)
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.fail(w, r, http.StatusNotFound, "This release has no report.", nil)
		return
	case err != nil:
		s.fail(w, r, http.StatusInternalServerError, "The release report could not be read.", err)
		return
	}
	w.Header().Set("Content-Security-Policy", reportCSP)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if r.Method != http.MethodHead {
		_, _ = w.Write(page)
	}
}

// publicReport renders a release report without its internal counts: they
// are zeroed before rendering and their section is cut out.
func publicReport(dir string) ([]byte, error) {
	rep, err := readReport(dir)
	if err != nil {
		return nil, err
	}
	rep.Internal = release.ReportInternal{}
	page, err := rep.RenderHTML()
	if err != nil {
		return nil, err
	}
	return stripInternal(page), nil
}

// stripInternal removes the INTERNAL section of a rendered report.
func stripInternal(page []byte) []byte {
	s := string(page)
	start := strings.Index(s, `<section class="internal"`)
	if start < 0 {
		return page
	}
	end := strings.Index(s[start:], "</section>")
	if end < 0 {
		return []byte(s[:start])
	}
	return []byte(s[:start] + s[start+end+len("</section>"):])
}

// download serves a file of a release: only a data file or a manifest its
// manifests list, by name, never through a symlink, and a data file only if
// it still has its manifest's sha256.
func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	_, rel := s.lookup(w, r)
	if rel == nil {
		return
	}
	name := r.PathValue("name")
	var path string
	var table *catalog.Table
	for i, t := range rel.Tables {
		switch name {
		case filepath.Base(t.Path):
			path, table = t.Path, &rel.Tables[i]
		case filepath.Base(t.ManifestPath):
			path = t.ManifestPath
		}
	}
	if path == "" || !rel.Published() {
		s.fail(w, r, http.StatusNotFound, fmt.Sprintf("Release %s lists no file %q for download.", rel.ReleaseID, name), nil)
		return
	}
	f, err := openFile(path)
	if err != nil {
		s.fail(w, r, http.StatusNotFound, "The file could not be opened.", err)
		return
	}
	defer f.Close()
	if table != nil {
		if err := checkSHA256(f, table.ManifestPath); err != nil {
			s.fail(w, r, http.StatusConflict, "The file is not the one its manifest describes.", err)
			return
		}
	}
	st, err := f.Stat()
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "The file could not be read.", err)
		return
	}
	w.Header().Set("Content-Type", contentType(name))
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	http.ServeContent(w, r, name, st.ModTime(), f)
}

func contentType(name string) string {
	switch {
	case strings.HasSuffix(name, ".json"):
		return "application/json"
	case strings.HasSuffix(name, ".csv"):
		return "text/csv; charset=utf-8"
	case strings.HasSuffix(name, ".parquet"):
		return "application/vnd.apache.parquet"
	}
	return "application/octet-stream"
}

// openFile opens a regular file for reading: neither it nor its folder may
// be a symlink.
func openFile(path string) (*os.File, error) {
	dir := filepath.Dir(path)
	st, err := os.Lstat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s: is a symlink or not a folder; the console reads only regular files and folders", dir)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|noFollow, 0)
	if err != nil {
		if isLoop(err) {
			return nil, fmt.Errorf("%s: is a symlink; the console reads only regular files: %w", path, err)
		}
		return nil, err
	}
	if fst, err := f.Stat(); err != nil || !fst.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = fmt.Errorf("%s: is not a regular file", path)
		}
		return nil, err
	}
	return f, nil
}

// readNoFollow reads a whole regular file (see openFile).
func readNoFollow(path string) ([]byte, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}
