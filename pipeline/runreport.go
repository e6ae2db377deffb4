package pipeline

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/internal/atomicfile"
	"github.com/privagg/privagg/privacy"
	"github.com/privagg/privagg/release"
)

// RunReport is the internal report of one run. Its counts are true, not
// noisy: it is for the data owner and privacy officers, never for marketing,
// and is written beside the ledger, never into output.dir.
type RunReport struct {
	Note      string `json:"note"`
	ReleaseID string `json:"release_id"`
	Job       string `json:"job"`
	Dataset   string `json:"dataset"`
	Purpose   string `json:"purpose"`
	Status    string `json:"status"` // published | republished | failed
	Error     string `json:"error,omitempty"`
	// The input's rows and the consent table's records for the job's
	// purpose (or without a purpose), read and malformed.
	release.RowCounts
	// Rejects locates the malformed rows by line or row index, column and
	// rule, never by value; nil when no row was rejected.
	Rejects  *engine.Rejects                `json:"rejects,omitempty"`
	Outputs  map[string]privacy.OutputStats `json:"outputs,omitempty"`
	Started  time.Time                      `json:"started"`
	Finished time.Time                      `json:"finished"`
	Seconds  float64                        `json:"seconds"`
}

// RunReportNote heads every run report.
const RunReportNote = "INTERNAL - NOT FOR MARKETING: these counts are exact, not differentially private."

// RunReportDir is the folder beside the ledger that holds the run reports.
const RunReportDir = "privagg-runs"

// writeRunReport writes the internal report beside the ledger, in
// RunReportDir, and returns its path.
func writeRunReport(ledgerPath string, r RunReport) (string, error) {
	dir := filepath.Join(filepath.Dir(ledgerPath), RunReportDir)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, fmt.Sprintf("%s.%s.json", r.ReleaseID, r.Started.Format("20060102T150405.000Z")))
	return path, atomicfile.WriteFile(path, data, 0o640)
}
