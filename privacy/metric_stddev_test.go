package privacy

import (
	"math"
	"testing"
)

// TestStdDevNoiseless: without noise, stddev is the square root of the
// population variance of the clamped per-person totals and of the variance
// metric released beside it (they share their statistics), with a 0
// half-width; a key without people releases 0.
func TestStdDevNoiseless(t *testing.T) {
	t.Parallel()
	if m, ok := LookupMetric(StdDev); !ok || m.Kind() != "stddev" {
		t.Fatal("stddev is not registered")
	}
	parts := [][]float64{
		{1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
		{-50, 3, 3, 3, 400}, // clamped to 0 and 20
		{7},
		{},
	}
	var rows []aggRow
	for i, totals := range parts {
		rows = append(rows, spreadRow(keyName(i), truthOf(totals, 0, 20)))
	}
	out := spreadOutput(0, 20, Variance, StdDev)
	if l, _ := out.Layout(); len(l.Needs) != 3 {
		t.Errorf("variance and stddev on one column and bounds need %d statistics, want 3 shared ones", len(l.Needs))
	}
	cols := releaseFloats(t, out, Laplace, 1, noNoise{}, rows)
	for i, totals := range parts {
		want := math.Sqrt(truthOf(totals, 0, 20).variance)
		if got := cols["stddev"][i]; math.Abs(got-want) > 1e-9 {
			t.Errorf("row %d: stddev %v, want %v", i, got, want)
		}
		if got := cols["stddev"][i]; math.Abs(got*got-cols["variance"][i]) > 1e-9 {
			t.Errorf("row %d: stddev² %v, variance %v", i, got*got, cols["variance"][i])
		}
		if cols["stddev_ci95"][i] != 0 {
			t.Errorf("row %d: half-width %v without noise, want 0", i, cols["stddev_ci95"][i])
		}
	}
	if got := cols["stddev"][0]; math.Abs(got-math.Sqrt(8.25)) > 1e-12 {
		t.Errorf("stddev of 1..10 = %v, want sqrt(8.25)", got)
	}
}

// TestStdDevIntervalCoversTheBox: the variance's interval through the square
// root holds the true stddev wherever the parts' true values are in their
// intervals (see checkIntervalCoversBox).
func TestStdDevIntervalCoversTheBox(t *testing.T) {
	t.Parallel()
	checkIntervalCoversBox(t, StdDev, math.Sqrt)
}

// TestStdDevCoverage: with real noise, stddev ± stddev_ci95 holds the true
// stddev in at least 93% of 2000 partitions per noise kind (false-failure
// rate below 1e-4 per noise kind; see checkCoverage), and a third of the
// half-width does not.
func TestStdDevCoverage(t *testing.T) {
	t.Parallel()
	checkCoverage(t, StdDev, math.Sqrt)
}
