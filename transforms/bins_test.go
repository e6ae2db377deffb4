package transforms

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestBinsLabels(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		edges []float64
		want  []string
	}{
		{"ages", []float64{18, 25, 35, 45, 55, 65}, []string{"<18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+"}},
		{"one edge", []float64{0}, []string{"<0", "0+"}},
		{"single integers", []float64{1, 2, 3}, []string{"<1", "1", "2", "3+"}},
		{"negative", []float64{-10, 0, 10}, []string{"<-10", "-10--1", "0-9", "10+"}},
		{"non-integer", []float64{0.5, 1.5, 2}, []string{"<0.5", "[0.5, 1.5)", "[1.5, 2)", ">=2"}},
		{"large", []float64{1e6, 1e7}, []string{"<1000000", "1000000-9999999", "10000000+"}},
		{"beyond 2^53", []float64{0, 1e16}, []string{"<0", "[0, 10000000000000000)", ">=10000000000000000"}},
		{"tiny", []float64{1e-7}, []string{"<0.0000001", ">=0.0000001"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := NewBins("band", "x", tc.edges)
			if err != nil {
				t.Fatal(err)
			}
			if got := b.Labels(); !slices.Equal(got, tc.want) {
				t.Errorf("Labels() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBinsReturnsCopies(t *testing.T) {
	t.Parallel()
	edges := []float64{1, 2}
	b, err := NewBins("band", "x", edges)
	if err != nil {
		t.Fatal(err)
	}
	edges[0] = -100
	b.Labels()[0] = "changed"
	b.Edges()[0] = 42
	if got := b.Labels(); got[0] != "<1" {
		t.Errorf("labels changed through a returned slice: %q", got)
	}
	if got := b.Edges(); got[0] != 1 {
		t.Errorf("edges changed through the caller's slice: %v", got)
	}
}

func TestNewBinsErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		edges     []float64
		key       string
		fragments []string
	}{
		{"no edges", nil, "columns.band.bins", []string{"at least one edge"}},
		{"NaN", []float64{1, math.NaN()}, "columns.band.bins[1]", []string{"NaN", "finite"}},
		{"+Inf", []float64{math.Inf(1)}, "columns.band.bins[0]", []string{"finite"}},
		{"descending", []float64{18, 35, 25}, "columns.band.bins[2]", []string{"25", "bins[1] (35)", "strictly ascending"}},
		{"duplicate", []float64{18, 18}, "columns.band.bins[1]", []string{"strictly ascending"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewBins("band", "age", tc.edges)
			checkSpecError(t, err, tc.key, tc.fragments...)
		})
	}
}

func TestBinsSQL(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	ages, err := NewBins("age_band", "age", []float64{18, 25, 35, 45, 55, 65})
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "bins_ages.sql", ages.SQL(QuoteIdent("age"))+"\n")

	t.Run("integer source", func(t *testing.T) {
		var cases []evalCase
		for _, c := range []struct {
			v    int
			want string
		}{
			{math.MinInt32, "<18"}, {-1, "<18"}, {0, "<18"}, {17, "<18"}, {18, "18-24"}, {24, "18-24"}, {25, "25-34"},
			{34, "25-34"}, {35, "35-44"}, {44, "35-44"}, {45, "45-54"}, {54, "45-54"}, {55, "55-64"}, {64, "55-64"},
			{65, "65+"}, {130, "65+"}, {math.MaxInt32, "65+"},
		} {
			cases = append(cases, evalCase{fmt.Sprintf("(%d)::INTEGER", c.v), c.want})
		}
		cases = append(cases, evalCase{"NULL::INTEGER", null})
		checkEval(t, db, ages, cases)
	})
	t.Run("double source", func(t *testing.T) {
		checkEval(t, db, ages, []evalCase{
			{"17.999999::DOUBLE", "<18"},
			{"18.0::DOUBLE", "18-24"},
			{"24.5::DOUBLE", "18-24"},
			{"64.99::DOUBLE", "55-64"},
			{"-0.0::DOUBLE", "<18"},
			{"'NaN'::DOUBLE", null},
			{"'Infinity'::DOUBLE", null},
			{"'-Infinity'::DOUBLE", null},
			{"NULL::DOUBLE", null},
			{"24.5::DECIMAL(4,1)", "18-24"},
		})
	})
	t.Run("text source", func(t *testing.T) {
		checkEval(t, db, ages, []evalCase{
			{"'18'", "18-24"},
			{"' 30 '", "25-34"},
			{"'65.0'", "65+"},
			{"'1e2'", "65+"},
			{"'abc'", null},
			{"''", null},
			{"'nan'", null},
			{"NULL::VARCHAR", null},
		})
	})
	t.Run("non-integer edges", func(t *testing.T) {
		b, err := NewBins("score_band", "score", []float64{0.1, 0.2, 0.3})
		if err != nil {
			t.Fatal(err)
		}
		checkEval(t, db, b, []evalCase{
			// Text-to-DOUBLE casts are exact; DECIMAL literals such as 0.09999999999999999 are not.
			{"'0.09999999999999999'::DOUBLE", "<0.1"},
			{"'0.1'::DOUBLE", "[0.1, 0.2)"},
			{"'0.19999999999999998'::DOUBLE", "[0.1, 0.2)"},
			{"'0.2'::DOUBLE", "[0.2, 0.3)"},
			{"(0.1 + 0.2)::DOUBLE", ">=0.3"}, // 0.30000000000000004
			{"0.3::DOUBLE", ">=0.3"},
			{"'0.25'", "[0.2, 0.3)"},
		})
	})
	t.Run("negative edges", func(t *testing.T) {
		b, err := NewBins("delta_band", "delta", []float64{-10, 0, 10})
		if err != nil {
			t.Fatal(err)
		}
		checkEval(t, db, b, []evalCase{
			{"-11", "<-10"}, {"-10", "-10--1"}, {"-1", "-10--1"}, {"-0.5::DOUBLE", "-10--1"}, {"0", "0-9"},
			{"9", "0-9"}, {"10", "10+"},
		})
	})
}

func ExampleNewBins() {
	b, err := NewBins("age_band", "age", []float64{18, 25, 35, 45, 55, 65})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.Join(b.Labels(), " "))

	_, err = NewBins("age_band", "age", []float64{18, 35, 25})
	fmt.Println(err)
	// Output:
	// <18 18-24 25-34 35-44 45-54 55-64 65+
	// columns.age_band.bins[2]: 25 must be greater than bins[1] (35): edges must be strictly ascending
}
