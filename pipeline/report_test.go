package pipeline

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/privagg/privagg/explain"
	"github.com/privagg/privagg/internal/testfixture"
	"github.com/privagg/privagg/internal/testnoise"
	"github.com/privagg/privagg/internal/version"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
	"github.com/privagg/privagg/release"
)

// runForReport runs jobYAML on eventsCSV without noise and returns the job and
// its release store folder.
func runForReport(t *testing.T, jobYAML, id string) (*job.Job, string) {
	t.Helper()
	job := testfixture.CSVJob(t, jobYAML, eventsCSV, 10)
	defer testfixture.WithNoise(t, testnoise.None{})()
	if _, err := Run(context.Background(), job, RunOptions{NewEngine: embedded, ReleaseID: id}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	led, err := privacy.OpenLedger(job.Ledger)
	if err != nil {
		t.Fatal(err)
	}
	return job, led.StoreDir(id)
}

// normalizeReport replaces what changes from run to run (times, the
// machine, the version, temp paths) with fixed values.
func normalizeReport(r *release.ReleaseReport) {
	fixed := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r.PrivaggVersion = "test"
	r.RunBy, r.Host = "officer", "host"
	r.ReservedAt, r.Created, r.Generated = fixed, fixed, fixed
	r.JobFile.Path = "job.yaml"
	if st := &r.Budget.Dataset; st.PeriodStart != nil {
		st.PeriodStart, st.PeriodEnd = &fixed, &fixed
	}
}

func TestReleaseReportGolden(t *testing.T) {
	job, store := runForReport(t, goldenJob, "golden-1")
	data, err := os.ReadFile(filepath.Join(store, release.ReportJSONFile))
	if err != nil {
		t.Fatalf("report.json not in the release store: %v", err)
	}
	r, err := release.ReadReleaseReport(data)
	if err != nil {
		t.Fatal(err)
	}
	if r.PrivaggVersion != version.Version || r.RunBy == "" || r.ReservedAt.IsZero() || r.Created.IsZero() || r.Generated.IsZero() {
		t.Errorf("version %q, run_by %q, reserved %v, created %v, generated %v: want all set",
			r.PrivaggVersion, r.RunBy, r.ReservedAt, r.Created, r.Generated)
	}
	if r.JobFile.Path != job.File {
		t.Errorf("job_file.path = %q, want %q", r.JobFile.Path, job.File)
	}
	normalizeReport(r)
	got, err := r.EncodeJSON()
	if err != nil {
		t.Fatal(err)
	}
	checkReportGolden(t, got, "report.json")

	// The golden file pins every number; these pin the ones that matter.
	if r.Budget.Epsilon.String() != "1" || r.Budget.Dataset.EpsilonSpent.String() != "1" || r.Budget.Dataset.EpsilonRemaining.String() != "9" {
		t.Errorf("budget: charged %s, spent %s, remaining %s; want 1, 1, 9",
			r.Budget.Epsilon, r.Budget.Dataset.EpsilonSpent, r.Budget.Dataset.EpsilonRemaining)
	}
	in := r.Internal
	if in.RowsRead != 13 || in.RowsRejected != 2 || in.RowsExcludedByConsent != 1 {
		t.Errorf("internal counts read=%d rejected=%d excluded=%d, want 13, 2, 1", in.RowsRead, in.RowsRejected, in.RowsExcludedByConsent)
	}
	if len(in.Outputs) != 2 || in.Outputs[0].Released != 4 || in.Outputs[1].Released != 7 {
		t.Errorf("internal outputs = %+v, want by_channel 4 and by_age 7 released", in.Outputs)
	}
}

// TestReleaseReportMatchesPlan: the report's accuracy figures are those of
// `privagg plan`, not a second computation; with Gaussian noise, so is the
// composition (the block's (ε, δ) and ρ, and each metric's ρ).
func TestReleaseReportMatchesPlan(t *testing.T) {
	gaussian := strings.Replace(goldenJob, "  delta: 1e-6\n", "  delta: 1e-6\n  noise: gaussian\n", 1)
	if gaussian == goldenJob {
		t.Fatal("goldenJob has no delta line to add gaussian noise after")
	}
	for _, tc := range []struct{ name, job string }{{"laplace", goldenJob}, {"gaussian", gaussian}} {
		t.Run(tc.name, func(t *testing.T) { checkReportMatchesPlan(t, tc.job) })
	}
}

func checkReportMatchesPlan(t *testing.T, jobYAML string) {
	job, store := runForReport(t, jobYAML, "plan-1")
	data, err := os.ReadFile(filepath.Join(store, release.ReportJSONFile))
	if err != nil {
		t.Fatal(err)
	}
	r, err := release.ReadReleaseReport(data)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := explain.Explain(context.Background(), job, 0, "", true)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Outputs) != len(plan.Outputs) {
		t.Fatalf("report has %d outputs, plan %d", len(r.Outputs), len(plan.Outputs))
	}
	if (plan.Gaussian == nil) != (r.Noise != string(privacy.Gaussian)) {
		t.Errorf("noise %s, plan composition %+v", r.Noise, plan.Gaussian)
	}
	if g := plan.Gaussian; g != nil && (r.Gaussian == nil || *r.Gaussian != *g) {
		t.Errorf("report composition %+v, plan %+v", r.Gaussian, g)
	}
	for i, po := range plan.Outputs {
		ro := r.Outputs[i]
		for j, pm := range po.Metrics {
			rm := ro.Metrics[j]
			if rm.Name != pm.Name || rm.Epsilon != pm.Epsilon || rm.Delta != pm.Delta || rm.StdDev != pm.StdDev || rm.CI95 != pm.CI95 || rm.Rho != pm.Rho {
				t.Errorf("%s.%s: report %+v, plan %+v", po.Name, pm.Name, rm.PlanMetric, pm)
			}
		}
	}
}

// TestReleaseReportLeaksNothing: neither report names an input value,
// identifier or person, and the report files are never published.
func TestReleaseReportLeaksNothing(t *testing.T) {
	job, store := runForReport(t, goldenJob, "leak-1")
	for _, name := range []string{release.ReportJSONFile, release.ReportHTMLFile} {
		data, err := os.ReadFile(filepath.Join(store, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"alice", "bob@", "dave", "example.com", "u1", "u4", "999"} {
			if containsToken(data, s) {
				t.Errorf("%s contains input value %q", name, s)
			}
		}
		if _, err := os.Stat(filepath.Join(job.Output.Dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s was published to output.dir (stat: %v)", name, err)
		}
	}
}

func TestReleaseReportHTML(t *testing.T) {
	hostile := strings.Replace(goldenJob, "name: golden\n",
		"name: golden\n# <script>alert(1)</script> & </pre><img src=x onerror=alert(2)> ]]>\n", 1)
	_, store := runForReport(t, hostile, "html-1")
	page, err := os.ReadFile(filepath.Join(store, release.ReportHTMLFile))
	if err != nil {
		t.Fatalf("REPORT.html not in the release store: %v", err)
	}

	t.Run("well-formed XML", func(t *testing.T) {
		// The page is written XHTML-compatible: a strict XML parse proves
		// every tag is closed and nested.
		dec := xml.NewDecoder(bytes.NewReader(page))
		dec.Strict = true
		var stack []string
		for {
			tok, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("not well-formed: %v", err)
			}
			switch e := tok.(type) {
			case xml.StartElement:
				stack = append(stack, e.Name.Local)
			case xml.EndElement:
				stack = stack[:len(stack)-1]
			}
		}
		if len(stack) != 0 {
			t.Errorf("unclosed elements %v", stack)
		}
	})

	t.Run("HTML structure", func(t *testing.T) {
		doc, err := html.Parse(bytes.NewReader(page))
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		var external []string
		var walk func(n *html.Node)
		walk = func(n *html.Node) {
			if n.Type == html.ElementNode {
				count[n.Data]++
				for _, a := range n.Attr {
					switch a.Key {
					case "src", "href", "xlink:href", "action", "srcset", "poster", "data":
						external = append(external, n.Data+" "+a.Key+"="+a.Val)
					}
				}
			}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c)
			}
		}
		walk(doc)
		if len(external) > 0 {
			t.Errorf("references to other resources: %v", external)
		}
		for _, el := range []string{"script", "link", "img", "iframe", "object", "embed", "base"} {
			if count[el] > 0 {
				t.Errorf("page has %d <%s> elements, want none", count[el], el)
			}
		}
		if count["svg"] < 3 || count["style"] != 1 || count["pre"] != 1 || count["section"] != 1 {
			t.Errorf("element counts %v: want >= 3 svg (budget bars, error bars), 1 style, 1 pre, 1 section", count)
		}
	})

	t.Run("no external assets", func(t *testing.T) {
		for _, s := range []string{"http://", "https://", "//fonts.", "url(", "@import"} {
			if bytes.Contains(page, []byte(s)) {
				t.Errorf("page contains %q", s)
			}
		}
		if !bytes.Contains(page, []byte(`default-src 'none'`)) {
			t.Error("page lacks a Content-Security-Policy that forbids loading anything")
		}
	})

	t.Run("job file escaped", func(t *testing.T) {
		for _, s := range []string{"<script>", "<img", "</pre><"} {
			if bytes.Contains(page, []byte(s)) {
				t.Errorf("job file text %q reached the page unescaped", s)
			}
		}
		if !bytes.Contains(page, []byte("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;/pre&gt;&lt;img")) {
			t.Error("escaped job file text not found in the page")
		}
	})

	t.Run("sections", func(t *testing.T) {
		for _, s := range []string{
			"Release id", "html-1", "Run by", "Purpose", "marketing", "test_events",
			"epsilon: 1 spent of 10, 9 remaining", // the budget bar's heading
			"by_channel", "avg_revenue", "±1 standard deviation",
			"INTERNAL", "Not for marketing: exact, non-private counts", "rejected as malformed", "suppressed",
		} {
			if !bytes.Contains(page, []byte(s)) {
				t.Errorf("page lacks %q", s)
			}
		}
		internal := bytes.Index(page, []byte(`<section class="internal"`))
		rowsRead := bytes.Index(page, []byte("<td>read</td>"))
		if internal < 0 || rowsRead < internal {
			t.Error("exact row counts appear outside the INTERNAL section")
		}
	})
}

// checkReportGolden compares got with testdata/report/name (-update rewrites it).
func checkReportGolden(t *testing.T, got []byte, name string) {
	t.Helper()
	path := filepath.Join("testdata", "report", name)
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
		t.Errorf("%s differs from golden:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// containsToken reports whether s occurs in data as a whole token: not as
// part of a longer run of letters, digits and dots. The reports carry
// SHA-256 digests and noised numbers, in which a short input value such as
// "999" occurs by chance (in about one run in twenty); a leaked value stands
// on its own ("999", : 999,).
func containsToken(data []byte, s string) bool {
	inToken := func(c byte) bool {
		return c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	}
	for i := 0; ; {
		k := bytes.Index(data[i:], []byte(s))
		if k < 0 {
			return false
		}
		start, end := i+k, i+k+len(s)
		if (start == 0 || !inToken(data[start-1]) || !inToken(s[0])) && (end == len(data) || !inToken(data[end]) || !inToken(s[len(s)-1])) {
			return true
		}
		i = start + 1
	}
}

func TestContainsToken(t *testing.T) {
	for _, tc := range []struct {
		data, s string
		want    bool
	}{
		{`"revenue": 999,`, "999", true},
		{`"999"`, "999", true},
		{`999`, "999", true},
		{`"sha256": "ab9991f0"`, "999", false},
		{`"value": 1999.5`, "999", false},
		{`bob@example.com`, "bob@", true},
		{`"u1"`, "u1", true},
		{`"run_u12"`, "u1", false},
	} {
		if got := containsToken([]byte(tc.data), tc.s); got != tc.want {
			t.Errorf("containsToken(%q, %q) = %v, want %v", tc.data, tc.s, got, tc.want)
		}
	}
}
