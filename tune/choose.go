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

// outputStudy is raw mode's work on one output.
type outputStudy struct {
	o       int
	focus   int // the focus metric's index (RawOptions.Focus), or -1
	raw     *rawOutput
	report  OutputReport
	recL0   int64
	recS    float64
	metrics []metricStudy
}

// metricStudy is one metric's chosen bounds and its relative noise.
type metricStudy struct {
	m job.Metric // with the recommended bounds
	// rel is the noise's standard deviation at epsilon 1 over the
	// metric's typical partition value (NaN when unknown: quantiles, or
	// no typical value).
	rel float64
}

// typical is a metric's typical released value in a partition, by kind,
// for the relative noise that sets weights and for the bias of a bound;
// NaN where tune knows none.
func (r *rawOutput) typical(m job.Metric) float64 {
	ci := slices.Index(r.columns, m.Column)
	switch privacy.MetricKind(m.Type) {
	case "count":
		return r.medRows
	case "count_units":
		return r.medPeople
	case "sum":
		return math.Abs(r.medSum[ci])
	case "mean":
		return math.Abs(r.medMean[ci])
	case "variance":
		return r.medVar[ci]
	case "stddev":
		return math.Sqrt(r.medVar[ci])
	}
	return math.NaN()
}

// peopleMetric is the count of people the L0 and share step scores.
var peopleMetric = job.Metric{Name: "people", Type: "count_units", Weight: privacy.DefaultWeight}

func equalWeights(n int) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = 1
	}
	return w
}

// studyRaw chooses output o's L0 and selection share, then each metric's
// bounds.
func studyRaw(ctx context.Context, in *duckdb.RawInput, j *job.Job, cur *current, o int, opts RawOptions) (*outputStudy, error) {
	out := j.Outputs[o]
	public := out.PublicKeysOnly()
	weights, scored := studyWeights(out, opts.Focus)
	b0 := cur.budget(j, o, cur.share[o], cur.outWeight, weights)
	threshold := func(l0 int64) (int64, error) {
		if public {
			return 0, nil
		}
		s := b0.Selection()
		return keepThreshold(Selection{Epsilon: s.Epsilon, Delta: s.Delta, L0: l0, K: j.Privacy.K})
	}
	cands := func(top int64) []int64 { return ladder(l0Ladder, top, out.MaxPartitionsPerUnit) }
	raw, err := studyOutput(ctx, in, j, o, cands, threshold)
	if err != nil {
		return nil, err
	}
	st := &outputStudy{o: o, raw: raw, focus: focusIndex(out, opts.Focus)}
	st.report = OutputReport{Name: out.Name, Public: public, People: raw.people, Pairs: raw.pairs, Partitions: raw.partitions}
	shares := ShareCandidates
	if public {
		shares = []float64{0}
	}
	type cell struct {
		released, lossRel, score float64
		noise                    Noise
	}
	grid := make([][]cell, len(raw.l0s))
	best, bi, bs := math.Inf(1), 0, 0
	for li, l0 := range raw.l0s {
		for si, s := range shares {
			b := cur.budget(j, o, s, cur.outWeight, weights)
			share, err := b.NoiseShare(scored)
			if err != nil {
				return nil, fmt.Errorf("output %q: selection share %v: %w", out.Name, s, err)
			}
			nz, err := metricNoise(j, o, peopleMetric, l0, share, 0)
			if err != nil {
				return nil, fmt.Errorf("output %q: L0 %d, selection share %v: %w", out.Name, l0, s, err)
			}
			c, err := evaluate(raw.parts[li], b, l0, j.Privacy.K, public, nz.StdDev)
			if err != nil {
				return nil, err
			}
			c.noise = nz
			grid[li] = append(grid[li], cell{released: c.released, lossRel: c.lossRel, score: c.score, noise: nz})
			if c.score < best {
				best, bi, bs = c.score, li, si
			}
		}
	}
	st.recL0, st.recS = raw.l0s[bi], shares[bs]
	st.report.L0 = Choice[int64]{Current: out.MaxPartitionsPerUnit, Recommended: st.recL0, Auto: out.AutoMaxPartitions}
	st.report.SelectionShare = Choice[float64]{Current: cur.share[o], Recommended: st.recS}
	for li, l0 := range raw.l0s {
		c := grid[li][bs]
		st.report.L0Candidates = append(st.report.L0Candidates, L0Candidate{L0: l0, Loss: ExcessShare(raw.degrees, l0),
			LossReleased: c.lossRel, Released: c.released, PeopleNoise: c.noise, Score: c.score})
	}
	if !public {
		for si, s := range shares {
			c := grid[bi][si]
			st.report.ShareCandidates = append(st.report.ShareCandidates, ShareCandidate{Share: s, Released: c.released, PeopleNoise: c.noise, Score: c.score})
		}
	}
	bRec := cur.budget(j, o, st.recS, cur.outWeight, weights)
	for i, m := range out.Metrics {
		share, err := bRec.NoiseShare(i)
		if err != nil {
			return nil, fmt.Errorf("output %q metric %q: %w", out.Name, m.Name, err)
		}
		ms, mr, err := st.studyMetric(ctx, in, j, m, share)
		if err != nil {
			return nil, fmt.Errorf("output %q metric %q: %w", out.Name, m.Name, err)
		}
		st.metrics = append(st.metrics, ms)
		st.report.Metrics = append(st.report.Metrics, mr)
	}
	return st, nil
}

// evaluation is one (L0, selection share) candidate of an output.
type evaluation struct {
	released, lossRel, score float64
	noise                    Noise
}

// evaluate scores an output's (L0, selection share) candidate by the
// expected error of a distinct-people count per partition with data,
// averaged over partitions: a partition released with probability q has
// error hypot(bias, σ), bias being its people lost to bounding (among
// the released partitions: e2), and otherwise its whole value n is
// missing: q·hypot(n − e2, σ) + (1 − q)·n. With public partitions q = 1.
func evaluate(parts []partition, b Budget, l0, k int64, public bool, sigma float64) (evaluation, error) {
	var kp *keeper
	if !public {
		s := b.Selection()
		var err error
		if kp, err = newKeeper(Selection{Epsilon: s.Epsilon, Delta: s.Delta, L0: l0, K: k}); err != nil {
			return evaluation{}, err
		}
	}
	var e evaluation
	var lost, kept float64
	for _, p := range parts {
		q := 1.0
		if kp != nil {
			q = kp.prob(int64(math.Round(p.e1)))
		}
		n := float64(p.n)
		e.released += q
		lost += q * (n - p.e2)
		kept += q * n
		e.score += q*score(n-p.e2, sigma) + (1-q)*n
	}
	if kept > 0 {
		e.lossRel = lost / kept
	}
	if len(parts) > 0 {
		e.score /= float64(len(parts))
	}
	return e, nil
}

// linfLadder are the Linf values raw mode compares.
var linfLadder = []int64{1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 25, 32, 50, 64, 100}

// biasScale is what a bound's loss share multiplies to give the bias of a
// partition: for totals (count, sum) the mean partition value, so that
// loss × scale is the mass lost per partition on average; for the others
// (mean, variance, stddev) the typical value.
func (r *rawOutput) biasScale(m job.Metric) float64 {
	switch privacy.MetricKind(m.Type) {
	case "count":
		return r.meanRows
	case "sum":
		return r.meanAbsSum[slices.Index(r.columns, m.Column)]
	}
	return r.typical(m)
}

// studyMetric chooses metric m's Linf or clamp bounds at share, the
// metric's share with equal weights at the output's recommended L0 and
// selection share. A candidate's score is hypot(loss × biasScale, σ): the
// bias of a partition and the noise's standard deviation.
// Quantiles have no noise model here; their bounds are the narrowest
// candidate that drops at most 1% of the value mass.
func (st *outputStudy) studyMetric(ctx context.Context, in *duckdb.RawInput, j *job.Job, m job.Metric, share privacy.Share) (metricStudy, MetricReport, error) {
	r := st.raw
	mr := MetricReport{Name: m.Name, Type: m.Type}
	kind, ok := privacy.LookupMetric(privacy.MetricKind(m.Type))
	if !ok {
		return metricStudy{}, mr, fmt.Errorf("unknown metric type %q", m.Type)
	}
	typ := r.typical(m)
	scale := r.biasScale(m)
	people := int64(math.Max(1, math.Round(r.medPeople)))
	noiseAt := func(c job.Metric) (Noise, error) { return metricNoise(j, st.o, c, st.recL0, share, people) }
	rec := m
	switch {
	case kind.Fields().MaxPerUnit:
		top := r.rows[len(r.rows)-1].Value
		best := math.Inf(1)
		for _, l := range ladder(linfLadder, top, m.MaxPerUnit) {
			c := m
			c.MaxPerUnit = l
			nz, err := noiseAt(c)
			if err != nil {
				return metricStudy{}, mr, err
			}
			loss := ExcessShare(r.rows, l)
			sc := score(loss*scale, sigmaOf(nz))
			mr.Candidates = append(mr.Candidates, BoundCandidate{Linf: l, Label: fmt.Sprint(l), Loss: loss, Noise: nz, Score: sc})
			if sc < best {
				best, rec = sc, c
			}
		}
		mr.Linf = &Choice[int64]{Current: m.MaxPerUnit, Recommended: rec.MaxPerUnit, Auto: m.Auto.MaxPerUnit}
	case kind.Fields().Measure:
		var err error
		if rec, err = st.chooseClamp(ctx, in, m, scale, noiseAt, &mr); err != nil {
			return metricStudy{}, mr, err
		}
	}
	unit := privacy.Share{Epsilon: 1, Delta: share.Delta}
	nz, err := metricNoise(j, st.o, rec, st.recL0, unit, people)
	if err != nil {
		return metricStudy{}, mr, err
	}
	return metricStudy{m: rec, rel: sigmaOf(nz) / typ}, mr, nil
}

// chooseClamp compares the current bounds and the quantiles of people's
// partition totals (lower bound 0 when no total is negative).
func (st *outputStudy) chooseClamp(ctx context.Context, in *duckdb.RawInput, m job.Metric, scale float64, noiseAt func(job.Metric) (Noise, error), mr *MetricReport) (job.Metric, error) {
	r := st.raw
	ci := slices.Index(r.columns, m.Column)
	var cands [][2]float64
	var labels []string
	if m.Min != nil && m.Max != nil {
		cands, labels = append(cands, [2]float64{*m.Min, *m.Max}), append(labels, "current")
	}
	// Candidates are the data's quantiles rounded outwards to 2
	// significant digits (coarse): a bound written into a job file, and
	// published in its manifests, then carries no exact data value.
	for k, level := range clampLevels {
		lo, hi := 0.0, coarse(math.Max(r.highQ[ci][k], 0), true)
		if r.minT[ci] < 0 {
			lo = coarse(math.Min(r.lowQ[ci][k], 0), false)
		}
		if hi > lo && !slices.Contains(cands, [2]float64{lo, hi}) {
			cands, labels = append(cands, [2]float64{lo, hi}), append(labels, fmt.Sprintf("q%g", level*100))
		}
	}
	losses, err := clampLoss(ctx, in, ci, cands)
	if err != nil {
		return m, err
	}
	quantiles := privacy.MetricKind(m.Type) == "quantiles"
	rec, best := m, math.Inf(1)
	for k, c := range cands {
		x := m
		x.Min, x.Max = &c[0], &c[1]
		nz, err := noiseAt(x)
		if err != nil {
			return m, err
		}
		sc := score(losses[k]*scale, sigmaOf(nz))
		if quantiles {
			sc = c[1] - c[0]
			if losses[k] > 0.01 {
				sc = math.Inf(1)
			}
		}
		b := Bounds{Min: c[0], Max: c[1]}
		mr.Candidates = append(mr.Candidates, BoundCandidate{Bounds: &b, Label: labels[k], Loss: losses[k], Noise: nz, Score: sc})
		if sc < best || (math.IsNaN(best) && !math.IsNaN(sc)) {
			best, rec = sc, x
		}
	}
	cb := Bounds{}
	if m.Min != nil && m.Max != nil {
		cb = Bounds{Min: *m.Min, Max: *m.Max}
	}
	mr.Clamp = &Choice[Bounds]{Current: cb, Recommended: Bounds{Min: *rec.Min, Max: *rec.Max}, Auto: m.Auto.Min || m.Auto.Max}
	mr.Method = "raw quantiles of people's partition totals"
	return rec, nil
}

// metricWeights are the weights minimizing the sum over the output's
// metrics of (noise σ / typical value)² for a fixed metric budget: with σ
// proportional to 1/ε (Laplace), weight ∝ rel^(2/3); with Gaussian
// composition σ is proportional to 1/√ε (a metric's ρ is its ε fraction of
// the block's), and weight ∝ rel. Metrics without a relative noise get the
// mean weight of the others. Normalized to mean 1.
func metricWeights(ms []metricStudy, gaussian bool) []float64 {
	return normalize(metricWeightsRaw(ms, gaussian))
}

// outputWeights extend the same objective across outputs: an output whose
// selection takes share s needs 1/(1 − s) of its metric budget, so its
// weight is ∝ (1 − s)^(−2/3)·Σ rel^(2/3) over its metrics (Laplace), or
// (1 − s)^(−1)·Σ rel (Gaussian composition: minimizing Σ_o R_o²/u_o over
// the outputs' parts u_o of the block gives u_o ∝ R_o).
//
// With --focus (focus true) the job's metric budget follows the focus
// weights across outputs too: every metric gets epsilon in proportion to
// its weight (1 for the focus metric, FocusOtherWeight for every other,
// in every output), so an output's weight is ∝ Σ weights / (1 − s).
// Balancing outputs by the other metrics' relative noise instead gave the
// example job's focus output 23% of the job and the people count of
// another output's weight to its five revenue metrics.
func outputWeights(studies []*outputStudy, gaussian, focus bool) []float64 {
	w := make([]float64, len(studies))
	if focus {
		for o, st := range studies {
			sum := FocusOtherWeight * float64(len(st.metrics))
			if st.focus >= 0 {
				sum += 1 - FocusOtherWeight
			}
			w[o] = sum / (1 - st.recS)
		}
		return normalize(w)
	}
	exp := -2.0 / 3
	if gaussian {
		exp = -1
	}
	for o, st := range studies {
		var sum float64
		for _, m := range metricWeightsRaw(st.metrics, gaussian) {
			sum += m
		}
		w[o] = math.Pow(1-st.recS, exp) * sum
	}
	return normalize(w)
}

// metricWeightsRaw are the unnormalized rel^(2/3), or rel with Gaussian
// composition (the mean of the known ones where unknown; 1 when none is
// known).
func metricWeightsRaw(ms []metricStudy, gaussian bool) []float64 {
	exp := 2.0 / 3
	if gaussian {
		exp = 1
	}
	w := make([]float64, len(ms))
	var sum float64
	var known int
	for i, m := range ms {
		if m.rel > 0 && !math.IsInf(m.rel, 0) {
			w[i] = math.Pow(m.rel, exp)
			sum += w[i]
			known++
		}
	}
	fill := 1.0
	if known > 0 {
		fill = sum / float64(known)
	}
	for i := range w {
		if w[i] == 0 {
			w[i] = fill
		}
	}
	return w
}

// normalize scales w to mean 1 and rounds each to 2 significant digits.
func normalize(w []float64) []float64 {
	var sum float64
	for _, x := range w {
		sum += x
	}
	out := make([]float64, len(w))
	for i, x := range w {
		out[i] = round2(x * float64(len(w)) / sum)
	}
	return out
}

// finish sets the output's weights, its metrics' weights and the noise
// and expected releases at every recommended value.
func (st *outputStudy) finish(j *job.Job, cur *current, outW []float64, o int) error {
	mw := metricWeights(st.metrics, j.Privacy.Noise == privacy.Gaussian)
	if st.focus >= 0 {
		mw = focusWeights(len(st.metrics), st.focus)
	}
	st.report.Weight = Choice[float64]{Current: round2(cur.outWeight[o]), Recommended: outW[o]}
	b := cur.budget(j, o, st.recS, outW, mw)
	people := int64(math.Max(1, math.Round(st.raw.medPeople)))
	for i, ms := range st.metrics {
		share, err := b.NoiseShare(i)
		if err != nil {
			return fmt.Errorf("output %q metric %q: %w", j.Outputs[o].Name, ms.m.Name, err)
		}
		nz, err := metricNoise(j, o, ms.m, st.recL0, share, people)
		if err != nil {
			return fmt.Errorf("output %q metric %q: %w", j.Outputs[o].Name, ms.m.Name, err)
		}
		mr := &st.report.Metrics[i]
		mr.Noise = nz
		mr.Weight = Choice[float64]{Current: round2(cur.metricW[o][i]), Recommended: mw[i]}
	}
	li := slices.Index(st.raw.l0s, st.recL0)
	e, err := evaluate(st.raw.parts[li], b, st.recL0, j.Privacy.K, st.report.Public, 0)
	if err != nil {
		return err
	}
	st.report.ExpectedReleased = e.released
	return nil
}
