package tune

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/google/differential-privacy/go/v3/noise"

	"github.com/privagg/privagg/engine/duckdb"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
)

// DPNotice labels DP mode's output.
const DPNotice = "DP: clamp bounds chosen from DP histograms of people's partition totals; the tuning budget was charged " +
	"to the dataset in the ledger. Everything else is taken from the job as it is."

// Power-of-two bins of |total|: bin i holds totals with 2^(i−1) < |t| <=
// 2^i, the lowest also every smaller non-zero |t|, the highest every larger
// one.
const (
	binLow  = -10
	binHigh = 62
)

// DPOptions configures DP mode.
type DPOptions struct {
	Epsilon  float64 // the tuning budget, > 0
	Fraction float64 // in (0, 1): where the noisy cumulative count stops
	Ledger   string  // the ledger file
}

// dpTarget is one (output, column) whose clamp bounds DP mode chooses;
// metrics of one output on one column share its histogram.
type dpTarget struct {
	o      int
	column string
	counts []int64 // true counts per bin, binLow..binHigh
	// upper is the noisy bound, drawn once (draws counts the histograms
	// noised: the charge covers exactly one per target).
	upper float64
	draws int
}

// DP chooses the clamp bounds of every metric with min and max, as
// Tumult's get_bounds does: per output and column, a histogram of people's
// partition totals (each person bounded to the output's L0 partitions,
// chosen at random) over power-of-two bins of |total|, each bin noised
// with the library's Laplace noise (L0 partitions, one per bin and total,
// so L1 sensitivity L0), and the upper bound the edge of the first bin
// where the noisy cumulative count reaches Fraction of the noisy total.
// The lower bound is 0 when the job's current min is >= 0, otherwise the
// negated upper bound. The budget is split equally over the histograms
// and reserved in the ledger before any noise is drawn, after the input
// was read and checked.
func DP(ctx context.Context, j *job.Job, opts DPOptions) (*Report, error) {
	if !(opts.Epsilon > 0) || math.IsInf(opts.Epsilon, 0) {
		return nil, fmt.Errorf("tune --dp: epsilon %v must be > 0 and finite", opts.Epsilon)
	}
	if !(opts.Fraction > 0 && opts.Fraction < 1) {
		return nil, fmt.Errorf("tune --dp: fraction %v must be in (0, 1)", opts.Fraction)
	}
	cur, err := currentSplit(j)
	if err != nil {
		return nil, err
	}
	var targets []*dpTarget
	for o, out := range j.Outputs {
		for _, m := range out.Metrics {
			if m.Min == nil || m.Column == "" || slices.ContainsFunc(targets, func(t *dpTarget) bool { return t.o == o && t.column == m.Column }) {
				continue
			}
			targets = append(targets, &dpTarget{o: o, column: m.Column})
		}
	}
	if len(targets) == 0 {
		return nil, &job.ConfigError{File: j.File, Problems: []job.Problem{{Key: "outputs", Rule: "tune --dp chooses clamp bounds, and no metric has min and max"}}}
	}
	led, err := openLedger(opts.Ledger, j.Dataset)
	if err != nil {
		return nil, err
	}
	if _, err := led.Check(ctx, j.Dataset, opts.Epsilon, 0); err != nil {
		return nil, err
	}
	in, err := duckdb.OpenRawInput(ctx, j)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	for _, t := range targets {
		if t.counts, err = boundedHistogram(ctx, in, j, t); err != nil {
			return nil, err
		}
	}
	id, err := chargeID(j.Name)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, t := range targets {
		names = append(names, j.Outputs[t.o].Name+"."+t.column)
	}
	if _, err := led.Reserve(ctx, privacy.ReserveRequest{
		ReleaseID: id, Dataset: j.Dataset, Job: j.Name + " (tune --dp)", Purpose: j.Purpose,
		Epsilon: opts.Epsilon, Outputs: names, JobSHA256: j.FileSHA256(), ConsentWaiver: j.Consent.Waived,
	}); err != nil {
		return nil, err
	}
	// One draw per (output, column), whatever the number of metrics that
	// share it: the charge is each × len(targets).
	each := opts.Epsilon / float64(len(targets))
	for _, t := range targets {
		if err := t.drawBound(j.Outputs[t.o].MaxPartitionsPerUnit, each, opts.Fraction); err != nil {
			return nil, err
		}
	}
	r := &Report{Mode: "dp", Notice: DPNotice, Job: j.Name, Dataset: j.Dataset, Epsilon: j.Privacy.Epsilon, Delta: j.Privacy.Delta,
		Charge: &Charge{ID: id, Epsilon: opts.Epsilon}, Fraction: opts.Fraction}
	for o, out := range j.Outputs {
		or := OutputReport{Name: out.Name, Public: out.PublicKeysOnly(),
			L0:             Choice[int64]{Current: out.MaxPartitionsPerUnit, Recommended: out.MaxPartitionsPerUnit, Auto: out.AutoMaxPartitions},
			SelectionShare: Choice[float64]{Current: cur.share[o], Recommended: cur.share[o]},
			Weight:         Choice[float64]{Current: round2(cur.outWeight[o]), Recommended: round2(cur.outWeight[o])}}
		b := cur.budget(j, o, cur.share[o], cur.outWeight, cur.metricW[o])
		for i, m := range out.Metrics {
			mr := MetricReport{Name: m.Name, Type: m.Type, Weight: Choice[float64]{Current: round2(cur.metricW[o][i]), Recommended: round2(cur.metricW[o][i])}}
			rec := m
			if k := slices.IndexFunc(targets, func(t *dpTarget) bool { return t.o == o && t.column == m.Column }); k >= 0 && m.Min != nil {
				hi := targets[k].upper
				lo := 0.0
				if *m.Min < 0 {
					lo = -hi
				}
				rec.Min, rec.Max = &lo, &hi
				mr.Clamp = &Choice[Bounds]{Current: Bounds{Min: *m.Min, Max: *m.Max}, Recommended: Bounds{Min: lo, Max: hi}, Auto: m.Auto.Min || m.Auto.Max}
				mr.Method = fmt.Sprintf("DP get_bounds: noisy histogram of |partition total| over powers of 2, epsilon %s, cumulative fraction %s", g4(each), g4(opts.Fraction))
			}
			share, err := b.NoiseShare(i)
			if err != nil {
				return nil, fmt.Errorf("output %q metric %q: %w", out.Name, m.Name, err)
			}
			if mr.Noise, err = metricNoise(j, o, rec, out.MaxPartitionsPerUnit, share, 1000); err != nil {
				return nil, fmt.Errorf("output %q metric %q: %w", out.Name, m.Name, err)
			}
			or.Metrics = append(or.Metrics, mr)
		}
		r.Outputs = append(r.Outputs, or)
	}
	for _, t := range targets {
		r.Histograms = append(r.Histograms, Histogram{Output: j.Outputs[t.o].Name, Column: t.column, Epsilon: each, Draws: t.draws})
	}
	return r, nil
}

// drawBound sets t.upper from t's histogram, noised once: a second call
// is an error, since the budget pays for one draw per target.
func (t *dpTarget) drawBound(l0 int64, eps, fraction float64) error {
	if t.draws > 0 {
		return fmt.Errorf("tune --dp: the histogram of %s is noised already; its budget pays for one draw", t.column)
	}
	hi, err := t.noisyBound(l0, eps, fraction)
	if err != nil {
		return err
	}
	t.upper, t.draws = hi, t.draws+1
	return nil
}

// noisyBound noises every bin of t's histogram with the library's Laplace
// noise and returns the upper edge of the first bin where the cumulative
// noisy count reaches fraction of the noisy total. Noisy counts keep their
// sign: the noise has mean 0, so the many empty bins add nothing in
// expectation (clamping them at 0 would add about scale/2 each and push
// the bound far beyond the data). It draws noise: call it only after the budget is reserved.
func (t *dpTarget) noisyBound(l0 int64, eps, fraction float64) (float64, error) {
	noisy := make([]float64, len(t.counts))
	var total float64
	for i, c := range t.counts {
		v, err := noise.Laplace().AddNoiseInt64(c, l0, 1, eps, 0)
		if err != nil {
			return 0, fmt.Errorf("tune --dp: %w", err)
		}
		noisy[i] = float64(v)
		total += noisy[i]
	}
	var cum float64
	for i, v := range noisy {
		cum += v
		if total > 0 && cum >= fraction*total {
			return math.Ldexp(1, binLow+i), nil
		}
	}
	return math.Ldexp(1, binHigh), nil
}

// boundedHistogram counts, per bin, the (person, partition) totals of
// t.column in output t.o after bounding each person to the output's L0
// partitions, chosen by a keyed hash with a secret per-run seed (as the
// engine bounds). Totals of 0 are not counted: no clamp changes them, and
// where most people have none (revenue) they would pull the bound to the
// lowest bin. These are true counts: they stay in memory until
// noisyBound noises them.
func boundedHistogram(ctx context.Context, in *duckdb.RawInput, j *job.Job, t *dpTarget) ([]int64, error) {
	pairs, err := in.PairsSQL(ctx, t.o, []string{t.column})
	if err != nil {
		return nil, err
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("tune --dp: seed: %w", err)
	}
	seed := binary.LittleEndian.Uint64(b[:]) >> 1
	q := fmt.Sprintf(`SELECT least(greatest(ceil(log2(abs(t0)))::BIGINT, %d), %d) AS bin, count(*)::BIGINT
FROM (SELECT t0, row_number() OVER (PARTITION BY u ORDER BY hash(hash(u, p, %d::UBIGINT)), p) AS k FROM (%s))
WHERE k <= %d AND t0 IS NOT NULL AND t0 <> 0 GROUP BY bin ORDER BY bin`, binLow, binHigh, seed, pairs, j.Outputs[t.o].MaxPartitionsPerUnit)
	rows, err := in.QueryRows(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("tune --dp: histogram: %w", err)
	}
	counts := make([]int64, binHigh-binLow+1)
	for _, r := range rows {
		counts[toInt(r[0])-binLow] = toInt(r[1])
	}
	return counts, nil
}

// openLedger opens the ledger, refusing (exit 3) a ledger that does not
// exist: tuning spends budget, which a missing ledger cannot have.
func openLedger(path, dataset string) (*privacy.Ledger, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, &privacy.BudgetError{Dataset: dataset, Reason: "the ledger " + path + " does not exist"}
	}
	return privacy.OpenLedger(path)
}

// chargeID names a tuning charge in the ledger: tune-<job>-<UTC time>-<random>.
func chargeID(jobName string) (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("tune --dp: charge id: %w", err)
	}
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, jobName)
	id := fmt.Sprintf("tune-%s-%s-%s", name, time.Now().UTC().Format("20060102T150405Z"), hex.EncodeToString(b[:]))
	if len(id) > 128 {
		id = id[:128]
	}
	if err := privacy.ValidateReleaseID(id); err != nil {
		return "", errors.New("tune --dp: charge id: " + err.Error())
	}
	return id, nil
}
