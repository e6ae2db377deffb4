package console

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/privagg/privagg/engine/duckdb"
	"github.com/privagg/privagg/internal/testfixture"
	"github.com/privagg/privagg/internal/testnoise"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/pipeline"
)

// The fixture is a small demo project, built once per test binary: a ledger
// with two datasets (web_events, a budget for all time; crm_events, monthly),
// three published releases (csv, parquet, duckdb) made without noise, their
// published folders, and the job files (the what-if folder).

const fixtureEvents = `email,user_id,campaign,channel,region,revenue,consent_marketing
alice@example.com,u1,cmp_a,email,europe,100,true
alice@example.com,u1,cmp_a,email,europe,200,true
bob@example.com,u2,cmp_a,email,europe,20,true
carol@example.com,u3,cmp_a,search,americas,0,true
dave@example.com,u4,cmp_b,email,asia,999,false
erin@example.com,u5,cmp_b,search,asia,1,true
frank@example.com,u6,cmp_b,email,americas,40,true
,u7,cmp_b,email,americas,40,true
grace@example.com,,cmp_a,email,europe,5,true
`

func webJob(format string) string {
	return `version: 1
name: web_` + format + `
dataset: web_events
purpose: marketing
input:
  path: ../events.csv
  max_reject_fraction: 0.2
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
  - name: by_channel_` + format + `
    group_by: [campaign, channel]
    public_partitions:
      campaign: [cmp_a, cmp_b]
      channel: [email, search]
    metrics:
      - {name: events, type: count, max_per_unit: 3}
      - {name: people, type: count_units}
      - {name: revenue, type: sum, column: revenue, min: 0, max: 500}
      - {name: avg_revenue, type: mean, column: revenue, min: 0, max: 500}
output:
  dir: ../out_` + format + `
  format: ` + format + `
ledger: ../ledger/privagg-ledger.duckdb
`
}

const crmJob = `version: 1
name: crm_regions
dataset: crm_events
purpose: analytics
input:
  path: ../events.csv
  max_reject_fraction: 0.2
privacy_unit: user_id
identifiers: [email]
consent:
  column: consent_marketing
privacy:
  epsilon: 0.5
  delta: 1e-6
  k: 2
  max_partitions_per_unit: 1
outputs:
  - name: by_region
    group_by: [region]
    public_partitions:
      region: [europe, americas, asia]
    metrics:
      - {name: people, type: count_units}
      - {name: revenue, type: sum, column: revenue, min: 0, max: auto}
output:
  dir: ../out_duckdb
  format: duckdb
ledger: ../ledger/privagg-ledger.duckdb
`

// audienceJob is only planned (the what-if page): its keys come from the
// data, so a row needs enough people to be released. With L0 > 3 the chance
// of release is computed in closed form (below, by simulation), so the page
// and explain.Explain agree exactly.
const audienceJob = `version: 1
name: audience
dataset: web_events
purpose: marketing
input:
  path: ../events.csv
  max_reject_fraction: 0.2
privacy_unit: user_id
consent:
  column: consent_marketing
privacy:
  epsilon: 1
  delta: 1e-6
  k: 10
  max_partitions_per_unit: 4
outputs:
  - name: audience
    group_by: [region, channel]
    metrics:
      - {name: people, type: count_units}
      - {name: avg_revenue, type: mean, column: revenue, min: 0, max: 500}
      - {name: revenue_quantiles, type: quantiles, column: revenue, min: 0, max: 500, ranks: [0.5, 0.9]}
output:
  dir: ../out_audience
  format: parquet
ledger: ../ledger/privagg-ledger.duckdb
`

type fixture struct {
	dir, ledger, jobs string
	published         []string // out_csv, out_parquet, out_duckdb
	ids               []string // r-web-csv, r-web-parquet, r-crm
	err               error
}

var (
	fixtureOnce sync.Once
	theFixture  fixture
)

func TestMain(m *testing.M) {
	// A job file's environment overrides (PRIVAGG_*) must not change the fixture.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "PRIVAGG_") && k != "PRIVAGG_CONSOLE_SCREENSHOTS" {
			os.Unsetenv(k)
		}
	}
	code := m.Run()
	if theFixture.dir != "" {
		os.RemoveAll(theFixture.dir)
	}
	os.Exit(code)
}

// demo returns the fixture, building it on first use.
func demo(t *testing.T) fixture {
	t.Helper()
	// The releases are made without noise, so that tests can check values.
	defer testfixture.WithNoise(t, testnoise.None{})()
	fixtureOnce.Do(func() { theFixture = buildFixture() })
	if theFixture.err != nil {
		t.Fatalf("fixture: %v", theFixture.err)
	}
	return theFixture
}

func buildFixture() (fx fixture) {
	dir, err := os.MkdirTemp("", "privagg-console-")
	if err != nil {
		return fixture{err: err}
	}
	fx.dir = dir
	fx.ledger = filepath.Join(dir, "ledger", "privagg-ledger.duckdb")
	fx.jobs = filepath.Join(dir, "jobs")
	err = testfixture.WriteFiles(dir, map[string]string{
		"events.csv":            fixtureEvents,
		"jobs/web_csv.yaml":     webJob("csv"),
		"jobs/web_parquet.yaml": webJob("parquet"),
		"jobs/crm_regions.yaml": crmJob,
		"jobs/audience.yaml":    audienceJob,
	})
	if err == nil {
		err = testfixture.SetBudget(fx.ledger, "web_events", testfixture.Budget{Epsilon: 10})
	}
	if err == nil {
		err = testfixture.SetBudget(fx.ledger, "crm_events", testfixture.Budget{Epsilon: 3, Delta: 1e-4, Period: "month"})
	}
	if err != nil {
		fx.err = err
		return fx
	}
	ctx := context.Background()
	for _, r := range []struct{ id, file, out string }{
		{"r-web-csv", "web_csv.yaml", "out_csv"},
		{"r-web-parquet", "web_parquet.yaml", "out_parquet"},
		{"r-crm", "crm_regions.yaml", "out_duckdb"},
	} {
		j, err := job.LoadJob(filepath.Join(fx.jobs, r.file))
		if err != nil {
			fx.err = err
			return fx
		}
		if _, err := pipeline.Run(ctx, j, pipeline.RunOptions{NewEngine: duckdb.Factory(duckdb.Options{}), ReleaseID: r.id}); err != nil {
			fx.err = fmt.Errorf("run %s: %w", r.id, err)
			return fx
		}
		fx.ids = append(fx.ids, r.id)
		fx.published = append(fx.published, filepath.Join(dir, r.out))
	}
	return fx
}

// newTestServer returns a console over cfg, failing the test on error.
func newTestServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func officer(t *testing.T, internal bool) *Server {
	fx := demo(t)
	return newTestServer(t, Config{LedgerPath: fx.ledger, JobsDir: fx.jobs, Internal: internal, Token: testToken, Loopback: true,
		Now: func() time.Time { return time.Now().Add(time.Hour) }})
}

func analyst(t *testing.T) *Server {
	fx := demo(t)
	return newTestServer(t, Config{Published: fx.published, JobsDir: fx.jobs, Token: testToken, Loopback: true})
}

// anonymous is the header of a request without credentials (do sends
// none for an empty Authorization).
var anonymous = []string{"Authorization", ""}

// get requests path from h as a browser on this machine that signed in
// with testToken would; header (name, value pairs) is added, and a request
// with an Authorization or Cookie header of its own carries no other
// credentials.
func get(t *testing.T, h http.Handler, path string, header ...string) *http.Response {
	t.Helper()
	return do(t, h, http.MethodGet, path, nil, header...)
}

func do(t *testing.T, h http.Handler, method, path string, body io.Reader, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, "http://127.0.0.1:8080"+path, body)
	req.Header.Set("Authorization", "Bearer "+testToken)
	for i := 0; i+1 < len(header); i += 2 {
		switch header[i] {
		case "Host":
			req.Host = header[i+1]
			continue
		case "Authorization", "Cookie":
			req.Header.Del("Authorization")
		}
		if header[i+1] != "" {
			req.Header.Set(header[i], header[i+1])
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

// body reads a response's body.
func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// getPage gets path, wants status 200 and returns the parsed page and its text.
func getPage(t *testing.T, h http.Handler, path string) (*html.Node, string) {
	t.Helper()
	resp := get(t, h, path)
	b := body(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d\n%s", path, resp.StatusCode, b)
	}
	doc, err := html.Parse(strings.NewReader(b))
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return doc, b
}

// findAll returns the elements under n for which keep is true, in document order.
func findAll(n *html.Node, keep func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && keep(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data + " ")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

func tag(name string) func(*html.Node) bool { return func(n *html.Node) bool { return n.Data == name } }
