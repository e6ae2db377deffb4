package privacy

import (
	"errors"
	"fmt"
	"math"
	"math/big"

	"github.com/google/differential-privacy/go/v3/noise"
)

// GaussianBlock is the composition of a job's Gaussian-noised components
// (docs/budget.md, "Gaussian noise").
//
// With Gaussian noise, the budget split (split.go) still gives every metric
// component an (ε, δ) share, and the shares still add up to what the job
// spends. But the components are not noised with their shares one by one.
// Every Gaussian-noised component of the job (all but the quantile trees,
// which the library's BoundedQuantiles noises itself) is one Gaussian
// mechanism, and a composition of Gaussian mechanisms is exactly a Gaussian
// mechanism: its zero-concentrated DP parameter ρ is the sum of theirs
// (ρ = μ²/2 for a Gaussian of sensitivity Δ and deviation σ, μ = Δ/σ; Bun
// and Steinke 2016, Dong, Roth and Su 2019). So:
//
//  1. The block's (ε, δ) is the sum of the components' shares.
//  2. Its μ is the largest μ for which a single Gaussian mechanism is
//     (ε, δ)-DP: 1/noise.SigmaForGaussian(1, 1, ε, δ), the library's
//     analytic calibration (Balle and Wang 2018), which rounds σ up.
//  3. Each component gets the fraction of ρ that its ε share is of the
//     block's ε: μ_c = μ·√f_c, so Σ μ_c² ≤ μ², and its deviation is
//     σ_c = Δ_c/μ_c with Δ_c = √L0·Linf.
//  4. The library draws the noise, its CIs and thresholds with parameters
//     (ε_c', δ_c') for which noise.SigmaForGaussian(L0, Linf, ε_c', δ_c') is
//     at least σ_c (Component.Noise, found by noiseParams).
//
// Against splitting (ε, δ) additively, this is the same charge with less
// noise: at L0 5, 32% less for a count of people
// (benchmarks/UTILITY.md, "Gaussian noise").
type GaussianBlock struct {
	// Share is the (ε, δ) the block spends: the sum of its components'
	// shares, which the ledger charges.
	Share Share `json:"share"`
	// Rho is the block's zero-concentrated DP parameter ρ = μ²/2.
	Rho float64 `json:"rho"`
	// Mu is the μ of the single Gaussian mechanism the block amounts to.
	Mu float64 `json:"mu"`
	// Components is how many statistics the block noises.
	Components int `json:"components"`
}

// composable reports whether component c joins the Gaussian block: it is
// noised through noise.Gaussian() with its (ε, δ), not by a library
// aggregation of its own (a stream's quantile tree).
func (c *Component) composable() bool { return !c.Stat.Stream() }

// NoiseShare is the (ε, δ) the library draws c's noise, CIs and thresholds
// with: Noise under Gaussian composition, else the component's Share.
func (c *Component) NoiseShare() Share {
	if c.Noise != (Share{}) {
		return c.Noise
	}
	return c.Share
}

// Rho is the zero-concentrated DP parameter ρ of c's noise under Gaussian
// composition (Δ²/(2σ²)), or 0 when c is not in a Gaussian block.
func (c *Component) Rho() float64 {
	if c.Noise == (Share{}) || c.StdDev <= 0 {
		return 0
	}
	mu := math.Sqrt(float64(c.L0)) * c.LInf / c.StdDev
	return mu * mu / 2
}

// composeGaussian makes p's Gaussian-noised components one Gaussian block
// (see above): it sets each one's Noise, StdDev and CI95 and p.Gaussian.
// It never changes a Share, so the charge is unchanged.
func composeGaussian(p *Plan) error {
	var cs []*Component
	var eps, del []float64
	for i := range p.Outputs {
		for j := range p.Outputs[i].Metrics {
			for k := range p.Outputs[i].Metrics[j].Components {
				c := &p.Outputs[i].Metrics[j].Components[k]
				if !c.composable() {
					continue
				}
				cs = append(cs, c)
				eps, del = append(eps, c.Share.Epsilon), append(del, c.Share.Delta)
			}
		}
	}
	if len(cs) == 0 {
		return nil
	}
	// The block's (ε, δ), rounded down: what it proves may not exceed what
	// the components are charged.
	block := Share{Epsilon: floorFloat(exactSum(eps)), Delta: floorFloat(exactSum(del))}
	if !(block.Epsilon > 0 && block.Delta > 0 && block.Delta < 1) {
		return fmt.Errorf("gaussian composition: the metrics' budget (%v, %v) needs epsilon > 0 and delta in (0, 1)", block.Epsilon, block.Delta)
	}
	mu := 1 / noise.SigmaForGaussian(1, 1, block.Epsilon, block.Delta)
	var sumSq float64
	for _, c := range cs {
		// The ε fractions add up to 1 up to rounding: shave a relative
		// 1e-12 so that Σ μ_c² stays below μ².
		f := c.Share.Epsilon / block.Epsilon * (1 - 1e-12)
		sigma := math.Sqrt(float64(c.L0)) * c.LInf / (mu * math.Sqrt(f))
		n, err := noiseParams(c.L0, c.LInf, sigma, block.Epsilon*math.Sqrt(f))
		if err != nil {
			return fmt.Errorf("gaussian composition: %s: %w", c.Stat, err)
		}
		c.Noise = n
		if c.StdDev, c.CI95, err = noiseStats(Gaussian, c.L0, c.LInf, n); err != nil {
			return fmt.Errorf("gaussian composition: %s: %w", c.Stat, err)
		}
		m := math.Sqrt(float64(c.L0)) * c.LInf / c.StdDev
		sumSq += m * m
	}
	// The guarantee, checked on the deviations the library will draw with.
	if sumSq > mu*mu {
		return fmt.Errorf("gaussian composition: the components' mu² add up to %v, more than the block's %v", sumSq, mu*mu)
	}
	p.Gaussian = &GaussianBlock{Share: block, Rho: mu * mu / 2, Mu: mu, Components: len(cs)}
	return nil
}

// noiseParams finds (ε', δ') for which the library's Gaussian deviation
// noise.SigmaForGaussian(l0, linf, ε', δ') is at least sigma, and as close
// to it as a bisection on log δ' gets (relative 1e-9): ε' is eps, and δ'
// the largest such δ. eps is chosen so that δ' is of the order of the
// job's δ (see composeGaussian), far from underflow.
func noiseParams(l0 int64, linf, sigma, eps float64) (Share, error) {
	at := func(logDelta float64) float64 { return noise.SigmaForGaussian(l0, linf, eps, math.Exp(logDelta)) }
	lo, hi := math.Log(1e-300), math.Log(0.5)
	if at(lo) < sigma {
		return Share{}, errors.New("no delta gives the deviation the composition needs")
	}
	if at(hi) >= sigma {
		return Share{Epsilon: eps, Delta: 0.5}, nil
	}
	lo, _ = bisect(lo, hi, func(x float64) bool { return at(x) >= sigma })
	return Share{Epsilon: eps, Delta: math.Exp(lo)}, nil
}

// bisect narrows [lo, hi], where holds(lo) and not holds(hi) for a
// function holds that is true up to some point and false after, to a width
// of 1e-9 and returns its ends: lo the last point found to hold, hi the
// first found not to.
func bisect(lo, hi float64, holds func(float64) bool) (float64, float64) {
	for hi-lo >= 1e-9 {
		if mid := (lo + hi) / 2; holds(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, hi
}

// floorFloat is the largest float64 that is not more than r.
func floorFloat(r *big.Rat) float64 {
	f, _ := r.Float64()
	if exact(f).Cmp(r) > 0 {
		f = math.Nextafter(f, math.Inf(-1))
	}
	return f
}

// Guarantee is the (ε, δ) that metric i of output o satisfies on its own,
// what an audit of that metric alone may measure against. It is the
// metric's share, except under Gaussian composition, where the share is the
// metric's part of the block's charge rather than a guarantee of its own:
// there it is the (ε', δ') the library draws its one statistic with, or,
// for a metric of several statistics (mean, variance), the whole block's.
func (p *Plan) Guarantee(o, i int) Share {
	mp := &p.Outputs[o].Metrics[i]
	switch {
	case p.Gaussian == nil || mp.Components[0].Noise == (Share{}):
		return mp.Share
	case len(mp.Components) == 1:
		return mp.Components[0].Noise
	}
	return p.Gaussian.Share
}

// GaussianEquivalent is the share that, noised alone as a block of its own,
// gets the noise share gets as part of Gaussian block: the same μ,
// μ(block)·√(share.ε / block.ε) (composeGaussian), at share's δ. A plan of
// one metric with the equivalent share shows the noise the metric has in
// the whole job's plan; `privagg tune` compares candidates that way.
func GaussianEquivalent(block, share Share) (Share, error) {
	if !(block.Epsilon > 0 && block.Delta > 0 && block.Delta < 1 && share.Epsilon > 0 && share.Epsilon <= block.Epsilon*(1+1e-9) &&
		share.Delta > 0 && share.Delta < 1) {
		return Share{}, fmt.Errorf("gaussian equivalent of %+v in block %+v: the share must be a positive part of the block", share, block)
	}
	target := math.Sqrt(share.Epsilon/block.Epsilon) / noise.SigmaForGaussian(1, 1, block.Epsilon, block.Delta)
	mu := func(logEps float64) float64 { return 1 / noise.SigmaForGaussian(1, 1, math.Exp(logEps), share.Delta) }
	lo, hi := math.Log(1e-12), math.Log(block.Epsilon)
	_, hi = bisect(lo, hi, func(x float64) bool { return mu(x) < target })
	return Share{Epsilon: math.Exp(hi), Delta: share.Delta}, nil
}
