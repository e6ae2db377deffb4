package transforms

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Bins maps a numeric column to range labels.
//
// With edges e0 < e1 < ... < en the ranges are (-inf, e0), [e0, e1), ...,
// [en, +inf). When every edge is an integer the labels are "<e0",
// "e0-(e1-1)", ..., "en+" (a range holding a single integer is labeled by that
// integer alone); for edges [18, 25, 35, 45, 55, 65] that is "<18", "18-24",
// "25-34", "35-44", "45-54", "55-64", "65+". A non-integer value such as 24.5
// falls in [18, 25) and so gets "18-24". When any edge is not an integer the
// labels are "<e0", "[e0, e1)", ..., ">=en".
//
// The source is read with TRY_CAST(... AS DOUBLE), so numbers and numeric
// text both work; NULL, unparsable text, NaN and ±Inf give NULL.
type Bins struct {
	name, from string
	edges      []float64
	labels     []string // len(edges)+1
}

// maxIntEdge bounds integer edges so that they and their neighbours are
// exact in float64 and int64.
const maxIntEdge = 1 << 53

// NewBins returns the bins column name over the numeric column from. edges
// must be finite and strictly ascending, at least one.
func NewBins(name, from string, edges []float64) (*Bins, error) {
	if err := checkNames(name, from); err != nil {
		return nil, err
	}
	if len(edges) == 0 {
		return nil, &SpecError{Column: name, Field: "bins", Rule: "must list at least one edge"}
	}
	integer := true
	for i, e := range edges {
		if math.IsNaN(e) || math.IsInf(e, 0) {
			return nil, &SpecError{Column: name, Field: fmt.Sprintf("bins[%d]", i), Value: e, Rule: "must be finite"}
		}
		if i > 0 && e <= edges[i-1] {
			return nil, &SpecError{Column: name, Field: fmt.Sprintf("bins[%d]", i), Value: e,
				Rule: fmt.Sprintf("must be greater than bins[%d] (%v): edges must be strictly ascending", i-1, edges[i-1])}
		}
		if e != math.Trunc(e) || math.Abs(e) > maxIntEdge {
			integer = false
		}
	}
	b := &Bins{name: name, from: from, edges: append([]float64(nil), edges...)}
	if integer {
		b.labels = integerLabels(edges)
	} else {
		b.labels = intervalLabels(edges)
	}
	return b, nil
}

func integerLabels(edges []float64) []string {
	n := len(edges)
	labels := make([]string, 0, n+1)
	labels = append(labels, "<"+formatEdge(edges[0]))
	for i := 0; i+1 < n; i++ {
		lo, hi := int64(edges[i]), int64(edges[i+1])-1
		if lo == hi {
			labels = append(labels, strconv.FormatInt(lo, 10))
		} else {
			labels = append(labels, strconv.FormatInt(lo, 10)+"-"+strconv.FormatInt(hi, 10))
		}
	}
	return append(labels, formatEdge(edges[n-1])+"+")
}

func intervalLabels(edges []float64) []string {
	n := len(edges)
	labels := make([]string, 0, n+1)
	labels = append(labels, "<"+formatEdge(edges[0]))
	for i := 0; i+1 < n; i++ {
		labels = append(labels, "["+formatEdge(edges[i])+", "+formatEdge(edges[i+1])+")")
	}
	return append(labels, ">="+formatEdge(edges[n-1]))
}

// formatEdge prints an edge in the shortest decimal form that reads back as
// the same float64, without an exponent.
func formatEdge(e float64) string {
	return strconv.FormatFloat(e, 'f', -1, 64)
}

// Name returns the output column name.
func (b *Bins) Name() string { return b.name }

// Source returns the numeric input column.
func (b *Bins) Source() string { return b.from }

// Edges returns a copy of the bin edges.
func (b *Bins) Edges() []float64 { return append([]float64(nil), b.edges...) }

// Labels returns the labels in ascending order of their ranges.
func (b *Bins) Labels() []string { return append([]string(nil), b.labels...) }

// SQL returns
//
//	CASE WHEN isfinite(x) THEN CASE WHEN x < e0 THEN '<e0' ... ELSE 'en+' END END
//
// with x = TRY_CAST(src AS DOUBLE). The edges are written as exact DOUBLE
// literals ('0.1'::DOUBLE), so the comparison uses the very float64 given.
func (b *Bins) SQL(src string) string {
	x := "TRY_CAST(" + src + " AS DOUBLE)"
	var s strings.Builder
	s.WriteString("CASE WHEN isfinite(" + x + ") THEN CASE")
	for i, e := range b.edges {
		fmt.Fprintf(&s, " WHEN %s < %s::DOUBLE THEN %s", x,
			QuoteString(strconv.FormatFloat(e, 'g', -1, 64)), QuoteString(b.labels[i]))
	}
	fmt.Fprintf(&s, " ELSE %s END END", QuoteString(b.labels[len(b.edges)]))
	return s.String()
}
