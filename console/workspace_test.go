package console

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// TestTableDownloads (issue 24, item 6): the release page links each table
// as CSV and Parquet, and the links serve the whole table.
func TestTableDownloads(t *testing.T) {
	for _, s := range []*Server{officer(t, false), analyst(t)} {
		doc, _ := getPage(t, s, "/releases/r-web-csv")
		var links []string
		for _, a := range findAll(doc, tag("a")) {
			if c, _ := attr(a, "class"); c == "dl-csv" || c == "dl-parquet" {
				href, _ := attr(a, "href")
				links = append(links, href)
			}
		}
		want := []string{"/releases/r-web-csv/tables/by_channel_csv.csv", "/releases/r-web-csv/tables/by_channel_csv.parquet"}
		if strings.Join(links, " ") != strings.Join(want, " ") {
			t.Fatalf("%s: download links %v, want %v", s.Mode(), links, want)
		}
		resp := get(t, s, links[0])
		b := body(t, resp)
		recs, err := csv.NewReader(strings.NewReader(b)).ReadAll()
		if resp.StatusCode != http.StatusOK || err != nil || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
			len(recs) != 5 || strings.Join(recs[0][:3], ",") != "campaign,channel,events" {
			t.Errorf("%s: CSV: status %d, %v, type %q, %d records\n%s", s.Mode(), resp.StatusCode, err, resp.Header.Get("Content-Type"), len(recs), b)
		}
		if cd := resp.Header.Get("Content-Disposition"); !strings.Contains(cd, `filename="by_channel_csv__r-web-csv.csv"`) {
			t.Errorf("%s: CSV disposition %q", s.Mode(), cd)
		}
		resp = get(t, s, links[1])
		if b := body(t, resp); resp.StatusCode != http.StatusOK || !strings.HasPrefix(b, "PAR1") || !strings.HasSuffix(b, "PAR1") {
			t.Errorf("%s: Parquet: status %d, %d bytes", s.Mode(), resp.StatusCode, len(b))
		}
		if resp := get(t, s, "/releases/r-web-csv/tables/nope.csv"); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: unknown table: status %d, want 404", s.Mode(), resp.StatusCode)
		}
	}
}

// TestTableFilterAndChart: the table page has a filter input for every
// column, applies it to its rows and downloads, treats what is typed as a
// value (never SQL), and draws a chart without script.
func TestTableFilterAndChart(t *testing.T) {
	s := officer(t, false)
	doc, _ := getPage(t, s, "/releases/r-web-csv/tables/by_channel_csv")
	inputs := map[string]bool{}
	for _, in := range findAll(doc, tag("input")) {
		n, _ := attr(in, "name")
		inputs[n] = true
	}
	for _, n := range []string{"f.campaign", "f.channel", "min.events", "max.events", "min.people", "max.revenue_ci95", "min.avg_revenue"} {
		if !inputs[n] {
			t.Errorf("no filter input %s (have %v)", n, inputs)
		}
	}
	charts := findAll(doc, func(n *html.Node) bool { c, _ := attr(n, "class"); return n.Data == "svg" && c == "table-chart" })
	if len(charts) != 1 || len(findAll(charts[0], tag("polygon"))) != 2 || len(findAll(charts[0], tag("circle"))) != 4 {
		t.Errorf("chart: %d charts; want one with a band per campaign (2) and a point per row (4)", len(charts))
	}
	if len(findAll(doc, tag("script"))) > 0 {
		t.Error("the table page has a script")
	}

	doc, _ = getPage(t, s, "/releases/r-web-csv/tables/by_channel_csv?f.campaign=CMP_A&chart=people")
	rows := findAll(doc, func(n *html.Node) bool { return n.Data == "tr" && n.Parent != nil && n.Parent.Data == "tbody" })
	if len(rows) != 2 {
		t.Errorf("filter campaign contains CMP_A: %d rows, want 2", len(rows))
	}
	for _, r := range rows {
		if !strings.HasPrefix(text(r), "cmp_a") {
			t.Errorf("filtered row %q", text(r))
		}
	}
	resp := get(t, s, "/releases/r-web-csv/tables/by_channel_csv.csv?f.campaign=cmp_a&f.channel=search")
	if b := body(t, resp); strings.Count(b, "\n") != 2 || !strings.Contains(b, "cmp_a,search") {
		t.Errorf("filtered CSV:\n%s", b)
	}
	for _, q := range []string{"f.campaign=" + "x')%3B%20COPY%20(SELECT%201)%20TO%20'%2Ftmp%2Fpwn.csv'%3B--", "f.channel=%22%20OR%201%3D1%20--"} {
		resp := get(t, s, "/releases/r-web-csv/tables/by_channel_csv.csv?"+q)
		if b := body(t, resp); resp.StatusCode != http.StatusOK || strings.Count(b, "\n") != 1 {
			t.Errorf("filter %s: status %d, want 200 and the header only:\n%s", q, resp.StatusCode, b)
		}
	}
	if resp := get(t, s, "/releases/r-web-csv/tables/by_channel_csv?min.people=abc"); resp.StatusCode != http.StatusBadRequest ||
		!strings.Contains(body(t, resp), "min.people") {
		t.Errorf("a bound that is not a number: status %d, want 400 naming it", resp.StatusCode)
	}
}

// TestJSONAPI: releases, one release, a table's rows and budgets as JSON,
// under the console's token rules.
func TestJSONAPI(t *testing.T) {
	off, an := officer(t, false), analyst(t)
	var list struct {
		Releases []struct {
			ReleaseID string `json:"release_id"`
			Tables    []struct {
				Output, CSV, Parquet string
				RowsURL              string `json:"rows_url"`
			} `json:"tables"`
		} `json:"releases"`
	}
	decode := func(s *Server, path string, status int, v any) {
		t.Helper()
		resp := get(t, s, path)
		b := body(t, resp)
		if resp.StatusCode != status || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("GET %s: status %d type %q, want %d JSON\n%s", path, resp.StatusCode, resp.Header.Get("Content-Type"), status, b)
		}
		if err := json.Unmarshal([]byte(b), v); err != nil {
			t.Fatalf("GET %s: %v\n%s", path, err, b)
		}
	}
	decode(off, "/api/v1/releases", http.StatusOK, &list)
	if len(list.Releases) != 3 || list.Releases[0].ReleaseID != "r-web-csv" || len(list.Releases[0].Tables) != 1 ||
		list.Releases[0].Tables[0].CSV != "/releases/r-web-csv/tables/by_channel_csv.csv" {
		t.Errorf("releases: %+v", list)
	}
	var table struct {
		ReleaseID string `json:"release_id"`
		Latest    bool
		Rows      []map[string]any
	}
	decode(off, list.Releases[0].Tables[0].RowsURL+"?f.channel=email", http.StatusOK, &table)
	if table.ReleaseID != "r-web-csv" || len(table.Rows) != 2 || table.Rows[0]["channel"] != "email" || table.Rows[0]["people_ci95"] == nil {
		t.Errorf("table rows: %+v", table)
	}
	var one struct {
		ReleaseID string `json:"release_id"`
	}
	decode(an, "/api/v1/releases/r-crm", http.StatusOK, &one)
	var budgets struct {
		Budgets []struct{ Dataset string }
	}
	decode(off, "/api/v1/budgets", http.StatusOK, &budgets)
	if len(budgets.Budgets) != 2 {
		t.Errorf("budgets: %+v", budgets)
	}
	var e struct{ Error string }
	decode(an, "/api/v1/budgets", http.StatusNotFound, &e)
	decode(off, "/api/v1/releases/nope", http.StatusNotFound, &e)
	decode(off, "/api/v2/x", http.StatusNotFound, &e)
	for _, h := range [][]string{anonymous, {"Authorization", "Bearer wrong-token-wrong-token"}} {
		resp := get(t, off, "/api/v1/releases", h...)
		if b := body(t, resp); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(b, `"error"`) || strings.Contains(b, "r-web-csv") {
			t.Errorf("API with %q: status %d, want 401 JSON\n%s", h[1], resp.StatusCode, b)
		}
	}
}
