package console

import (
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/privagg/privagg/explain"
	"github.com/privagg/privagg/job"
)

// TestWhatIfEqualsExplain: every number of the what-if page is
// explain.Explain's for that job and epsilon.
func TestWhatIfEqualsExplain(t *testing.T) {
	fx := demo(t)
	for _, s := range []*Server{officer(t, false), analyst(t)} {
		for _, file := range []string{"audience.yaml", "web_csv.yaml"} {
			q := url.Values{"job": {file}, "epsilon": {"0.5, 2,0.5"}}
			doc, b := getPage(t, s, "/whatif?"+q.Encode())
			j, err := job.LoadJob(filepath.Join(fx.jobs, file))
			if err != nil {
				t.Fatal(err)
			}
			tables := findAll(doc, func(n *html.Node) bool { _, ok := attr(n, "data-output"); return n.Data == "table" && ok })
			want, err := explain.Explain(t.Context(), j, 0, "", true)
			if err != nil {
				t.Fatal(err)
			}
			if len(tables) != len(want.Outputs) {
				t.Fatalf("%s: %d output tables, want %d", file, len(tables), len(want.Outputs))
			}
			cols := findAll(tables[0], func(n *html.Node) bool { _, ok := attr(n, "data-epsilon"); return ok })
			var eps []float64
			for _, c := range cols {
				v, _ := attr(c, "data-epsilon")
				e, _ := strconv.ParseFloat(v, 64)
				eps = append(eps, e)
			}
			// The job's own epsilon (1) first, then 0.5 and 2 (once).
			if len(eps) != 3 || eps[0] != j.Privacy.Epsilon || eps[1] != 0.5 || eps[2] != 2 {
				t.Fatalf("%s: epsilon columns %v, want [%g 0.5 2]", file, eps, j.Privacy.Epsilon)
			}
			checked := 0
			for ci, e := range eps {
				arg := e
				if ci == 0 {
					arg = 0
				}
				rep, err := explain.Explain(t.Context(), j, arg, "", true)
				if err != nil {
					t.Fatal(err)
				}
				for oi, po := range rep.Outputs {
					rows := findAll(tables[oi], tag("tr"))
					for _, row := range rows {
						metric, ok := attr(row, "data-metric")
						if !ok {
							continue
						}
						cell := findAll(row, tag("td"))[ci]
						if metric == "(release)" {
							checked += checkSelection(t, file, e, po, cell)
							continue
						}
						for _, pm := range po.Metrics {
							if pm.Name == metric {
								checked += checkMetric(t, file, e, pm, cell)
							}
						}
					}
				}
			}
			if checked < 6 {
				t.Errorf("%s: checked %d numbers, want every metric of every epsilon", file, checked)
			}
			if strings.Contains(b, "fits:") != (s.Mode() == ModeOfficer) {
				t.Errorf("%s (%s): budget fit shown %v, want it only for officers", file, s.Mode(), strings.Contains(b, "fits:"))
			}
		}
	}
}

func checkSelection(t *testing.T, file string, e float64, po explain.PlanOutput, cell *html.Node) int {
	t.Helper()
	p50, ok50 := attr(cell, "data-people50")
	p95, _ := attr(cell, "data-people95")
	if po.Selection == nil || po.Public {
		if ok50 || !strings.Contains(text(cell), "every listed key") {
			t.Errorf("%s at %g, output %s: public partitions, cell %q", file, e, po.Name, text(cell))
		}
		return 1
	}
	if p50 != strconv.FormatInt(po.Selection.People50, 10) || p95 != strconv.FormatInt(po.Selection.People95, 10) || po.Selection.People50 <= 0 {
		t.Errorf("%s at %g, output %s: people %s/%s, explain says %d/%d", file, e, po.Name, p50, p95, po.Selection.People50, po.Selection.People95)
	}
	return 1
}

func checkMetric(t *testing.T, file string, e float64, pm explain.PlanMetric, cell *html.Node) int {
	t.Helper()
	num := func(key string) float64 {
		v, ok := attr(cell, key)
		if !ok {
			t.Errorf("%s at %g, metric %s: no %s", file, e, pm.Name, key)
			return -1
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Errorf("%s at %g, metric %s: %s=%q", file, e, pm.Name, key, v)
		}
		return f
	}
	switch {
	case pm.CI95ByPeople != nil:
		v, _ := attr(cell, "data-ci95-by-people")
		parts := strings.Split(v, ", ")
		if len(parts) != len(explain.PeopleScale) {
			t.Fatalf("%s at %g, metric %s: by people %q", file, e, pm.Name, v)
		}
		for i, n := range explain.PeopleScale {
			got, _ := strconv.ParseFloat(parts[i], 64)
			if want := pm.CI95ByPeople[strconv.FormatInt(n, 10)]; got != want {
				t.Errorf("%s at %g, metric %s, %d people: ci95 %v, explain says %v", file, e, pm.Name, n, got, want)
			}
		}
	case pm.Type == "quantiles":
		if got := num("data-stddev"); got != pm.Components[0].Scale {
			t.Errorf("%s at %g, metric %s: sd %v, explain says %v", file, e, pm.Name, got, pm.Components[0].Scale)
		}
	default:
		if got := num("data-ci95"); got != pm.CI95 || pm.CI95 <= 0 {
			t.Errorf("%s at %g, metric %s: ci95 %v, explain says %v", file, e, pm.Name, got, pm.CI95)
		}
		if got := num("data-stddev"); got != pm.StdDev {
			t.Errorf("%s at %g, metric %s: sd %v, explain says %v", file, e, pm.Name, got, pm.StdDev)
		}
	}
	return 1
}

func TestWhatIfForm(t *testing.T) {
	s := officer(t, false)
	_, b := getPage(t, s, "/whatif")
	for _, want := range []string{"audience.yaml", "crm_regions.yaml", "web_csv.yaml", `value="0.25, 0.5, 1, 2"`, "people a row needs"} {
		if !strings.Contains(b, want) {
			t.Errorf("what-if page lacks %q", want)
		}
	}
	// crm_events has 3 - 0.5 left this month: epsilon 1 fits, 5 does not.
	_, b = getPage(t, s, "/whatif?job=crm_regions.yaml&epsilon=5")
	if !strings.Contains(b, "fits: epsilon 2 of 2.5 remaining would be left") || !strings.Contains(b, "refused:") {
		t.Errorf("crm what-if: want the job's epsilon to fit and 5 refused\n%s", b)
	}
	for q, status := range map[string]int{
		"epsilon=-1": http.StatusBadRequest, "epsilon=abc": http.StatusBadRequest, "epsilon=NaN": http.StatusBadRequest,
		"epsilon=1,2,3,4,5,6,7,8,9":           http.StatusBadRequest,
		"job=../ledger/privagg-ledger.duckdb": http.StatusNotFound, "job=nope.yaml": http.StatusNotFound,
		"job=" + url.QueryEscape("/etc/passwd"): http.StatusNotFound,
	} {
		if resp := get(t, s, "/whatif?"+q); resp.StatusCode != status {
			t.Errorf("GET /whatif?%s: status %d, want %d", q, resp.StatusCode, status)
		}
	}
	// Without --jobs the page says how to give one.
	fx := demo(t)
	plain := newTestServer(t, Config{LedgerPath: fx.ledger, Token: testToken})
	if _, b := getPage(t, plain, "/whatif"); !strings.Contains(b, "--jobs DIR") {
		t.Errorf("what-if without a jobs folder does not say how to give one")
	}
}

func TestParseEpsilons(t *testing.T) {
	got, err := parseEpsilons(" 0.25,0.5 1;2, 0.5 ")
	if err != nil || len(got) != 4 || got[0] != 0.25 || got[3] != 2 {
		t.Errorf("parseEpsilons: %v, %v", got, err)
	}
	for _, bad := range []string{"0", "-1", "1e400", "inf", "x"} {
		if _, err := parseEpsilons(bad); err == nil {
			t.Errorf("parseEpsilons(%q): no error", bad)
		}
	}
}
