package release

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/privagg/privagg/internal/atomicfile"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
)

// PublishedList is the file in the release store naming the files to publish.
const PublishedList = "published-files.json"

// store writes the release into the release store and marks it stored.
func Store(ctx context.Context, led *privacy.Ledger, id string, job *job.Job, rel *privacy.Release, report RunReport) ([]string, error) {
	dir := led.StoreDir(id)
	// A reserved release being recomputed may have left partial files.
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	sink, err := NewSink(job.Output.Format)
	if err != nil {
		return nil, err
	}
	written, err := sink.Write(ctx, rel, dir)
	if err != nil {
		return nil, err
	}
	files := FileNames(written)
	if jobBytes, err := os.ReadFile(job.File); err == nil {
		if err := atomicfile.WriteFile(filepath.Join(dir, "job.yaml"), jobBytes, 0o640); err != nil {
			return nil, err
		}
	}
	list, err := json.MarshalIndent(files, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, PublishedList), list, 0o640); err != nil {
		return nil, err
	}
	// Release report (report.go): part of the stored release, so written before MarkStored.
	if err := writeReleaseReport(ctx, led, id, job, rel, report); err != nil {
		return nil, err
	}
	if err := led.MarkStored(ctx, id); err != nil {
		return nil, err
	}
	return files, nil
}

// republish copies a stored release to outDir again, byte for byte.
func Republish(ctx context.Context, led *privacy.Ledger, id, outDir string) ([]string, error) {
	dir := led.StoreDir(id)
	data, err := os.ReadFile(filepath.Join(dir, PublishedList))
	if err != nil {
		return nil, &privacy.LedgerError{Path: dir, Reason: "release store is missing the stored release", Hint: "restore the release store from backup", Err: err}
	}
	var files []string
	if err := json.Unmarshal(data, &files); err != nil {
		return nil, &privacy.LedgerError{Path: dir, Reason: "release store is damaged", Hint: "restore the release store from backup", Err: err}
	}
	if err := Publish(ctx, dir, outDir, files); err != nil {
		return nil, err
	}
	rec, err := led.Lookup(ctx, id)
	if err != nil {
		return nil, err
	}
	if rec.State != privacy.StatePublished {
		if err := led.MarkPublished(ctx, id); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// RunReport is the internal report of one run. Its counts are true, not
// noisy: it is for the data owner and privacy officers, never for marketing,
// and is written beside the ledger, never into output.dir.
type RunReport struct {
	Note                  string `json:"note"`
	ReleaseID             string `json:"release_id"`
	Job                   string `json:"job"`
	Dataset               string `json:"dataset"`
	Purpose               string `json:"purpose"`
	Status                string `json:"status"` // published | republished | failed
	Error                 string `json:"error,omitempty"`
	RowsRead              int64  `json:"rows_read"`
	RowsRejected          int64  `json:"rows_rejected"`
	RowsExcludedByConsent int64  `json:"rows_excluded_by_consent"`
	// ConsentRecordsRead and ConsentRecordsRejected count the consent
	// table's records for the job's purpose (or without a purpose) and the
	// malformed ones among them; 0 without a consent table.
	ConsentRecordsRead     int64                          `json:"consent_records_read,omitempty"`
	ConsentRecordsRejected int64                          `json:"consent_records_rejected,omitempty"`
	Outputs                map[string]privacy.OutputStats `json:"outputs,omitempty"`
	Started                time.Time                      `json:"started"`
	Finished               time.Time                      `json:"finished"`
	Seconds                float64                        `json:"seconds"`
}

const RunReportNote = "INTERNAL - NOT FOR MARKETING: these counts are exact, not differentially private."

// writeRunReport writes the internal report beside the ledger.
func WriteRunReport(ledgerPath string, r RunReport) error {
	dir := filepath.Join(filepath.Dir(ledgerPath), "privagg-runs")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	name := fmt.Sprintf("%s.%s.json", r.ReleaseID, r.Started.Format("20060102T150405.000Z"))
	return atomicfile.WriteFile(filepath.Join(dir, name), data, 0o640)
}
