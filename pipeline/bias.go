package pipeline

import (
	"fmt"
	"math"
	"slices"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/privagg/privagg/privacy"
)

// biasWarnings are the run's warnings about released metrics whose
// estimated bounding bias is larger than their noise: in a typical row (the
// median |value|), the estimated share that contribution bounding removed,
// against the noise's 95% half-width. Only released (noisy) values and the
// private estimates enter, so the warnings are post-processing.
func biasWarnings(rel *privacy.Release) []string {
	var out []string
	for _, t := range rel.Tables() {
		b := t.Bounds()
		if b == nil || b.Dropped == nil {
			continue
		}
		rec := t.Record()
		for _, m := range t.Metrics() {
			if m.Bias != nil && !m.Bias.Corrected {
				out = append(out, fmt.Sprintf("output %s: what bounding removed from %s could not be estimated precisely with the estimates' budget (a heavy tail, or a small bounds_share): its values are not corrected and their intervals cover the noise only; a larger bounds_share, or a larger max, helps",
					t.Name(), m.Name))
				continue
			}
			if m.Bias == nil || m.StdDev <= 0 || rec.NumRows() == 0 || len(m.Columns) == 0 {
				continue
			}
			idx := rec.Schema().FieldIndices(m.Columns[0])
			if len(idx) == 0 {
				continue
			}
			typical := medianAbs(rec.Column(idx[0]))
			bias := typical * m.Bias.DroppedShare
			noise := 1.96 * m.StdDev
			if bias <= noise {
				continue
			}
			out = append(out, fmt.Sprintf("output %s: bounding removed an estimated %.0f%% of %s (about %s in a typical row), more than the noise (±%s): the values are corrected by that estimate and their intervals include it; a larger bound (or auto) removes less",
				t.Name(), 100*m.Bias.DroppedShare, m.Name, privacy.FormatEstimate(bias), privacy.FormatEstimate(noise)))
		}
	}
	return out
}

// medianAbs is the median absolute value of a numeric column.
func medianAbs(col any) float64 {
	var xs []float64
	switch c := col.(type) {
	case *array.Int64:
		for _, v := range c.Int64Values() {
			xs = append(xs, math.Abs(float64(v)))
		}
	case *array.Float64:
		for _, v := range c.Float64Values() {
			xs = append(xs, math.Abs(v))
		}
	}
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	return xs[len(xs)/2]
}
