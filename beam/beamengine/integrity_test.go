package beamengine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/differential-privacy/privacy-on-beam/v3/pbeam"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/internal/verify"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
	"github.com/privagg/privagg/transforms"
)

// TestIntegrityCorpus runs the consent and identity corpus of the
// verification suite (internal/verify/testdata/integrity) on the Beam engine
// without noise (pbeam's test mode with contribution bounding): every case
// ends with the same exit, counts and published values as on the embedded
// engine (internal/verify TestVerifyIntegrity checks those against the same
// expectations), and no person id reaches an error message.
func TestIntegrityCorpus(t *testing.T) {
	cases, err := verify.IntegrityCases()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			dir := t.TempDir()
			path, err := verify.WriteIntegrityFiles(c, dir)
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
			res, err := runBeam(t, j, "integrity-1", pbeam.TestModeWithContributionBounding)
			exit := "ok"
			var input *engine.InputError
			switch {
			case err == nil:
			case errors.As(err, &input):
				exit = "input"
			default:
				exit = fmt.Sprintf("error %v", err)
			}
			var got verify.IntegrityWant
			var rows map[string]verify.IntegrityRow
			if err == nil {
				r := res.Report
				got = verify.IntegrityWant{Read: r.RowsRead, Rejected: r.RowsRejected, Excluded: r.RowsExcludedByConsent,
					ConsentRead: r.ConsentRecordsRead, ConsentRejected: r.ConsentRecordsRejected}
				if rows, err = verify.ReadIntegrityRows(j.Output.Dir); err != nil {
					t.Fatal(err)
				}
			} else {
				for _, s := range verify.IntegritySecrets() {
					if strings.Contains(err.Error(), s) {
						t.Errorf("error quotes the person id %q: %v", s, err)
					}
				}
			}
			for _, d := range verify.CheckIntegrity(c, exit, got, rows) {
				t.Error(d)
			}
		})
	}
	if err := verify.Write(verify.Record{Section: "integrity", Check: "consent and person-id corpus: counts, released values",
		Path: "pipeline.Run (beam engine)", Trials: len(cases), Pass: !t.Failed()}); err != nil {
		t.Error(err)
	}
}

// TestCanonicalUnitSameInBothEngines: the Beam engine's events carry the
// same canonical person id as the embedded engine's __unit, for ids read
// from CSV and from JSON (where a 23-digit number is read digit for digit).
func TestCanonicalUnitSameInBothEngines(t *testing.T) {
	for _, tc := range []struct {
		format, line string
		fold         bool
		want         string
		ok           bool
	}{
		{"csv", " U-Alice\u00a0,true", false, "U-Alice", true},
		{"csv", " U-Alice\u00a0,true", true, "u-alice", true},
		{"csv", "\u3000,true", false, "", false},
		{"csv", "10000000000000000001,true", false, "10000000000000000001", true},
		{"json", `{"user_id": 12345678901234567890123, "consent": true}`, false, "12345678901234567890123", true},
		{"json", `{"user_id": 1.50, "consent": true}`, false, "1.5", true},
		{"json", `{"user_id": 1e3, "consent": true}`, false, "1000.0", true},
		{"json", `{"user_id": " Bob ", "consent": true}`, true, "bob", true},
		{"json", `{"user_id": null, "consent": true}`, false, "", false},
	} {
		src := source{Format: job.InputFormat(tc.format), Columns: []string{"consent", "user_id"}, Delim: ",", Header: []string{"user_id", "consent"},
			Types: map[string]string{"user_id": "BIGINT", "consent": "BOOLEAN"}, Text: map[string]bool{"user_id": true, "consent": true}}
		vals, err := src.parseLine(tc.line)
		if err != nil {
			t.Fatalf("%q: %v", tc.line, err)
		}
		ev := eventSpec{Columns: src.Columns, Unit: "user_id", FoldCase: tc.fold, ConsentColumn: "consent"}
		if err := ev.setup(); err != nil {
			t.Fatal(err)
		}
		e, _ := ev.toEvent(vals)
		if (e.Status != statusRejected) != tc.ok || (tc.ok && e.Unit != tc.want) {
			t.Errorf("%s %q fold=%v: unit %q status %d, want %q ok %v", tc.format, tc.line, tc.fold, e.Unit, e.Status, tc.want, tc.ok)
		}
		if tc.ok {
			raw, _ := vals[1].Text()
			if w, _ := transforms.CanonicalUnit(raw, tc.fold); w != e.Unit {
				t.Errorf("%q: event unit %q, CanonicalUnit %q", tc.line, e.Unit, w)
			}
		}
	}
}
