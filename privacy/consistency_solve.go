package privacy

import (
	"math"
	"slices"
)

// The arithmetic of consistency (consistency.go), on plain values: the
// weighted least squares of a rollup, its integer rounding and the
// projection of units_le_rows. Nothing here reads data; every input is a
// released value or its error.

// noisyValue is one released value and its error: the standard deviation of
// its noise (the weight of least squares is 1/sd²), and its 95% half-width
// split into the part of the noise and the part of the bias margin (the
// correction for what bounding removed, Bias.Margin; 0 without one).
type noisyValue struct {
	v, sd, noiseHalf, biasHalf float64
}

// half is the 95% half-width of e.
func (e *noisyValue) half() float64 { return e.noiseHalf + e.biasHalf }

// rollup makes parts sum to total by weighted least squares: it minimizes
// Σ (x̂ − x)² / sd² over total and parts subject to Σ parts = total (and,
// with nonneg, every part >= 0), as the TopDown algorithm does for one level
// of geography. The solution moves each value by its variance times a
// common multiplier λ: part i to max(0, x_i + sd_i² λ), the total to
// x − sd² λ; λ is found on the parts left free (those not held at 0).
//
// The intervals follow the estimator. On the free parts F, with
// S = Σ_F sd_i² and a_i = sd_i² / (S + sd²), part i has the variance
// sd_i² (1 − a_i) and the total S sd² / (S + sd²): each noise half-width
// shrinks by the square root of its variance ratio (the noise quantile of a
// sum of independent noises is at most that of one, relative to its
// deviation, so the half-width keeps its coverage). The bias half-widths
// combine as the estimator combines the values, in absolute value (a
// triangle inequality). When nonneg holds a part at 0, the estimator is no
// longer linear and the held part's truth (not 0) enters the others'
// error: then no half-width of the group shrinks.
func rollup(total *noisyValue, parts []*noisyValue, nonneg bool) {
	if len(parts) == 0 {
		return
	}
	free := make([]bool, len(parts))
	for i := range free {
		free[i] = true
	}
	var lambda, s float64
	for {
		var sum float64
		s = 0
		for i, p := range parts {
			if free[i] {
				sum += p.v
				s += p.sd * p.sd
			}
		}
		den := s + total.sd*total.sd
		if den == 0 {
			return // no noise anywhere: nothing to weigh
		}
		lambda = (total.v - sum) / den
		changed := false
		for i, p := range parts {
			if nonneg && free[i] && p.v+p.sd*p.sd*lambda < 0 {
				free[i], changed = false, true
			}
		}
		if !changed {
			break
		}
	}
	den := s + total.sd*total.sd
	allFree := !slices.Contains(free, false)
	var biasFree float64
	for i, p := range parts {
		if free[i] {
			biasFree += p.biasHalf
		}
	}
	for i, p := range parts {
		if !free[i] {
			p.v = 0
			continue
		}
		a := p.sd * p.sd / den
		p.v += p.sd * p.sd * lambda
		if nonneg {
			p.v = math.Max(p.v, 0)
		}
		if !allFree {
			continue
		}
		p.noiseHalf *= math.Sqrt(1 - a)
		p.biasHalf = (1-a)*p.biasHalf + a*(biasFree-p.biasHalf+total.biasHalf)
	}
	// The total is the sum of its parts: exactly the constraint, without
	// a rounding difference between x − sd² λ and Σ parts.
	var sum float64
	for _, p := range parts {
		sum += p.v
	}
	if allFree && s > 0 {
		total.noiseHalf *= math.Sqrt(s / den)
		total.biasHalf = (s*total.biasHalf + total.sd*total.sd*biasFree) / den
	}
	total.v = sum
}

// roundRollup makes integers of a rollup of counts (after rollup) and keeps
// its sum: the total is rounded, and the parts get their floors plus one
// unit each, largest fractional parts first, until they sum to the rounded
// total (the largest-remainder rule; parts >= 0 stay >= 0). Each value's
// half-width grows by the distance it moved, so its interval still covers
// what the unrounded one did.
func roundRollup(total *noisyValue, parts []*noisyValue) {
	target := math.Round(total.v)
	total.noiseHalf += math.Abs(target - total.v)
	total.v = target
	var floors float64
	order := make([]int, len(parts))
	frac := make([]float64, len(parts))
	for i, p := range parts {
		order[i] = i
		f := math.Floor(p.v)
		frac[i] = p.v - f
		floors += f
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case frac[a] > frac[b]:
			return -1
		case frac[a] < frac[b]:
			return 1
		}
		return 0
	})
	extra := int(target - floors)
	for rank, i := range order {
		p := parts[i]
		r := math.Floor(p.v)
		if rank < extra {
			r++
		}
		p.noiseHalf += math.Abs(r - p.v)
		p.v = r
	}
}

// atMost makes lo <= hi when the released values break it: both get the
// inverse-variance weighted mean of the two (the weighted least squares
// projection onto lo = hi), or hi's value when hi is pinned by another
// constraint (a rollup); integer values are rounded. The half-widths stay:
// the projection onto a convex set that holds the truth brings the pair no
// farther from it.
func atMost(lo, hi *noisyValue, pinned, integer bool) {
	if lo.v <= hi.v {
		return
	}
	m := hi.v
	if !pinned {
		wl, wh := weight(lo.sd), weight(hi.sd)
		switch {
		case math.IsInf(wh, 1) && math.IsInf(wl, 1), wl+wh == 0:
			m = (lo.v + hi.v) / 2
		case math.IsInf(wh, 1):
			m = hi.v
		case math.IsInf(wl, 1):
			m = lo.v
		default:
			m = (wl*lo.v + wh*hi.v) / (wl + wh)
		}
		if integer {
			m = math.Round(m)
		}
	}
	lo.v, hi.v = m, m
}

// weight is the least squares weight of a value with noise deviation sd.
func weight(sd float64) float64 {
	if sd == 0 {
		return math.Inf(1)
	}
	return 1 / (sd * sd)
}
