package console

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/privagg/privagg/catalog"
	"github.com/privagg/privagg/internal/sqlq"
)

// A table's workspace: /releases/{id}/tables/{output} shows one released
// table with a filter on every column and a chart of its values with their
// intervals; /releases/{id}/tables/{output}.csv and .parquet download it
// (filtered when the URL carries the page's filter). The URLs without a
// filter are stable: they always serve the whole table of that release.
//
// Filters are query parameters: f.<column>=TEXT keeps rows whose key
// contains TEXT (case-insensitive); min.<column>=X and max.<column>=X keep
// rows whose value lies in [X, Y]. They become SQL over the released table
// only, with every value a literal, run by the catalog's query engine (the
// same sandbox as privagg query).

// tableFilter is the parsed filter of a request.
type tableFilter struct {
	Text     map[string]string // key column -> contained text
	Min, Max map[string]float64
	Query    string // the filter as URL query parameters ("" when none)
}

// columnsOf are the columns of t: its group-by keys, then every metric
// column (with its _ci95 columns).
func columnsOf(t catalog.Table) (keys, metrics []string) {
	for _, m := range t.Metrics {
		metrics = append(metrics, m.Columns...)
	}
	return t.GroupBy, metrics
}

// parseFilter reads the filter of t from q: unknown parameters are
// ignored; a bound that is not a finite number is an error naming it.
func parseFilter(t catalog.Table, q url.Values) (tableFilter, error) {
	f := tableFilter{Text: map[string]string{}, Min: map[string]float64{}, Max: map[string]float64{}}
	keep := url.Values{}
	keys, metrics := columnsOf(t)
	for _, k := range keys {
		if v := strings.TrimSpace(q.Get("f." + k)); v != "" {
			f.Text[k] = v
			keep.Set("f."+k, v)
		}
	}
	for _, c := range metrics {
		for _, b := range []struct {
			prefix string
			dst    map[string]float64
		}{{"min.", f.Min}, {"max.", f.Max}} {
			s := strings.TrimSpace(q.Get(b.prefix + c))
			if s == "" {
				continue
			}
			x, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				return f, fmt.Errorf("filter %s%s: %q is not a finite number", b.prefix, c, s)
			}
			b.dst[c] = x
			keep.Set(b.prefix+c, s)
		}
	}
	f.Query = keep.Encode()
	return f, nil
}

// sql is the query of table t (by its query name) under the filter.
func (f tableFilter) sql(t catalog.Table) string {
	var where []string
	keys, metrics := columnsOf(t)
	for _, k := range keys {
		if v, ok := f.Text[k]; ok {
			where = append(where, fmt.Sprintf("contains(lower(%s), lower(%s))", sqlq.Ident(k), sqlq.String(v)))
		}
	}
	for _, c := range metrics {
		if x, ok := f.Min[c]; ok {
			where = append(where, fmt.Sprintf("%s >= %s", sqlq.Ident(c), strconv.FormatFloat(x, 'g', -1, 64)))
		}
		if x, ok := f.Max[c]; ok {
			where = append(where, fmt.Sprintf("%s <= %s", sqlq.Ident(c), strconv.FormatFloat(x, 'g', -1, 64)))
		}
	}
	sql := "SELECT * FROM " + sqlq.Ident(t.QueryName)
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	return sql
}

// queryTable runs the filtered query of output in release rel and writes
// the result in format to a buffer.
func queryTable(ctx context.Context, cat *catalog.Catalog, rel *catalog.Release, t catalog.Table, f tableFilter, format catalog.Format) ([]byte, error) {
	db, err := catalog.OpenDB(ctx, &catalog.Catalog{LedgerPath: cat.LedgerPath, Published: cat.Published, Releases: []catalog.Release{*rel}})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rr, err := db.Query(ctx, f.sql(t))
	if err != nil {
		return nil, err
	}
	defer rr.Release()
	var buf bytes.Buffer
	if err := catalog.WriteResult(ctx, &buf, rr, format); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// findTable is the table of the request's {id} and output name; nil after
// an error page.
func (s *Server) findTable(w http.ResponseWriter, r *http.Request, output string) (*catalog.Catalog, *catalog.Release, *catalog.Table) {
	cat, rel := s.lookup(w, r)
	if rel == nil {
		return nil, nil, nil
	}
	if rel.Published() && rel.Problem == "" {
		for i := range rel.Tables {
			if rel.Tables[i].Output == output {
				return cat, rel, &rel.Tables[i]
			}
		}
	}
	s.fail(w, r, http.StatusNotFound, fmt.Sprintf("Release %s has no published table %q.", rel.ReleaseID, output), nil)
	return nil, nil, nil
}

// tableExports are the download formats of a table, by file extension.
var tableExports = map[string]struct {
	format      catalog.Format
	contentType string
}{
	".csv":     {catalog.FormatCSV, "text/csv; charset=utf-8"},
	".parquet": {catalog.FormatParquet, "application/vnd.apache.parquet"},
}

// tableRoute serves /releases/{id}/tables/{name}: the table page, or its
// CSV or Parquet download.
func (s *Server) tableRoute(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	for ext, exp := range tableExports {
		if output, ok := strings.CutSuffix(name, ext); ok {
			s.exportTable(w, r, output, ext, exp.format, exp.contentType)
			return
		}
	}
	s.tablePage(w, r, name)
}

func (s *Server) exportTable(w http.ResponseWriter, r *http.Request, output, ext string, format catalog.Format, contentType string) {
	cat, rel, t := s.findTable(w, r, output)
	if t == nil {
		return
	}
	f, err := parseFilter(*t, r.URL.Query())
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, "The filter could not be read:", err)
		return
	}
	data, err := queryTable(r.Context(), cat, rel, *t, f, format)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "The table could not be read.", err)
		return
	}
	file := output + "__" + rel.ReleaseID + ext
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", file))
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	if r.Method != http.MethodHead {
		_, _ = w.Write(data)
	}
}

// tablePageView is the table page's data.
type tablePageView struct {
	R       *catalog.Release
	Table   tableView
	Filters []filterField
	Filter  tableFilter
	Chart   *chart
	Metrics []string // metrics the chart can show
	Metric  string   // the one it shows
	Total   int      // rows matching the filter
	Problem string
	// CSV, Parquet and API are the filtered table's download and JSON URLs.
	CSV, Parquet, API string
}

// filterField is one input of the filter form.
type filterField struct {
	Column, Name, Label, Value, Kind string // Kind: text | number
}

func (s *Server) tablePage(w http.ResponseWriter, r *http.Request, output string) {
	cat, rel, t := s.findTable(w, r, output)
	if t == nil {
		return
	}
	q := r.URL.Query()
	v := tablePageView{R: rel, Table: tableView{T: *t}}
	f, err := parseFilter(*t, q)
	if err != nil {
		v.Problem = err.Error()
		f, _ = parseFilter(*t, url.Values{})
	}
	v.Filter = f
	v.Filters = filterFields(*t, q)
	base := "/releases/" + url.PathEscape(rel.ReleaseID) + "/tables/" + url.PathEscape(output)
	query := ""
	if f.Query != "" {
		query = "?" + f.Query
	}
	v.CSV, v.Parquet = base+".csv"+query, base+".parquet"+query
	v.API = "/api/v1/releases/" + url.PathEscape(rel.ReleaseID) + "/tables/" + url.PathEscape(output) + query
	header, rows, err := readCSV(queryTable(r.Context(), cat, rel, *t, f, catalog.FormatCSV))
	if err != nil {
		s.cfg.Logger.Error("console: read table", "release", rel.ReleaseID, "table", output, "err", err)
		v.Problem = "The table could not be read: " + err.Error()
	} else {
		v.Total = len(rows)
		v.Metrics = chartMetrics(*t, header)
		v.Metric = q.Get("chart")
		if !contains(v.Metrics, v.Metric) && len(v.Metrics) > 0 {
			v.Metric = v.Metrics[0]
		}
		v.Chart = newChart(t.GroupBy, header, rows, v.Metric)
		shown := rows
		if len(shown) > maxRows {
			shown = shown[:maxRows]
		}
		v.Table.layout(header, shown)
		v.Table.T.Rows = int64(len(rows))
	}
	status := http.StatusOK
	if v.Problem != "" && err == nil {
		status = http.StatusBadRequest
	}
	s.render(w, r, status, "table.html", s.newPage("Table "+output+" of release "+rel.ReleaseID, "releases", v))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// filterFields are the inputs of t's filter form, filled from q.
func filterFields(t catalog.Table, q url.Values) []filterField {
	keys, metrics := columnsOf(t)
	var out []filterField
	for _, k := range keys {
		out = append(out, filterField{Column: k, Name: "f." + k, Label: k + " contains", Value: q.Get("f." + k), Kind: "text"})
	}
	for _, c := range metrics {
		out = append(out,
			filterField{Column: c, Name: "min." + c, Label: c + " at least", Value: q.Get("min." + c), Kind: "number"},
			filterField{Column: c, Name: "max." + c, Label: c + " at most", Value: q.Get("max." + c), Kind: "number"})
	}
	return out
}

// readCSV splits the CSV of a query result into its header and rows.
func readCSV(data []byte, err error) ([]string, [][]string, error) {
	if err != nil {
		return nil, nil, err
	}
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		return nil, nil, err
	}
	if len(recs) == 0 {
		return nil, nil, errors.New("no header")
	}
	return recs[0], recs[1:], nil
}
