package privacy

import (
	"encoding/json"
	"math"
	"testing"
)

func TestAmountFromFloat(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0, "0"},
		{1, "1"},
		{0.1, "0.1"},
		{1e-6, "0.000001"},
		{1.5e-10, "0.00000000015"},
		{2.5e3, "2500"},
		{0.30000000000000004, "0.30000000000000004"},
	} {
		a, err := AmountFromFloat(tc.in)
		if err != nil {
			t.Fatalf("AmountFromFloat(%v): %v", tc.in, err)
		}
		if a.String() != tc.want {
			t.Errorf("AmountFromFloat(%v) = %s, want %s", tc.in, a, tc.want)
		}
		if a.Float64() != tc.in {
			t.Errorf("AmountFromFloat(%v).Float64() = %v", tc.in, a.Float64())
		}
	}
	for _, x := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), -0.1} {
		if _, err := AmountFromFloat(x); err == nil {
			t.Errorf("AmountFromFloat(%v): want error", x)
		}
	}
	tiny, err := AmountFromFloat(5e-324)
	if err != nil || tiny.Float64() != 5e-324 || tiny.IsZero() {
		t.Errorf("AmountFromFloat(5e-324) = %v, %v", tiny, err)
	}
}

func TestAmountSumsExactly(t *testing.T) {
	tenth, _ := AmountFromFloat(0.1)
	one, _ := AmountFromFloat(1)
	var sum Amount
	var f float64
	for range 10 {
		sum = sum.Add(tenth)
		f += 0.1
	}
	if sum.Cmp(one) != 0 || sum.String() != "1" {
		t.Errorf("ten times 0.1 = %s, want exactly 1", sum)
	}
	if f == 1 {
		t.Log("float64 happened to sum exactly; the exact check above still holds")
	}
	a, _ := AmountFromFloat(0.1)
	b, _ := AmountFromFloat(0.2)
	c, _ := AmountFromFloat(0.3)
	if a.Add(b).Cmp(c) != 0 {
		t.Errorf("0.1 + 0.2 = %s, want 0.3", a.Add(b))
	}
	if got := c.saturatingSub(one); !got.IsZero() {
		t.Errorf("0.3 - 1 saturating = %s, want 0", got)
	}
}

func TestParseAmount(t *testing.T) {
	for _, s := range []string{"0", "1", "0.5", "1e-06", "1E+3", "12.500"} {
		if _, err := ParseAmount(s); err != nil {
			t.Errorf("ParseAmount(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "-1", "1/3", "0x10", "1e9999", "NaN", "Inf", " 1", "1.", ".5", "1e"} {
		if _, err := ParseAmount(s); err == nil {
			t.Errorf("ParseAmount(%q): want error", s)
		}
	}
}

func TestAmountJSON(t *testing.T) {
	a, _ := AmountFromFloat(1e-6)
	b, err := json.Marshal(struct {
		X Amount `json:"x"`
	}{a})
	if err != nil || string(b) != `{"x":0.000001}` {
		t.Errorf("Marshal = %s, %v", b, err)
	}
	var back struct {
		X Amount `json:"x"`
	}
	if err := json.Unmarshal(b, &back); err != nil || back.X.Cmp(a) != 0 {
		t.Errorf("Unmarshal = %v, %v", back.X, err)
	}
	var zero Amount
	if b, _ := json.Marshal(zero); string(b) != "0" {
		t.Errorf("zero Amount = %s, want 0", b)
	}
}
