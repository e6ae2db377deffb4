package privacy

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
)

// Amount is an exact, non-negative decimal quantity of privacy loss: an
// epsilon or a delta. The ledger adds and compares amounts exactly (as
// big.Rat), so ten spends of 0.1 exhaust a budget of 1 exactly and no sum of
// spends can drift past a budget; float64 appears only at the edges (job
// files, display). The zero value is 0. Amounts are immutable.
type Amount struct{ r *big.Rat }

// decimalText is the only text ParseAmount accepts: plain decimal digits with
// an optional fraction and a bounded exponent (no sign, no fractions "a/b",
// no exponents that would allocate huge numbers).
var decimalText = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]{1,3})?$`)

// ParseAmount parses non-negative decimal text such as "0.1", "1e-06" or
// "0.000001" exactly.
func ParseAmount(s string) (Amount, error) {
	if len(s) > 2000 || !decimalText.MatchString(s) {
		return Amount{}, fmt.Errorf("amount %q: must be a non-negative decimal number", s)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return Amount{}, fmt.Errorf("amount %q: must be a non-negative decimal number", s)
	}
	return Amount{r: r}, nil
}

// AmountFromFloat converts x exactly as it is written: it parses the shortest
// decimal text that round-trips to x (strconv.FormatFloat(x, 'g', -1, 64)),
// so 0.1 becomes exactly 1/10, not the binary fraction nearest to it.
func AmountFromFloat(x float64) (Amount, error) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return Amount{}, fmt.Errorf("amount %v: must be a finite number", x)
	}
	if x < 0 {
		return Amount{}, fmt.Errorf("amount %v: must be >= 0", x)
	}
	return ParseAmount(strconv.FormatFloat(x, 'g', -1, 64))
}

func (a Amount) rat() *big.Rat {
	if a.r == nil {
		return new(big.Rat)
	}
	return a.r
}

// Add returns a + b exactly.
func (a Amount) Add(b Amount) Amount {
	return Amount{r: new(big.Rat).Add(a.rat(), b.rat())}
}

// Cmp compares a and b exactly: -1 if a < b, 0 if equal, +1 if a > b.
func (a Amount) Cmp(b Amount) int { return a.rat().Cmp(b.rat()) }

// IsZero reports whether a is 0.
func (a Amount) IsZero() bool { return a.rat().Sign() == 0 }

// saturatingSub returns a - b, or 0 when b > a.
func (a Amount) saturatingSub(b Amount) Amount {
	d := new(big.Rat).Sub(a.rat(), b.rat())
	if d.Sign() < 0 {
		d.SetInt64(0)
	}
	return Amount{r: d}
}

// Float64 returns the float64 nearest to a, for display and for handing an
// amount back to float-based code. For an amount made by AmountFromFloat(x)
// it returns x.
func (a Amount) Float64() float64 {
	f, _ := a.rat().Float64()
	return f
}

// String returns a as exact decimal text without exponent or trailing zeros,
// e.g. "1", "0.3", "0.000001". This is how the ledger stores amounts.
func (a Amount) String() string {
	r := a.rat()
	if r.Sign() == 0 {
		return "0"
	}
	// Every amount is a decimal: its denominator is 2^x * 5^y and needs
	// max(x, y) digits after the point.
	d := new(big.Int).Set(r.Denom())
	twos := int(d.TrailingZeroBits())
	d.Rsh(d, uint(twos))
	fives := 0
	five, mod := big.NewInt(5), new(big.Int)
	for d.Cmp(big.NewInt(1)) > 0 {
		q, m := new(big.Int).DivMod(d, five, mod)
		if m.Sign() != 0 {
			break
		}
		d = q
		fives++
	}
	digits := max(twos, fives)
	if d.Cmp(big.NewInt(1)) != 0 {
		// Not a finite decimal; cannot happen for amounts built by this
		// package, but never print a rounded value silently.
		return r.RatString()
	}
	s := r.FloatString(digits)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// MarshalJSON writes a as an exact JSON number.
func (a Amount) MarshalJSON() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalJSON reads a JSON number or a string holding decimal text.
func (a *Amount) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("amount: %w", err)
	}
	v, err := ParseAmount(n.String())
	if err != nil {
		return err
	}
	*a = v
	return nil
}
