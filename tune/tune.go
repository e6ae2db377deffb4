// Package tune recommends a job's contribution bounds and budget split
// (`privagg tune`, docs/tune.md): per output the L0
// (max_partitions_per_unit), the selection share and the output weight;
// per metric the Linf (max_per_unit), the clamp bounds and the weight.
//
// Raw (non-private) mode reads the raw input with the embedded engine's
// views, in SQL, and shows per candidate the plan's noise error, the share
// of the data the bound drops and the expected number of released
// partitions; its output is internal, never a release. DP mode (DP) chooses
// clamp bounds from a DP histogram of people's partition totals, with a
// stated budget charged through the ledger first. Apply writes the chosen
// values into a copy of the job file.
package tune

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/privagg/privagg/engine/duckdb"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
)

// RawNotice labels raw mode's output.
const RawNotice = "NON-PRIVATE: read the raw input. Internal figures for the data engineer on a sample or public data; " +
	"not a release, not DP, nothing charged; do not publish or share them."

// ShareCandidates are the selection shares raw mode compares.
var ShareCandidates = []float64{0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7}

// l0Ladder and linfLadder are the bounds raw mode compares, up to the
// largest the data has.
var l0Ladder = []int64{1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 25, 32, 40, 50, 64, 80, 100}

// current is the job's budget split as its plan makes it: the output
// weights, selection shares and metric weights.
type current struct {
	outWeight []float64
	share     []float64
	metricW   [][]float64
	// block is, with Gaussian noise, the job's Gaussian composition
	// (privacy.GaussianBlock.Share), and outBlock each output's part of it.
	block    privacy.Share
	outBlock []privacy.Share
}

// currentSplit reads the budget split from the job's plan, so that tune
// compares against exactly what `privagg plan` shows.
func currentSplit(j *job.Job) (*current, error) {
	plan, err := privacy.NewPlan(j.PrivacySpec())
	if err != nil {
		return nil, j.PlanError(err)
	}
	c := &current{}
	for _, op := range plan.Outputs {
		c.outWeight = append(c.outWeight, op.Share.Epsilon/plan.Total.Epsilon*float64(len(plan.Outputs)))
		s := 0.0
		if op.Selection != nil {
			s = op.Selection.Share.Epsilon / op.Share.Epsilon
		}
		c.share = append(c.share, s)
		var ws []float64
		for _, mp := range op.Metrics {
			ws = append(ws, mp.Share.Epsilon/(op.Share.Epsilon*(1-s))*float64(len(op.Metrics)))
		}
		c.metricW = append(c.metricW, ws)
		var part privacy.Share
		for _, mp := range op.Metrics {
			for _, comp := range mp.Components {
				if !comp.Stat.Stream() {
					part.Epsilon += comp.Share.Epsilon
					part.Delta += comp.Share.Delta
				}
			}
		}
		c.outBlock = append(c.outBlock, part)
	}
	if plan.Gaussian != nil {
		c.block = plan.Gaussian.Share
	}
	return c, nil
}

// budget is output o's budget with the given selection share and weights.
func (c *current) budget(j *job.Job, o int, share float64, outW []float64, metricW []float64) Budget {
	total := 0.0
	for _, w := range outW {
		total += w
	}
	b := Budget{Epsilon: j.Privacy.Epsilon, Delta: j.Privacy.Delta, Gaussian: j.Privacy.Noise == privacy.Gaussian,
		OutputWeight: outW[o], OutputWeights: total, SelectionShare: share, MetricWeights: metricW}
	if b.Gaussian {
		b.Rest = privacy.Share{Epsilon: max(0, c.block.Epsilon-c.outBlock[o].Epsilon), Delta: max(0, c.block.Delta-c.outBlock[o].Delta)}
	}
	return b
}

// Raw studies j's raw input and recommends its bounds and budget split.
// It reads the input as a release would (consent, derived columns,
// malformed rows dropped) and returns internal figures only.
func Raw(ctx context.Context, j *job.Job, opts RawOptions) (*Report, error) {
	if opts.Focus != "" {
		if err := CheckFocus(j, opts.Focus); err != nil {
			return nil, err
		}
	}
	cur, err := currentSplit(j)
	if err != nil {
		return nil, err
	}
	in, err := duckdb.OpenRawInput(ctx, j)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	r := &Report{Mode: "raw", Notice: RawNotice, Job: j.Name, Dataset: j.Dataset, Epsilon: j.Privacy.Epsilon, Delta: j.Privacy.Delta, Focus: opts.Focus}
	var studies []*outputStudy
	for o := range j.Outputs {
		s, err := studyRaw(ctx, in, j, cur, o, opts)
		if err != nil {
			return nil, err
		}
		studies = append(studies, s)
	}
	outW := outputWeights(studies, j.Privacy.Noise == privacy.Gaussian, opts.Focus != "")
	for o, s := range studies {
		if err := s.finish(j, cur, outW, o); err != nil {
			return nil, err
		}
		r.Outputs = append(r.Outputs, s.report)
	}
	return r, nil
}

// keepThreshold is the smallest number of people a partition needs to be
// kept with probability >= 1/2 under sel.
func keepThreshold(sel Selection) (int64, error) {
	lo, hi := int64(0), max(sel.K, 1)
	for {
		p, err := KeepProbability(sel, hi)
		if err != nil {
			return 0, err
		}
		if p >= 0.5 {
			break
		}
		if hi > 1<<40 {
			return 0, fmt.Errorf("no partition size up to %d is kept with probability 1/2", hi)
		}
		lo, hi = hi, hi*2
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		p, err := KeepProbability(sel, mid)
		if err != nil {
			return 0, err
		}
		if p >= 0.5 {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, nil
}

// ladder is the candidates of ladder up to the first >= top, and cur.
func ladder(steps []int64, top, cur int64) []int64 {
	var out []int64
	for _, v := range steps {
		out = append(out, v)
		if v >= top {
			break
		}
	}
	if !slices.Contains(out, cur) {
		out = append(out, cur)
		slices.Sort(out)
	}
	return out
}

// score is the expected root-mean-square error of a value whose bounding
// drops bias and whose noise has standard deviation sigma.
func score(bias, sigma float64) float64 { return math.Hypot(bias, sigma) }

// sigmaOf is the noise's standard deviation, from its 95% half-width where
// the model gives only that (normal approximation).
func sigmaOf(n Noise) float64 {
	if n.StdDev > 0 {
		return n.StdDev
	}
	return n.value() / 1.959963984540054
}

// round2 rounds a weight to 2 significant digits.
func round2(x float64) float64 {
	if x <= 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return 1
	}
	p := math.Pow(10, 1-math.Floor(math.Log10(x)))
	return math.Round(x*p) / p
}
