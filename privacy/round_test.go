package privacy

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// sigDigits counts the significant digits of x's shortest decimal form.
func sigDigits(x float64) int {
	s := strconv.FormatFloat(math.Abs(x), 'e', -1, 64)
	mant := s[:strings.IndexByte(s, 'e')]
	mant = strings.Replace(mant, ".", "", 1)
	return len(strings.TrimRight(mant, "0"))
}

func TestRoundToInterval(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		v, half      float64
		integer      bool
		wantV, wantH float64
	}{
		{"issue example", 2389.627271793317, 654.4472470898941, false, 2390, 660},
		{"small interval", 25.83442101090003, 0.0123, false, 25.834, 0.013},
		{"six digits at most", 1234567.891, 0.5, false, 1234570, 10},
		{"half-width crosses a power of ten", 5.04, 99.6, false, 10, 110},
		{"count keeps units", 4370, 6, true, 4370, 6},
		{"count on tens", 4371, 140.2, true, 4370, 150},
		{"count half-width rounds up to units", 12, 6.5, true, 12, 7},
		{"negative value", -2389.627, 654.447, false, -2390, 660},
		{"no interval", 25.83442101090003, 0, false, 25.8344, 0},
		{"tiny value, no interval", 0.000412826173, 0, false, 0.000412826, 0},
		{"zero", 0, 48, true, 0, 48},
		{"zero without interval", 0, 0, false, 0, 0},
		{"exact half-width kept", 0.57, 0.57, false, 0.57, 0.57},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, h := RoundToInterval(tc.v, tc.half, tc.integer)
			if v != tc.wantV || h != tc.wantH {
				t.Errorf("RoundToInterval(%v, %v, %v) = %v ± %v, want %v ± %v", tc.v, tc.half, tc.integer, v, h, tc.wantV, tc.wantH)
			}
		})
	}
}

func TestRoundToIntervalNonFinite(t *testing.T) {
	t.Parallel()
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		got, h := RoundToInterval(v, 3.33, false)
		if !(got == v || math.IsNaN(got) && math.IsNaN(v)) || h != 3.33 {
			t.Errorf("RoundToInterval(%v, 3.33) = %v ± %v, want it unchanged", v, got, h)
		}
	}
	if v, h := RoundToInterval(1.23456789, math.Inf(1), false); v != 1.23457 || !math.IsInf(h, 1) {
		t.Errorf("an infinite half-width: got %v ± %v, want 1.23457 ± +Inf", v, h)
	}
}

// TestRoundToIntervalProperties checks, on values of every magnitude, that
// the rounded interval contains the exact one (coverage is kept), that values
// keep at most ValueDigits and half-widths at most IntervalDigits significant
// digits, that integers stay integers, and that rounding twice is rounding
// once.
func TestRoundToIntervalProperties(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200000 {
		v := (rng.Float64()*2 - 1) * math.Pow10(rng.IntN(20)-8)
		half := rng.Float64() * math.Pow10(rng.IntN(20)-8)
		integer := i%3 == 0
		if integer {
			v, half = math.Round(v), math.Round(half*2)/2
		}
		rv, rh := RoundToInterval(v, half, integer)
		if half > 0 && (rv-rh > v-half || rv+rh < v+half) {
			t.Fatalf("RoundToInterval(%v, %v, %v) = %v ± %v does not contain the exact interval", v, half, integer, rv, rh)
		}
		if sigDigits(rv) > ValueDigits {
			t.Fatalf("RoundToInterval(%v, %v) = %v has %d significant digits", v, half, rv, sigDigits(rv))
		}
		if half > 0 && rh != 0 && sigDigits(rh) > IntervalDigits && !integer {
			t.Fatalf("RoundToInterval(%v, %v) half-width %v has %d significant digits", v, half, rh, sigDigits(rh))
		}
		if integer && (rv != math.Trunc(rv) || rh != math.Trunc(rh)) {
			t.Fatalf("RoundToInterval(%v, %v, integer) = %v ± %v is not integer", v, half, rv, rh)
		}
		if v2, h2 := RoundToInterval(rv, rh, integer); v2 != rv || h2 != rh {
			t.Fatalf("rounding twice: %v ± %v -> %v ± %v -> %v ± %v", v, half, rv, rh, v2, h2)
		}
	}
}

func TestReleaseRounded(t *testing.T) {
	t.Parallel()
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "campaign", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "people", Type: arrow.PrimitiveTypes.Int64},
		{Name: "people_ci95", Type: arrow.PrimitiveTypes.Float64},
		{Name: "revenue", Type: arrow.PrimitiveTypes.Float64},
		{Name: "revenue_ci95", Type: arrow.PrimitiveTypes.Float64},
		{Name: "age_p50", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	b := array.NewRecordBuilder(alloc, schema)
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"a", "b"}, nil)
	b.Field(1).(*array.Int64Builder).AppendValues([]int64{4371, 12}, nil)
	b.Field(2).(*array.Float64Builder).AppendValues([]float64{140.2, 6}, nil)
	b.Field(3).(*array.Float64Builder).AppendValues([]float64{2389.627271793317, 17.123456789}, nil)
	b.Field(4).(*array.Float64Builder).AppendValues([]float64{654.4472470898941, 0.0123}, nil)
	b.Field(5).(*array.Float64Builder).AppendValues([]float64{38.123456789, 41.5}, nil)
	rec := b.NewRecordBatch()
	b.Release()
	rel := &Release{meta: Metadata{ID: "r1"}, tables: []*Table{{
		name: "t", record: rec, groupBy: []string{"campaign"},
		metrics: []MetricInfo{
			{Name: "people", Kind: CountUnits, Columns: []string{"people", "people_ci95"}},
			{Name: "revenue", Kind: Sum, Columns: []string{"revenue", "revenue_ci95"}},
			{Name: "age_q", Kind: Quantiles, Columns: []string{"age_p50"}},
		},
	}}}
	defer rel.Free()

	if _, err := rel.Rounded("some", alloc); err == nil || !strings.Contains(err.Error(), `"some" must be "interval" or "none"`) {
		t.Fatalf("Rounded(some): err %v, want the rule", err)
	}
	none, err := rel.Rounded(RoundNone, alloc)
	if err != nil {
		t.Fatal(err)
	}
	if got := none.Tables()[0].Record().Column(3).(*array.Float64).Value(0); got != 2389.627271793317 {
		t.Errorf("RoundNone changed a value: %v", got)
	}
	none.Free()

	r, err := rel.Rounded(RoundInterval, alloc)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Free()
	if r.Metadata().Rounding != RoundInterval {
		t.Errorf("Metadata().Rounding = %q, want interval", r.Metadata().Rounding)
	}
	got := r.Tables()[0].Record()
	if k := got.Column(0).(*array.String); k.Value(0) != "a" || k.Value(1) != "b" {
		t.Errorf("keys changed: %v", k)
	}
	wantInt := []int64{4370, 12}
	wantF := map[int][]float64{2: {150, 6}, 3: {2390, 17.123}, 4: {660, 0.013}, 5: {38.1235, 41.5}}
	for row, w := range wantInt {
		if v := got.Column(1).(*array.Int64).Value(row); v != w {
			t.Errorf("people[%d] = %d, want %d", row, v, w)
		}
	}
	for col, ws := range wantF {
		for row, w := range ws {
			if v := got.Column(col).(*array.Float64).Value(row); v != w {
				t.Errorf("%s[%d] = %v, want %v", got.ColumnName(col), row, v, w)
			}
		}
	}
	// The original release is untouched.
	if v := rel.Tables()[0].Record().Column(3).(*array.Float64).Value(0); v != 2389.627271793317 {
		t.Errorf("the original release changed: %v", v)
	}
}
