package privacy

import (
	"encoding/json"
	"math"
	"strconv"
)

// DisplayDigits is the number of significant digits privagg prints a
// number with. Budget shares such as 1/3 of an epsilon and remaining budgets
// such as 1 - 0.1 - 0.2 carry float64 noise in their last digits (0.49999999999999994,
// 6.666666666666666e-07); rounding to 12 significant digits removes it while
// keeping every figure a person or a script compares (ledger amounts are
// exact decimals well within 12 digits in practice, and the ledger itself
// always compares exactly).
const DisplayDigits = 12

// FormatNumber is the one way privagg prints a number, in every command, in
// text and JSON alike, and in the release report: v rounded to DisplayDigits
// significant digits, then written as encoding/json writes a float64 (the
// shortest decimal that reads back as the rounded value, with an exponent
// only below 1e-6 or from 1e21): 0.5, 0.000001, 0.333333333333,
// 6.66666666667e-7, 250000.
func FormatNumber(v float64) string {
	r := RoundForDisplay(v)
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return strconv.FormatFloat(r, 'g', -1, 64)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return strconv.FormatFloat(r, 'g', -1, 64)
	}
	return string(b)
}

// FormatEstimate prints an expected error (a noise standard deviation or a
// confidence half-width) with 4 significant digits: it is an estimate, and
// more digits would claim a precision it does not have. Budget figures use
// FormatNumber.
func FormatEstimate(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) || v == 0 {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 4, 64), 64)
	return FormatNumber(r)
}

// RoundForDisplay rounds v to DisplayDigits significant digits; NaN, ±Inf
// and 0 are returned unchanged.
func RoundForDisplay(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) || v == 0 {
		return v
	}
	r, err := strconv.ParseFloat(strconv.FormatFloat(v, 'g', DisplayDigits, 64), 64)
	if err != nil {
		return v
	}
	return r
}

// Format prints a with FormatNumber: the exact amount rounded to
// DisplayDigits significant digits. String is the exact text the ledger
// stores.
func (a Amount) Format() string { return FormatNumber(a.Float64()) }

// Minus returns a - b exactly, or 0 when b > a.
func (a Amount) Minus(b Amount) Amount { return a.saturatingSub(b) }
