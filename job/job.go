// Package job is the job file: its types (job.go), loading with strict
// decoding and environment overrides (load.go), defaults applied once
// (defaults.go), validation (validate.go) and the rules that flags share
// with the file: the memory limit (memory.go) and the paths (paths.go).
// LoadJob is the only way to get a Job; everything downstream reads the
// loaded job and applies no default or rule of its own.
package job

import "github.com/privagg/privagg/privacy"

// Job is a validated job file. LoadJob is the only way to get one; every field
// has been checked and defaults have been applied. Relative paths in the file
// are resolved against the folder of the job file.
type Job struct {
	Version     int    `mapstructure:"version"`
	Name        string `mapstructure:"name"`
	Dataset     string `mapstructure:"dataset"`
	Purpose     string `mapstructure:"purpose"`
	Input       Input  `mapstructure:"input"`
	PrivacyUnit string `mapstructure:"privacy_unit"` // a column name, or RowUnit
	// PrivacyUnitCase says how person ids compare: "keep" (default) as
	// written, "fold" also ignoring case. Ids are always read as text and
	// trimmed of white space (transforms.CanonicalUnit).
	PrivacyUnitCase string   `mapstructure:"privacy_unit_case"`
	Identifiers     []string `mapstructure:"identifiers"`
	Consent         Consent  `mapstructure:"consent"`
	// Columns are the derived (generalized) columns, by name.
	Columns map[string]DerivedColumn `mapstructure:"columns"`
	Privacy Privacy                  `mapstructure:"privacy"`
	Outputs []Output                 `mapstructure:"outputs"`
	Output  OutputSink               `mapstructure:"output"`
	Ledger  string                   `mapstructure:"ledger"`
	Staging *Staging                 `mapstructure:"staging"`

	// File is the absolute path of the job file (not part of the YAML).
	File string `mapstructure:"-"`
	// Source is the job file's bytes as LoadJob read them, the file's only
	// read: the release id, the ledger's job_sha256, the release store's
	// job.yaml and the report all derive from these bytes, so a file edited
	// during a run cannot make them describe different files.
	Source []byte `mapstructure:"-" json:"-"`
	// fromEnv are the keys (EnvKeys) a PRIVAGG_* variable overrode.
	fromEnv []string
}

// RowUnit as privacy_unit makes each input row its own privacy unit.
const RowUnit = "row"

// Input describes the raw event files.
type Input struct {
	Path              string      `mapstructure:"path"`   // a file or a glob, resolved against the job folder
	Format            InputFormat `mapstructure:"format"` // default from the extension
	CSV               CSVInput    `mapstructure:"csv"`
	MaxRejectFraction float64     `mapstructure:"max_reject_fraction"`
}

// CSVInput holds CSV reader options.
type CSVInput struct {
	Delimiter string `mapstructure:"delimiter"` // default ","
	Header    *bool  `mapstructure:"header"`    // default true
}

// Consent says who may be counted for the job's purpose: a consent column
// in the events, a consent table, or an explicit waiver. Exactly one is set.
//
// Consent is decided per person: with a column, one refusal (or one
// malformed value) excludes all of the person's rows; with a table, the
// person's latest record for the purpose must grant it.
type Consent struct {
	Column string        `mapstructure:"column"`
	Table  *ConsentTable `mapstructure:"table"`
	// Waived is the reason the data needs no consent filter (public data,
	// consent applied upstream). It is recorded in the ledger, the manifests
	// and the release report; validate and plan warn about it.
	Waived string `mapstructure:"waived"`
}

// ConsentTable is a file of consent records. Per person, the latest record
// for the purpose wins, a refusal wins a tie, and a person with no record
// for the purpose, or with a malformed one (no usable id, purpose, granted
// value or time), is excluded.
type ConsentTable struct {
	Path    string `mapstructure:"path"`
	Unit    string `mapstructure:"unit"`    // column with the privacy unit
	Purpose string `mapstructure:"purpose"` // column with the purpose
	Granted string `mapstructure:"granted"` // boolean column
	At      string `mapstructure:"at"`      // timestamp column ordering the records
}

// DerivedColumn is one generalized column. Exactly one of Bins, Truncate,
// Part, Prefix or Map is set.
type DerivedColumn struct {
	From     string    `mapstructure:"from"`
	Bins     []float64 `mapstructure:"bins"`     // ascending edges; labels "<b0", "b0-(b1-1)", ..., "bn+"
	Truncate string    `mapstructure:"truncate"` // hour | day | week | month
	Part     string    `mapstructure:"part"`     // hour_of_day | day_of_week | month_of_year
	// Format is the strptime format of text times, for truncate and part
	// (transforms.TimeFormat); default ISO-8601.
	Format string   `mapstructure:"format"`
	Prefix int      `mapstructure:"prefix"` // keep the first N characters
	Map    *MapSpec `mapstructure:"map"`
}

// MapSpec maps values through a two-column CSV file; unmapped values become Default.
type MapSpec struct {
	File    string `mapstructure:"file"`
	Default string `mapstructure:"default"` // default "other"
}

// Privacy holds the job-wide privacy parameters.
type Privacy struct {
	Epsilon              float64           `mapstructure:"epsilon"`
	Delta                float64           `mapstructure:"delta"`
	Noise                privacy.NoiseKind `mapstructure:"noise"` // default laplace
	K                    int64             `mapstructure:"k"`     // minimum distinct people behind a released row
	MaxPartitionsPerUnit int64             `mapstructure:"max_partitions_per_unit"`
	// BoundsShare is the share of epsilon spent on private estimates of
	// auto bounds and of what bounding removed (default
	// privacy.DefaultBoundsShare when a bound is auto, else 0).
	BoundsShare float64 `mapstructure:"bounds_share"`
	// AutoMaxPartitions says max_partitions_per_unit is auto (not part of
	// the YAML's types: the word is taken out before decoding, auto.go).
	AutoMaxPartitions bool   `mapstructure:"-"`
	MemoryLimit       string `mapstructure:"memory_limit"` // DuckDB memory limit, e.g. "4GB"
	TempDir           string `mapstructure:"temp_dir"`     // DuckDB spill folder
	Threads           int    `mapstructure:"threads"`      // 0 = all cores
}

// Output is one released table.
type Output struct {
	Name                 string                      `mapstructure:"name"`
	GroupBy              []string                    `mapstructure:"group_by"`
	PublicPartitions     map[string]PublicPartitions `mapstructure:"public_partitions"`
	MaxPartitionsPerUnit int64                       `mapstructure:"max_partitions_per_unit"` // default privacy.max_partitions_per_unit
	// AutoMaxPartitions says the output's max_partitions_per_unit is auto
	// (its own, or inherited from privacy).
	AutoMaxPartitions bool     `mapstructure:"-"`
	Metrics           []Metric `mapstructure:"metrics"`
	// Weight sets the output's share of the job's budget, in proportion to
	// the weights of all outputs (default privacy.DefaultWeight).
	Weight float64 `mapstructure:"weight"`
	// SelectionShare is the fraction of the output's epsilon that DP
	// partition selection gets when keys come from the data (default
	// privacy.DefaultSelectionShare); refused with public keys only.
	SelectionShare float64 `mapstructure:"selection_share"`
	// Selection is how partitions are selected when keys come from the
	// data: two_phase (default) or count_threshold (the noised count_units
	// is thresholded; no selection share). Refused with public keys only.
	Selection privacy.SelectionMethod `mapstructure:"selection"`
	// Consistency are constraints the released values are made to satisfy
	// by post-processing (docs/outputs.md, "Consistent tables"); nil for
	// none.
	Consistency *Consistency `mapstructure:"consistency"`

	// selectionShareDefault says the job file left selection_share out and
	// LoadJob applied the default.
	selectionShareDefault bool
}

// SelectionShareIsDefault reports whether the output's selection share is
// the default (privacy.DefaultSelectionShare, chosen by
// privacy.SelectionShareRule) rather than set in the job file.
func (o *Output) SelectionShareIsDefault() bool { return o.selectionShareDefault }

// Consistency is an output's consistency: see privacy.Consistency.
type Consistency struct {
	// UnitsLeRows: every count_units metric at most every count metric,
	// row by row (people <= events).
	UnitsLeRows bool `mapstructure:"units_le_rows"`
	// RollupOf names the output whose rows this output's rows sum up.
	RollupOf string `mapstructure:"rollup_of"`
}

// PublicPartitions is the public list of values for one group-by column:
// inline values or a one-column CSV file with a header.
type PublicPartitions struct {
	Values []string
	File   string
}

// Metric is one aggregate of an output.
type Metric struct {
	Name       string    `mapstructure:"name"`
	Type       string    `mapstructure:"type"` // a privacy.MetricKind: privacy.MetricKinds() lists them
	Column     string    `mapstructure:"column"`
	MaxPerUnit int64     `mapstructure:"max_per_unit"` // count: Linf rows per (unit, partition); default 1
	Min        *float64  `mapstructure:"min"`
	Max        *float64  `mapstructure:"max"`
	Ranks      []float64 `mapstructure:"ranks"`
	// Auto says which of max_per_unit, min and max are auto.
	Auto privacy.MetricAuto `mapstructure:"-"`
	// Weight sets the metric's share of its output's metric budget, in
	// proportion to the weights of the output's metrics (default
	// privacy.DefaultWeight).
	Weight float64 `mapstructure:"weight"`
}

// OutputSink says where released tables go.
type OutputSink struct {
	Dir    string       `mapstructure:"dir"`
	Format OutputFormat `mapstructure:"format"` // default parquet
	// Round says how released values are rounded before they are written:
	// interval (the default: the digits their 95% interval supports) or
	// none (every float64 digit).
	Round privacy.Rounding `mapstructure:"round"`
}

// Staging asks for a pseudonymized event-level copy for internal reuse.
type Staging struct {
	Path            string `mapstructure:"path"`
	PseudonymKeyEnv string `mapstructure:"pseudonym_key_env"`
	KeyVersion      string `mapstructure:"key_version"` // recorded in the file metadata; default "1"
}
