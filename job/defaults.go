package job

import (
	"path/filepath"
	"strings"

	"github.com/privagg/privagg/privacy"
)

// Defaults applied by LoadJob to keys the job file leaves out.
const (
	DefaultLedger          = "privagg-ledger.duckdb"
	DefaultCSVDelimiter    = ","
	DefaultNoise           = privacy.Laplace
	DefaultOutputFormat    = OutputParquet
	DefaultOutputRound     = privacy.RoundInterval
	DefaultMapLabel        = "other"
	DefaultKeyVersion      = "1"
	DefaultK               = 1
	DefaultMaxPartitions   = 1 // privacy.max_partitions_per_unit (L0)
	DefaultCountMaxPerUnit = 1 // count metrics: max_per_unit (Linf)
	DefaultPrivacyUnitCase = "keep"
)

// applyDefaults fills keys the file leaves out. Whether a key is absent is
// read from the tree, so that an explicit 0 is still refused by validation.
func (c *checker) applyDefaults(job *Job, tree map[string]any) {
	if job.Input.Format == "" && job.Input.Path != "" {
		job.Input.Format = formatFromExtension(job.Input.Path)
	}
	if !present(tree, "input", "csv", "delimiter") {
		job.Input.CSV.Delimiter = DefaultCSVDelimiter
	}
	if job.Input.CSV.Header == nil {
		header := true
		job.Input.CSV.Header = &header
	}
	if !present(tree, "privacy_unit_case") {
		job.PrivacyUnitCase = DefaultPrivacyUnitCase
	}
	if !present(tree, "privacy", "noise") {
		job.Privacy.Noise = DefaultNoise
	}
	if !present(tree, "privacy", "k") {
		job.Privacy.K = DefaultK
	}
	if !present(tree, "privacy", "max_partitions_per_unit") {
		job.Privacy.MaxPartitionsPerUnit = DefaultMaxPartitions
	}
	if !present(tree, "privacy", "bounds_share") && job.HasAuto() {
		job.Privacy.BoundsShare = privacy.DefaultBoundsShare
	}
	if !present(tree, "output", "format") {
		job.Output.Format = DefaultOutputFormat
	}
	if !present(tree, "output", "round") {
		job.Output.Round = DefaultOutputRound
	}
	if !present(tree, "ledger") {
		job.Ledger = DefaultLedger
	}
	if job.Staging != nil && !present(tree, "staging", "key_version") {
		job.Staging.KeyVersion = DefaultKeyVersion
	}
	for name, col := range job.Columns {
		if col.Map != nil && !present(tree, "columns", name, "map", "default") {
			col.Map.Default = DefaultMapLabel
		}
	}
	for i := range job.Outputs {
		o := &job.Outputs[i]
		if !present(tree, "outputs", i, "max_partitions_per_unit") {
			o.MaxPartitionsPerUnit = job.Privacy.MaxPartitionsPerUnit
		}
		if !present(tree, "outputs", i, "weight") {
			o.Weight = privacy.DefaultWeight
		}
		if !present(tree, "outputs", i, "selection") && !o.PublicKeysOnly() {
			o.Selection = privacy.SelectTwoPhase
		}
		if !present(tree, "outputs", i, "selection_share") && o.Selection == privacy.SelectTwoPhase {
			o.SelectionShare = privacy.DefaultSelectionShare
			o.selectionShareDefault = true
		}
		for j := range o.Metrics {
			m := &o.Metrics[j]
			kind, ok := privacy.LookupMetric(privacy.MetricKind(m.Type))
			if ok && kind.Fields().MaxPerUnit && !present(tree, "outputs", i, "metrics", j, "max_per_unit") {
				m.MaxPerUnit = DefaultCountMaxPerUnit
			}
			if !present(tree, "outputs", i, "metrics", j, "weight") {
				m.Weight = privacy.DefaultMetricWeight(m.spec())
			}
		}
	}
}

// formatFromExtension infers input.format; compressed files (.gz, .zst) are
// looked through. It returns "" when the extension says nothing.
func formatFromExtension(path string) InputFormat {
	p := strings.ToLower(path)
	for _, c := range []string{".gz", ".zst"} {
		p = strings.TrimSuffix(p, c)
	}
	switch filepath.Ext(p) {
	case ".csv", ".tsv":
		return InputCSV
	case ".parquet":
		return InputParquet
	case ".json", ".jsonl", ".ndjson":
		return InputJSON
	}
	return ""
}

// FormatFromExtension is the input.format a file's extension implies
// (compressed .gz and .zst files are looked through), or "" when it says
// nothing.
func FormatFromExtension(path string) InputFormat { return formatFromExtension(path) }

// ConsentFormat is the format of the consent table at path: the one its
// extension implies (FormatFromExtension), CSV when the extension says
// nothing. Both engines read consent tables by it.
func ConsentFormat(path string) InputFormat {
	if f := formatFromExtension(path); f != "" {
		return f
	}
	return InputCSV
}
