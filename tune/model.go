package tune

import (
	"errors"
	"fmt"
	"math"

	"github.com/google/differential-privacy/go/v3/noise"
)

// Count is one bin of a histogram: Count items have value Value.
type Count struct {
	Value int64
	Count int64
}

// ExcessShare is the share of the total Σ Count·Value that a bound drops
// when every item keeps at most bound of its Value: Σ Count·max(0, Value −
// bound) / Σ Count·Value. It is the bounding loss of L0 over a histogram
// of people by number of partitions (a person in d partitions keeps a
// uniformly random bound of them, so exactly max(0, d − bound) of their
// (person, partition) pairs are dropped), and of Linf over a histogram of
// (person, partition) pairs by number of rows. It is 0 for an empty
// histogram.
func ExcessShare(h []Count, bound int64) float64 {
	var total, dropped float64
	for _, c := range h {
		total += float64(c.Count) * float64(c.Value)
		if c.Value > bound {
			dropped += float64(c.Count) * float64(c.Value-bound)
		}
	}
	if total == 0 {
		return 0
	}
	return dropped / total
}

// Selection is DP partition selection as the Releaser runs it:
// dpagg.PreAggSelectPartition with the output's selection share, the
// pre-threshold k and MaxPartitionsContributed = L0.
type Selection struct {
	Epsilon, Delta float64
	L0, K          int64
}

func (s Selection) check() error {
	switch {
	case !(s.Epsilon > 0) || math.IsInf(s.Epsilon, 0):
		return fmt.Errorf("selection epsilon %v must be > 0 and finite", s.Epsilon)
	case !(s.Delta > 0 && s.Delta < 1):
		return fmt.Errorf("selection delta %v must be in (0, 1)", s.Delta)
	case s.L0 < 1:
		return fmt.Errorf("selection L0 %d must be >= 1", s.L0)
	case s.K < 1:
		return fmt.Errorf("selection k %d must be >= 1", s.K)
	}
	return nil
}

// KeepProbability is the probability that the library's
// PreAggSelectPartition keeps a partition of n distinct people under s.
//
// The library (dpagg/select_partition.go) first drops partitions with
// fewer than k people and counts the rest as m = n − (k − 1). For L0 > 3 it
// keeps a partition when a Gaussian count of m (σ from
// noise.SigmaForGaussian with δ/2, rounded to an integer) reaches
// ceil(noise.Gaussian().Threshold(L0, 1, ε, δ/2, δ/2)); the probability is
// the normal tail, with the integer rounding as a half-unit shift. For L0
// <= 3 it keeps it with the probability of Desfontaines, Voss, Gipson and
// Mandayam, "Differentially private partition selection" (PoPETs 2022),
// Theorem 1, computed here in the library's closed form
// (keepPartitionProbability, which the library does not export).
func KeepProbability(s Selection, n int64) (float64, error) {
	k, err := newKeeper(s)
	if err != nil {
		return 0, err
	}
	return k.prob(n), nil
}

// keeper computes KeepProbability for one Selection, with the library's
// threshold and σ computed once.
type keeper struct {
	s          Selection
	cut, sigma float64 // L0 > 3: kept when the rounded noisy count >= cut
	memo       map[int64]float64
}

func newKeeper(s Selection) (*keeper, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	k := &keeper{s: s, memo: map[int64]float64{}}
	if s.L0 > 3 {
		half := s.Delta / 2
		t, err := noise.Gaussian().Threshold(s.L0, 1, s.Epsilon, half, half)
		if err != nil {
			return nil, fmt.Errorf("keep probability: %w", err)
		}
		k.cut, k.sigma = math.Ceil(t), noise.SigmaForGaussian(s.L0, 1, s.Epsilon, half)
	}
	return k, nil
}

func (k *keeper) prob(n int64) float64 {
	if n < k.s.K {
		return 0
	}
	if p, ok := k.memo[n]; ok {
		return p
	}
	m := n - (k.s.K - 1)
	var p float64
	if k.s.L0 > 3 {
		p = 0.5 * math.Erfc((k.cut-0.5-float64(m))/(k.sigma*math.Sqrt2))
	} else {
		p = theoremOneProbability(m, k.s.L0, k.s.Epsilon, k.s.Delta)
	}
	k.memo[n] = p
	return p
}

// theoremOneProbability is the keep probability of a partition with m > 0
// people for L0 <= 3: with ε' = ε/L0 and δ' = δ/L0, p(m) = δ'·Σ_{i<m} e^{iε'}
// up to the crossover nCr, then 1 + e^{−(m−nCr)ε'}·(p(nCr) − 1) +
// δ'·Σ_{i=−(m−nCr)}^{−1} e^{iε'}, capped at 1.
func theoremOneProbability(m, l0 int64, eps, delta float64) float64 {
	pe, pd := eps/float64(l0), delta/float64(l0)
	nCr := int64(1 + math.Floor((1/pe)*math.Log((1+math.Exp(-pe)*(2*pd-1))/(pd*(1+math.Exp(-pe))))))
	// geometric sums of e^{iε'} for i in [lo, lo+count)
	geo := func(lo, count int64) float64 {
		if count <= 0 {
			return 0
		}
		return math.Exp(float64(lo)*pe) * math.Expm1(float64(count)*pe) / math.Expm1(pe)
	}
	if m <= nCr {
		return math.Min(pd*geo(0, m), 1)
	}
	atCr := pd * geo(0, nCr)
	k := m - nCr
	return math.Min(1+math.Exp(-float64(k)*pe)*(atCr-1)+pd*geo(-k, k), 1)
}

// ExpectedReleased is the expected number of partitions s keeps, from a
// histogram of partitions by their number of people after bounding.
func ExpectedReleased(parts []Count, s Selection) (float64, error) {
	k, err := newKeeper(s)
	if err != nil {
		return 0, err
	}
	var sum float64
	for _, c := range parts {
		sum += k.prob(c.Value) * float64(c.Count)
	}
	return sum, nil
}

// errNoData is returned when an output has no clean row.
var errNoData = errors.New("no clean rows in the output's partitions")
