package release

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/privagg/privagg/internal/version"
	"github.com/privagg/privagg/privacy"
)

// ManifestVersion is the version of the manifest format.
const ManifestVersion = 1

// ReleaseDescription marks every released file as what it is.
const ReleaseDescription = "differentially private aggregate release"

// How an output's keys were chosen (Manifest.Partitions).
const (
	PartitionsSelected = "selected" // from the data, by DP partition selection with the k pre-threshold
	PartitionsPublic   = "public"   // every key of the public lists; k does not apply
)

// Notes tell readers how to use the numbers; the first sentence depends on
// how the keys were chosen.
const (
	noteSelected = "Every metric value is noisy: differential-privacy noise was added so that no person can be " +
		"singled out, and rows standing on fewer than k people, or not passing private partition selection, are " +
		"missing."
	notePublic = "Every metric value is noisy: differential-privacy noise was added so that no person can be " +
		"singled out. The keys are the job's public lists, all released: a row may stand on fewer people than " +
		"the job's k, or on none (its values are then pure noise); k does not apply to this output."
	noteCI = " Each <metric>_ci95 column holds the half-width of a 95% confidence interval; each metric's " +
		"\"interval\" says what it covers: with \"noise and bounding\", the value was corrected for what " +
		"contribution bounding removed and the true value lies within value ± <metric>_ci95 with 95% probability; " +
		"with \"noise\", the interval covers the noise only, and bounding (see \"bounds\") may have lowered the " +
		"value below the truth. Summing noisy rows adds their variances."
)

// What a metric's interval covers (ManifestMetric.Interval).
const (
	IntervalNoise    = "noise"              // the noise only; bounding may bias the value
	IntervalBounding = "noise and bounding" // the value is corrected; the interval covers the correction too
)

// partitions returns the Manifest.Partitions value and the note of t.
func (t outTable) partitions() (partitions, note string) {
	if t.k == 0 {
		return PartitionsPublic, notePublic + noteCI
	}
	return PartitionsSelected, noteSelected + noteCI
}

// Manifest describes one released output. It carries only what the Release
// exposes: no true counts, no identifiers, no raw values.
type Manifest struct {
	ManifestVersion int    `json:"manifest_version"`
	Description     string `json:"description"`
	Note            string `json:"note"`
	PrivaggVersion  string `json:"privagg_version"`

	ReleaseID string `json:"release_id"`
	Job       string `json:"job"`
	Dataset   string `json:"dataset"`
	Purpose   string `json:"purpose"`
	// ConsentWaiver is the job's consent.waived reason: the data was
	// released without a consent filter. Omitted when consent was applied.
	ConsentWaiver string    `json:"consent_waiver,omitempty"`
	Created       time.Time `json:"created"`

	Output string `json:"output"`
	Format string `json:"format"`
	File   string `json:"file"`            // data file name, in the same folder as the manifest
	Table  string `json:"table,omitempty"` // table inside File (duckdb)
	SHA256 string `json:"sha256"`          // of File
	Bytes  int64  `json:"bytes"`           // of File
	Rows   int64  `json:"rows"`            // released rows of this output

	Epsilon float64 `json:"epsilon"` // of the whole release (all outputs)
	Delta   float64 `json:"delta"`
	// K is the pre-threshold every row passed: each stood on at least K
	// people. 0 when Partitions is public: k does not apply.
	K int64 `json:"k"`
	// Partitions says how the keys were chosen: PartitionsSelected or
	// PartitionsPublic.
	Partitions string `json:"partitions"`
	Noise      string `json:"noise"`
	// Rounding is output.round: interval (values keep the digits their
	// 95% interval supports) or none. Omitted when not rounded.
	Rounding string `json:"rounding,omitempty"`

	GroupBy []string         `json:"group_by"`
	Columns []ManifestColumn `json:"columns"`
	Metrics []ManifestMetric `json:"metrics"`
	// Bounds are the contribution bounds the output was made with, those
	// estimated privately from the data marked auto, what the estimates
	// spent, and their estimate of what bounding removed. Omitted when the
	// job estimated nothing (privacy.bounds_share 0).
	Bounds *privacy.OutputBounds `json:"bounds,omitempty"`
}

// ManifestColumn describes one column of the data file.
type ManifestColumn struct {
	Name    string `json:"name"`
	Type    string `json:"type"` // VARCHAR | BIGINT | DOUBLE
	Meaning string `json:"meaning"`
}

// ManifestMetric says how one metric was made private.
type ManifestMetric struct {
	Name      string   `json:"name"`
	Kind      string   `json:"kind"`
	Columns   []string `json:"columns"`
	Mechanism string   `json:"mechanism"`
	Epsilon   float64  `json:"epsilon"` // this metric's share of the release's epsilon
	Delta     float64  `json:"delta"`
	L0        int64    `json:"l0"`   // partitions (rows of this table) one person can affect
	LInf      float64  `json:"linf"` // per-partition sensitivity of the noised statistic
	// NoiseStdDev is the noise standard deviation of the main statistic;
	// omitted where it is not constant across rows (mean, variance, quantiles).
	NoiseStdDev *float64 `json:"noise_std_dev,omitempty"`
	// Interval says what the metric's _ci95 covers: IntervalNoise or
	// IntervalBounding.
	Interval string `json:"interval"`
	// Bias is the correction for what bounding removed, when the values
	// were corrected.
	Bias *privacy.Bias `json:"bias,omitempty"`
}

func buildManifest(t outTable, cols []columnDesc, meta privacy.Metadata, format string, loc stagedData) *Manifest {
	partitions, note := t.partitions()
	m := &Manifest{
		ManifestVersion: ManifestVersion,
		Description:     ReleaseDescription,
		Note:            note,
		PrivaggVersion:  version.Version,
		ReleaseID:       meta.ID,
		Job:             meta.Job,
		Dataset:         meta.Dataset,
		Purpose:         meta.Purpose,
		ConsentWaiver:   meta.ConsentWaiver,
		Created:         meta.Created.UTC(),
		Output:          t.name,
		Format:          format,
		File:            loc.file,
		Table:           loc.table,
		SHA256:          loc.info.SHA256,
		Bytes:           loc.info.Bytes,
		Rows:            t.record.NumRows(),
		Epsilon:         meta.Epsilon,
		Delta:           meta.Delta,
		K:               t.k,
		Partitions:      partitions,
		Noise:           string(meta.Noise),
		Rounding:        string(meta.Rounding),
		GroupBy:         append([]string{}, t.groupBy...),
		Columns:         make([]ManifestColumn, len(cols)),
		Metrics:         make([]ManifestMetric, len(t.metrics)),
		Bounds:          t.bounds,
	}
	for i, c := range cols {
		m.Columns[i] = ManifestColumn{Name: c.name, Type: c.typ, Meaning: c.meaning}
	}
	for i, mi := range t.metrics {
		mm := ManifestMetric{
			Name:      mi.Name,
			Kind:      string(mi.Kind),
			Columns:   append([]string{}, mi.Columns...),
			Mechanism: mi.Mechanism,
			Epsilon:   mi.Epsilon,
			Delta:     mi.Delta,
			L0:        mi.L0,
			LInf:      mi.LInf,
			Interval:  IntervalNoise,
			Bias:      mi.Bias,
		}
		if mi.Bias != nil && mi.Bias.Corrected {
			mm.Interval = IntervalBounding
		}
		if mi.StdDev > 0 && !math.IsInf(mi.StdDev, 0) {
			sd := mi.StdDev
			mm.NoiseStdDev = &sd
		}
		m.Metrics[i] = mm
	}
	return m
}

// encode writes the manifest as indented JSON with a trailing newline.
func (m *Manifest) encode(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return fmt.Errorf("encode manifest of %s: %w", m.Output, err)
	}
	return nil
}

// ReadManifest decodes a manifest, refusing unknown fields.
func ReadManifest(r io.Reader) (*Manifest, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	if m.ManifestVersion != ManifestVersion {
		return nil, fmt.Errorf("read manifest: manifest_version %d is not supported (want %d)", m.ManifestVersion, ManifestVersion)
	}
	return &m, nil
}
