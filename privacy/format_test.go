package privacy

import "testing"

func TestFormatNumber(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{0, "0"}, {0.5, "0.5"}, {1e-6, "0.000001"}, {5e-7, "5e-7"}, {3, "3"}, {1.5e8, "150000000"}, {1e21, "1e+21"},
		{1.0 / 3, "0.333333333333"},
		{0.49999999999999994, "0.5"},        // 1 - 0.5 - ... in float64
		{1 - 0.1 - 0.2 - 0.3, "0.4"},        // 0.39999999999999997
		{1e-6 - 1e-6/3, "6.66666666667e-7"}, // a remaining delta
		{6.666666666666666e-07, "6.66666666667e-7"},
		{-2.5, "-2.5"},
	} {
		if got := FormatNumber(tc.v); got != tc.want {
			t.Errorf("FormatNumber(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestFormatEstimate(t *testing.T) {
	t.Parallel()
	for v, want := range map[float64]string{8.485281374238571: "8.485", 17.974393641323946: "17.97", 123456: "123500", 0: "0"} {
		if got := FormatEstimate(v); got != want {
			t.Errorf("FormatEstimate(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestAmountMinusIsExact(t *testing.T) {
	t.Parallel()
	total, _ := ParseAmount("1")
	left := total
	for range 3 {
		share, err := AmountFromFloat(1.0 / 3)
		if err != nil {
			t.Fatal(err)
		}
		left = left.Minus(share)
	}
	// 1 - 3 * 0.3333333333333333 is exactly 1e-16: no binary noise, and
	// Format shows it as such.
	if got := left.String(); got != "0.0000000000000001" {
		t.Errorf("1 - 3 x 1/3 = %s", got)
	}
	if got := left.Minus(total); !got.IsZero() {
		t.Errorf("saturating: %s", got)
	}
}
