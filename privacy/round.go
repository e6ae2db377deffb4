package privacy

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Rounding is output.round: how released values are rounded before any
// file is written. Rounding reads nothing but the released values, so it is
// post-processing and costs no privacy.
type Rounding string

// Roundings.
const (
	// RoundInterval (the default) keeps the digits a value's 95% interval
	// supports: see RoundToInterval.
	RoundInterval Rounding = "interval"
	// RoundNone keeps every float64 digit the noise produced.
	RoundNone Rounding = "none"
)

// Roundings are the valid output.round values, the default first.
var Roundings = []Rounding{RoundInterval, RoundNone}

// Valid reports whether r is one of Roundings.
func (r Rounding) Valid() bool { return slices.Contains(Roundings, r) }

// Digits of RoundToInterval.
const (
	// IntervalDigits is the number of significant digits a _ci95
	// half-width keeps.
	IntervalDigits = 2
	// ValueDigits is the most significant digits a released value keeps.
	ValueDigits = 6
)

// RoundToInterval is the one rounding rule of released values. A value v
// with the 95% half-width half (0, NaN or ±Inf when it has none) is rounded
// to the decimal place of the second significant digit of half, and to at
// most ValueDigits significant digits; integer values (counts) to at least
// the units. The half-width is rounded up on the same place, far enough to
// cover the shift of the value: the rounded interval contains the exact one,
// so it still covers the true value with at least 95% probability. 2389.627
// ± 654.447 becomes 2390 ± 660. The rule is idempotent: rounding a rounded
// pair changes nothing. NaN and ±Inf values are returned unchanged.
func RoundToInterval(v, half float64, integer bool) (float64, float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return v, half
	}
	hasHalf := half > 0 && !math.IsInf(half, 0)
	e := math.MinInt // the decimal exponent of the rounding unit
	if v != 0 {
		e = decimalExponent(v) - (ValueDigits - 1)
	}
	if hasHalf {
		e = max(e, decimalExponent(half)-(IntervalDigits-1))
	}
	if integer {
		e = max(e, 0)
	}
	if e == math.MinInt {
		return v, half // 0 with no interval
	}
	// A value rounded up past a power of ten (9999.997 -> 10000) or a
	// half-width rounded up past one (99.6 -> 100) has one digit more than
	// its limit: round again one place up, so that rounding the result
	// again changes nothing.
	for {
		rv := roundAt(v, e, false)
		if rv != 0 && decimalExponent(rv)-(ValueDigits-1) > e {
			e++
			continue
		}
		if !hasHalf {
			return rv, half
		}
		rh := roundAt(half+math.Abs(v-rv), e, true)
		if decimalExponent(rh)-(IntervalDigits-1) <= e {
			return rv, rh
		}
		e++
	}
}

// decimalExponent is floor(log10(|x|)) for a finite x != 0, exact at powers
// of ten.
func decimalExponent(x float64) int {
	s := strconv.FormatFloat(math.Abs(x), 'e', -1, 64)
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == 'e' {
			n, _ := strconv.Atoi(s[i+1:])
			return n
		}
	}
	return 0
}

// roundAt rounds x to a multiple of 10^e: to the nearest (ties away from
// zero), or up when ceil is set. The result is the float64 nearest to that
// decimal, so it prints without trailing noise digits.
func roundAt(x float64, e int, ceil bool) float64 {
	if e >= 0 {
		p := math.Pow10(e)
		if ceil {
			return math.Ceil(x/p) * p
		}
		return math.Round(x/p) * p
	}
	p := math.Pow10(-e)
	var n float64
	if ceil {
		n = math.Ceil(x * p)
		// x*p can round up past an integer x*p is exactly on (0.57*100 =
		// 57.00000000000001): take the lower one when it still covers x.
		if n-1 >= 0 && (n-1)/p >= x {
			n--
		}
	} else {
		n = math.Round(x * p)
	}
	return n / p
}

// Rounded returns a copy of r with every released value rounded as mode
// says (RoundToInterval for RoundInterval; RoundNone copies the values
// unchanged). Each value is rounded with its own row's _ci95 half-width,
// which is rounded with it; values without an interval (quantiles) keep
// ValueDigits significant digits. The copy has its own records: the caller
// frees both releases. alloc may be nil.
func (r *Release) Rounded(mode Rounding, alloc memory.Allocator) (*Release, error) {
	if !mode.Valid() {
		return nil, fmt.Errorf("round release: %q must be %q or %q", mode, RoundInterval, RoundNone)
	}
	if alloc == nil {
		alloc = memory.DefaultAllocator
	}
	out := &Release{meta: r.meta}
	out.meta.Rounding = mode
	for _, t := range r.tables {
		rec := t.record
		if mode == RoundNone {
			rec.Retain()
		} else {
			var err error
			if rec, err = roundRecord(t, alloc); err != nil {
				out.Free()
				return nil, fmt.Errorf("round release table %q: %w", t.name, err)
			}
		}
		nt := *t
		nt.record = rec
		out.tables = append(out.tables, &nt)
	}
	return out, nil
}

// roundRecord returns t's record with every value column and its _ci95
// column rounded by RoundToInterval, row by row. The values of a metric
// made consistent (MetricInfo.Consistency) stay exact, so that rollups
// still add up and people stay at most events; their half-widths are
// rounded up as usual.
func roundRecord(t *Table, alloc memory.Allocator) (arrow.RecordBatch, error) {
	rec := t.record
	n := int(rec.NumRows())
	cols := make([]arrow.Array, rec.NumCols())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	index := map[string]int{}
	for i, f := range rec.Schema().Fields() {
		index[f.Name] = i
		cols[i] = rec.Column(i)
		cols[i].Retain() // key columns are shared; the others are replaced below
	}
	for _, m := range t.metrics {
		for _, name := range m.Columns {
			if strings.HasSuffix(name, CISuffix) {
				continue // rounded with its value
			}
			vi, ok := index[name]
			if !ok {
				return nil, fmt.Errorf("metric %q: column %q is not in the table", m.Name, name)
			}
			hi, hasCI := index[name+CISuffix]
			var halves *array.Float64
			if hasCI {
				h, ok := rec.Column(hi).(*array.Float64)
				if !ok {
					return nil, fmt.Errorf("column %q: type %s, want float64", name+CISuffix, rec.Column(hi).DataType())
				}
				halves = h
			}
			half := func(row int) float64 {
				if halves == nil || halves.IsNull(row) {
					return 0
				}
				return halves.Value(row)
			}
			vals := make([]float64, n)
			hs := make([]float64, n)
			var valid []bool
			switch c := rec.Column(vi).(type) {
			case *array.Int64:
				ints := make([]int64, n)
				valid = validity(c, n)
				for row := range n {
					v, h := RoundToInterval(float64(c.Value(row)), half(row), true)
					ints[row], hs[row] = int64(v), h
					if m.Consistency != "" {
						ints[row] = c.Value(row) // exact: rounding would undo the consistency
					}
				}
				b := array.NewInt64Builder(alloc)
				b.AppendValues(ints, valid)
				replace(cols, vi, b.NewArray())
				b.Release()
			case *array.Float64:
				valid = validity(c, n)
				for row := range n {
					vals[row], hs[row] = RoundToInterval(c.Value(row), half(row), false)
					if m.Consistency != "" {
						vals[row] = c.Value(row) // exact: rounding would undo the consistency
					}
				}
				b := array.NewFloat64Builder(alloc)
				b.AppendValues(vals, valid)
				replace(cols, vi, b.NewArray())
				b.Release()
			default:
				return nil, fmt.Errorf("column %q: type %s, want int64 or float64", name, c.DataType())
			}
			if hasCI {
				b := array.NewFloat64Builder(alloc)
				b.AppendValues(hs, validity(halves, n))
				replace(cols, hi, b.NewArray())
				b.Release()
			}
		}
	}
	return array.NewRecordBatch(rec.Schema(), cols, int64(n)), nil
}

// validity is a's validity as AppendValues takes it: nil when no value is
// NULL.
func validity(a arrow.Array, n int) []bool {
	if a.NullN() == 0 {
		return nil
	}
	v := make([]bool, n)
	for i := range n {
		v[i] = a.IsValid(i)
	}
	return v
}

// replace puts a in cols[i], releasing what was there.
func replace(cols []arrow.Array, i int, a arrow.Array) {
	cols[i].Release()
	cols[i] = a
}
