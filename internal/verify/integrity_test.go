package verify

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privagg/privagg/engine/duckdb"
	"github.com/privagg/privagg/internal/testfixture"
	"github.com/privagg/privagg/internal/testnoise"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/pipeline"
	"github.com/privagg/privagg/privacy"
	"github.com/privagg/privagg/release"
)

// TestVerifyIntegrity runs the consent and identity corpus (integrity.go,
// testdata/integrity) through pipeline.Run on the embedded engine without
// noise: each case ends as expected (exit code, run report counts, published
// values), nothing is charged when the input is refused, and no person id of
// the corpus reaches a log line, an error, a report or a published file. The
// Beam engine runs the same cases in beam/beamengine (TestIntegrityCorpus).
func TestVerifyIntegrity(t *testing.T) {
	cases, err := IntegrityCases()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			dir := t.TempDir()
			path, err := WriteIntegrityFiles(c, dir)
			if err != nil {
				t.Fatal(err)
			}
			j, err := job.LoadJob(path)
			if err != nil {
				t.Fatalf("LoadJob: %v", err)
			}
			if err := os.MkdirAll(filepath.Dir(j.Ledger), 0o755); err != nil {
				t.Fatal(err)
			}
			led, err := privacy.OpenLedger(j.Ledger)
			if err != nil {
				t.Fatal(err)
			}
			if err := led.SetBudget(context.Background(), j.Dataset, 100, 1e-3, "none"); err != nil {
				t.Fatal(err)
			}
			var logs logBuffer
			restore := testfixture.WithNoise(t, testnoise.None{})
			res, err := pipeline.Run(context.Background(), j, pipeline.RunOptions{NewEngine: duckdb.Factory(duckdb.Options{}), ReleaseID: "integrity-1", Logger: logs.logger()})
			restore()
			exit := "ok"
			switch exitCode(err) {
			case pipeline.ExitOK:
			case pipeline.ExitInput:
				exit = "input"
			default:
				exit = fmt.Sprintf("exit %d (%v)", exitCode(err), err)
			}
			var got IntegrityWant
			var rows map[string]IntegrityRow
			if err == nil {
				r := res.Report
				got = IntegrityWant{Read: r.RowsRead, Rejected: r.RowsRejected, Excluded: r.RowsExcludedByConsent,
					ConsentRead: r.ConsentRecordsRead, ConsentRejected: r.ConsentRecordsRejected}
				if rows, err = ReadIntegrityRows(j.Output.Dir); err != nil {
					t.Fatal(err)
				}
			} else if st, serr := led.Status(context.Background(), j.Dataset); serr != nil || !st.EpsilonSpent.IsZero() {
				t.Errorf("refused run: ledger status %v (%v), want nothing spent", st, serr)
			}
			for _, d := range CheckIntegrity(c, exit, got, rows) {
				t.Error(d)
			}
			if j.Consent.Waived != "" && err == nil {
				checkWaiverRecorded(t, j, led, "integrity-1")
			}
			leakScan(t, j, append(logs.Bytes(), []byte(fmt.Sprint(err))...), IntegritySecrets())
		})
	}
	if err := Write(Record{Section: "integrity", Check: "consent and person-id corpus: counts, released values, no ids leaked",
		Path: "pipeline.Run (duckdb)", Trials: len(cases), Pass: !t.Failed()}); err != nil {
		t.Error(err)
	}
}

// checkWaiverRecorded: a release of a job with consent.waived carries the
// reason in every manifest, in report.json and REPORT.html, and in its
// ledger record (from the journal).
func checkWaiverRecorded(t *testing.T, j *job.Job, led *privacy.Ledger, id string) {
	t.Helper()
	reason := j.Consent.Waived
	manifests, _ := filepath.Glob(filepath.Join(j.Output.Dir, "*"+release.ManifestSuffix))
	if len(manifests) == 0 {
		t.Fatal("no manifest published")
	}
	for _, p := range manifests {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		m, err := release.ReadManifest(f)
		f.Close()
		if err != nil || m.ConsentWaiver != reason {
			t.Errorf("%s: consent_waiver %q (%v), want %q", filepath.Base(p), m.ConsentWaiver, err, reason)
		}
	}
	data, err := os.ReadFile(filepath.Join(led.StoreDir(id), release.ReportJSONFile))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := release.ReadReleaseReport(data); err != nil || r.ConsentWaiver != reason {
		t.Errorf("report.json consent_waiver %q (%v), want %q", r.ConsentWaiver, err, reason)
	}
	if page, err := os.ReadFile(filepath.Join(led.StoreDir(id), release.ReportHTMLFile)); err != nil || !strings.Contains(string(page), "<strong>waived</strong>") {
		t.Errorf("REPORT.html does not show the waiver (%v)", err)
	}
	if rec, err := led.Lookup(context.Background(), id); err != nil || rec == nil || rec.ConsentWaiver != reason {
		t.Errorf("ledger record %+v (%v), want consent waiver %q", rec, err, reason)
	}
}
