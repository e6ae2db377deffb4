// Package verify holds the helpers of privagg's verification suite:
// exact Clopper-Pearson intervals, the epsilon lower bound of a black-box DP
// audit, the fast/full mode switch and the summary records the runner
// (internal/verify/cmd/verify) prints as a table.
//
// The checks themselves are tests: pipeline/verify_audit_test.go (DP audit,
// package pipeline because it re-runs the unexported release step) and the
// _test.go files of this package (crash soak, bad input, leak scan, staging).
// This package imports nothing from privagg, so both can use it.
package verify

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
)

// ModeEnv selects the size of the suite: "full" for `make verify`, anything
// else (or unset) for the fast subset that `go test` runs.
const ModeEnv = "PRIVAGG_VERIFY"

// SummaryEnv names a file that tests append their summary records to, one
// JSON object per line. Unset: records are not written.
const SummaryEnv = "PRIVAGG_VERIFY_SUMMARY"

// Full reports whether the suite runs in full mode.
func Full() bool { return os.Getenv(ModeEnv) == "full" }

// Size returns fast or full depending on the mode.
func Size(fast, full int) int {
	if Full() {
		return full
	}
	return fast
}

// Record is one line of the summary table.
type Record struct {
	Section string  `json:"section"` // dp-audit | power | crash | bad-input | fuzz | leak | staging
	Check   string  `json:"check"`
	Path    string  `json:"path,omitempty"`    // code path exercised, e.g. "pipeline.Run"
	Trials  int     `json:"trials"`            // runs per dataset, kills, inputs tried...
	Claimed float64 `json:"claimed,omitempty"` // claimed epsilon (dp-audit, power)
	EpsLB   float64 `json:"eps_lb,omitempty"`  // epsilon lower bound found
	Pass    bool    `json:"pass"`
	Note    string  `json:"note,omitempty"`
}

var summaryMu sync.Mutex

// Write appends r to the summary file named by SummaryEnv, if set.
func Write(r Record) error {
	path := os.Getenv(SummaryEnv)
	if path == "" {
		return nil
	}
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("summary record: %w", err)
	}
	summaryMu.Lock()
	defer summaryMu.Unlock()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("summary file %s: %w", path, err)
	}
	_, err = f.Write(append(line, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("summary file %s: %w", path, err)
	}
	return nil
}

// ClopperPearson returns the exact two-sided (1 - alpha) confidence interval
// for a binomial proportion with k successes out of n trials. Each end is a
// one-sided bound at level alpha/2.
func ClopperPearson(k, n int, alpha float64) (lo, hi float64, err error) {
	if n <= 0 || k < 0 || k > n {
		return 0, 0, fmt.Errorf("clopper-pearson: k=%d, n=%d: need 0 <= k <= n and n > 0", k, n)
	}
	if !(alpha > 0 && alpha < 1) {
		return 0, 0, fmt.Errorf("clopper-pearson: alpha %v must be in (0, 1)", alpha)
	}
	a := alpha / 2
	if k == 0 {
		lo = 0
	} else {
		// lo solves P(X >= k | p) = a, i.e. I_p(k, n-k+1) = a.
		lo = invertIncBeta(float64(k), float64(n-k+1), a)
	}
	if k == n {
		hi = 1
	} else {
		// hi solves P(X <= k | p) = a, i.e. I_p(k+1, n-k) = 1 - a.
		hi = invertIncBeta(float64(k+1), float64(n-k), 1-a)
	}
	return lo, hi, nil
}

// EpsilonLowerBound bounds the privacy loss of a mechanism from below, given
// kD hits of an event fixed in advance in n runs on D, and kD2 hits in n
// runs on the neighbour D'. With probability at least 1 - alpha over the
// runs, the true (epsilon, delta) of the mechanism is at least the returned
// epsilon: each of the four one-sided Clopper-Pearson bounds is taken at
// level alpha/4, and both directions are tried:
//
//	eps_lb = max( ln((lo(P_D') - delta) / hi(P_D)), ln((lo(P_D) - delta) / hi(P_D')) )
//
// It returns 0 when neither ratio exceeds 1.
func EpsilonLowerBound(kD, kD2, n int, delta, alpha float64) (float64, error) {
	if !(delta >= 0 && delta < 1) {
		return 0, fmt.Errorf("epsilon lower bound: delta %v must be in [0, 1)", delta)
	}
	loD, hiD, err1 := ClopperPearson(kD, n, alpha/2)
	loD2, hiD2, err2 := ClopperPearson(kD2, n, alpha/2)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("epsilon lower bound: %w", err)
	}
	best := 0.0
	for _, r := range [][2]float64{{loD2 - delta, hiD}, {loD - delta, hiD2}} {
		if r[0] > 0 && r[1] > 0 {
			best = math.Max(best, math.Log(r[0]/r[1]))
		}
	}
	return best, nil
}

// invertIncBeta returns x in [0, 1] with I_x(a, b) = y, by bisection (I is
// increasing in x).
func invertIncBeta(a, b, y float64) float64 {
	lo, hi := 0.0, 1.0
	for range 200 {
		mid := (lo + hi) / 2
		if incBeta(a, b, mid) < y {
			lo = mid
		} else {
			hi = mid
		}
		if hi-lo < 1e-15 {
			break
		}
	}
	return (lo + hi) / 2
}

// incBeta is the regularized incomplete beta function I_x(a, b), by the
// continued fraction of Numerical Recipes (betacf, modified Lentz).
func incBeta(a, b, x float64) float64 {
	switch {
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	la, _ := math.Lgamma(a + b)
	lb, _ := math.Lgamma(a)
	lc, _ := math.Lgamma(b)
	front := math.Exp(la - lb - lc + a*math.Log(x) + b*math.Log1p(-x))
	if x < (a+1)/(a+b+2) {
		return front * betaCF(a, b, x) / a
	}
	return 1 - front*betaCF(b, a, 1-x)/b
}

func betaCF(a, b, x float64) float64 {
	const (
		eps   = 1e-15
		tiny  = 1e-300
		iters = 10000
	)
	qab, qap, qam := a+b, a+1, a-1
	c, d := 1.0, 1-qab*x/qap
	if math.Abs(d) < tiny {
		d = tiny
	}
	d = 1 / d
	h := d
	for m := 1; m <= iters; m++ {
		fm := float64(m)
		m2 := 2 * fm
		aa := fm * (b - fm) * x / ((qam + m2) * (a + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		h *= d * c
		aa = -(a + fm) * (qab + fm) * x / ((a + m2) * (qap + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < eps {
			break
		}
	}
	return h
}
