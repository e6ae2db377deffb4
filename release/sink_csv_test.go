package release

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

func TestAppendCSVString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"", `""`},
		{"a,b", `"a,b"`},
		{`say "hi"`, `"say ""hi"""`},
		{`""`, `""""""`},
		{"two\nlines", "\"two\nlines\""},
		{"cr\r", "\"cr\r\""},
		{" lead", `" lead"`},
		{"trail ", `"trail "`},
		{"in side", "in side"},
		{"=1+1", "=1+1"},
		{"ünïcødé", "ünïcødé"},
	}
	for _, tc := range tests {
		t.Run(strconv.Quote(tc.in), func(t *testing.T) {
			if got := string(appendCSVString(nil, tc.in)); got != tc.want {
				t.Errorf("appendCSVString(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

func TestAppendCSVFloat(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0"},
		{math.Copysign(0, -1), "-0"},
		{1, "1"},
		{-2.5, "-2.5"},
		{0.1, "0.1"},
		{0.30000000000000004, "0.30000000000000004"},
		{1e-6, "0.000001"},
		{9.99e-7, "9.99e-07"},
		{123456789.25, "123456789.25"},
		{1e20, "100000000000000000000"},
		{1e21, "1e+21"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{5e-324, "5e-324"},
		{math.NaN(), "NaN"},
		{math.Inf(1), "Infinity"},
		{math.Inf(-1), "-Infinity"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := string(appendCSVFloat(nil, tc.in)); got != tc.want {
				t.Errorf("appendCSVFloat(%v) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

// TestAppendCSVFloatRoundTrip checks on random bit patterns that every finite
// float64 is written in a form that parses back to exactly the same value.
func TestAppendCSVFloatRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2)) // test data only; fixed seed
	for range 100_000 {
		v := math.Float64frombits(r.Uint64())
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		s := string(appendCSVFloat(nil, v))
		got, err := strconv.ParseFloat(s, 64)
		if err != nil || math.Float64bits(got) != math.Float64bits(v) {
			t.Fatalf("appendCSVFloat(%b) = %s, parses back to %v, %v", v, s, got, err)
		}
	}
}
