package privacy

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/differential-privacy/go/v3/noise"

	"github.com/privagg/privagg/internal/testnoise"
)

// noNoise is the shared test double that adds no noise.
type noNoise = testnoise.None

// aggRow is one partition of a hand-made aggregate batch. Statistics are
// keyed by statKey(metric index, statistic).
type aggRow struct {
	keys  []string
	units int64
	ints  map[string]int64
	flts  map[string]float64
}

func statKey(i int, s Statistic) string { return fmt.Sprintf("%d/%s", i, s) }

// aggReader builds an aggregate batch for op in the documented layout.
func aggReader(t *testing.T, alloc memory.Allocator, op OutputSpec, rows []aggRow) array.RecordReader {
	t.Helper()
	layout, err := op.Layout()
	if err != nil {
		t.Fatal(err)
	}
	var fields []arrow.Field
	for _, g := range op.GroupBy {
		fields = append(fields, arrow.Field{Name: g, Type: arrow.BinaryTypes.String, Nullable: true})
	}
	fields = append(fields, arrow.Field{Name: UnitsColumn, Type: arrow.PrimitiveTypes.Int64})
	// users[k]: the statKeys that read need k.
	var needs []int
	users := map[int][]string{}
	for i, m := range op.Metrics {
		mt, _ := LookupMetric(m.Kind)
		for p, part := range mt.Parts(m) {
			k := layout.Need(i, p)
			users[k] = append(users[k], statKey(i, part.Stat))
		}
	}
	for k, n := range layout.Needs {
		if n.Stat.Stream() {
			continue
		}
		needs = append(needs, k)
		typ := arrow.DataType(arrow.PrimitiveTypes.Float64)
		if n.Stat.Integer() {
			typ = arrow.PrimitiveTypes.Int64
		}
		fields = append(fields, arrow.Field{Name: layout.Column(k), Type: typ, Nullable: true})
	}
	schema := arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(alloc, schema)
	defer b.Release()
	for _, r := range rows {
		for i := range op.GroupBy {
			b.Field(i).(*array.StringBuilder).Append(r.keys[i])
		}
		b.Field(len(op.GroupBy)).(*array.Int64Builder).Append(r.units)
		for j, k := range needs {
			f := b.Field(len(op.GroupBy) + 1 + j)
			var iv int64
			var fv float64
			for _, u := range users[k] {
				if v, ok := r.ints[u]; ok {
					iv = v
				}
				if v, ok := r.flts[u]; ok {
					fv = v
				}
			}
			if layout.Needs[k].Stat.Integer() {
				f.(*array.Int64Builder).Append(iv)
			} else {
				f.(*array.Float64Builder).Append(fv)
			}
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	rr, err := array.NewRecordReader(schema, []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

// mustPlan plans spec after withDefaultSplit.
func mustPlan(t *testing.T, spec JobSpec) *Plan {
	t.Helper()
	p, err := NewPlan(withDefaultSplit(spec))
	if err != nil {
		t.Fatalf("NewPlan: %v", err)
	}
	return p
}

func reservationFor(p *Plan) *Reservation {
	return newReservation("r1", "ds", p.Total.Epsilon, p.Total.Delta)
}

func allMetrics() []MetricSpec {
	return []MetricSpec{
		{Name: "events", Kind: Count, MaxPerUnit: 3},
		{Name: "people", Kind: CountUnits},
		{Name: "revenue", Kind: Sum, Min: 0, Max: 500},
		{Name: "avg", Kind: Mean, Min: 0, Max: 100},
		{Name: "var", Kind: Variance, Min: 0, Max: 10},
	}
}

func TestReleaserNoiselessPublicPartitions(t *testing.T) {
	t.Parallel()
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	out := OutputSpec{Name: "o", GroupBy: []string{"campaign"}, MaxPartitionsPerUnit: 2, Metrics: allMetrics(), PublicPartitions: true}
	plan := mustPlan(t, JobSpec{Epsilon: 1, Delta: 1e-6, Noise: Laplace, K: 10, Outputs: []OutputSpec{out}})
	r, err := NewReleaser(plan, reservationFor(plan), Metadata{Job: "j"}, ReleaserOptions{Allocator: alloc})
	setNoise(r, noNoise{})
	if err != nil {
		t.Fatal(err)
	}
	rows := []aggRow{
		{keys: []string{"a"}, units: 4, ints: map[string]int64{"0/rows": 9, "1/units": 4, "3/count": 4, "4/count": 4},
			flts: map[string]float64{"2/sum": 1200, "3/csum": 40, "4/csum": 2, "4/csumsq": 30}},
		{keys: []string{"b"}, units: 0}, // public key without data
	}
	rr := aggReader(t, alloc, out, rows)
	defer rr.Release()
	if err := r.ReleaseOutput(context.Background(), "o", rr, nil); err != nil {
		t.Fatal(err)
	}
	rel, err := r.Finish()
	if err != nil {
		t.Fatal(err)
	}
	defer rel.Free()
	if got := rel.Metadata().ID; got != "r1" {
		t.Errorf("release id = %q, want r1", got)
	}
	if got := r.Stats()["o"]; got != (OutputStats{Partitions: 2, Released: 2}) {
		t.Errorf("stats = %+v", got)
	}
	rec := rel.Tables()[0].Record()
	wantCols := []string{"campaign", "events", "events_ci95", "people", "people_ci95", "revenue", "revenue_ci95", "avg", "avg_ci95", "var", "var_ci95"}
	for i, c := range wantCols {
		if rec.ColumnName(i) != c {
			t.Fatalf("column %d = %q, want %q", i, rec.ColumnName(i), c)
		}
	}
	col := func(name string) arrow.Array { return rec.Column(rec.Schema().FieldIndices(name)[0]) }
	checkInt := func(name string, row int, want int64) {
		t.Helper()
		if got := col(name).(*array.Int64).Value(row); got != want {
			t.Errorf("%s[%d] = %d, want %d", name, row, got, want)
		}
	}
	checkFloat := func(name string, row int, want float64) {
		t.Helper()
		if got := col(name).(*array.Float64).Value(row); math.Abs(got-want) > 1e-9 {
			t.Errorf("%s[%d] = %v, want %v", name, row, got, want)
		}
	}
	checkInt("events", 0, 9)
	checkInt("people", 0, 4)
	checkFloat("revenue", 0, 1200)
	checkFloat("avg", 0, 50+40.0/4) // midpoint + normalized sum / count
	checkFloat("var", 0, 30.0/4-math.Pow(2.0/4, 2))
	checkFloat("events_ci95", 0, 0)
	checkInt("events", 1, 0)
	checkInt("people", 1, 0)
	checkFloat("avg", 1, 50) // no data: the midpoint, as the library's BoundedMean
	checkFloat("var", 1, 0)
}

func TestNewReleaserNeedsReservation(t *testing.T) {
	t.Parallel()
	out := OutputSpec{Name: "o", GroupBy: []string{"k"}, MaxPartitionsPerUnit: 1, Metrics: allMetrics()[:1], PublicPartitions: true}
	plan := mustPlan(t, JobSpec{Epsilon: 1, Delta: 0, Noise: Laplace, K: 1, Outputs: []OutputSpec{out}})
	if _, err := NewReleaser(plan, nil, Metadata{}, ReleaserOptions{}); err == nil || !strings.Contains(err.Error(), "reservation") {
		t.Errorf("nil reservation: err = %v, want a reservation error", err)
	}
	small := newReservation("r", "ds", plan.Total.Epsilon/2, 0)
	if _, err := NewReleaser(plan, small, Metadata{}, ReleaserOptions{}); err == nil {
		t.Error("reservation smaller than the plan was accepted")
	}
}

func TestReleaserRejectsUnsortedAggregates(t *testing.T) {
	t.Parallel()
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	out := OutputSpec{Name: "o", GroupBy: []string{"k"}, MaxPartitionsPerUnit: 1, Metrics: []MetricSpec{{Name: "n", Kind: CountUnits}}, PublicPartitions: true}
	plan := mustPlan(t, JobSpec{Epsilon: 1, Noise: Laplace, K: 1, Outputs: []OutputSpec{out}})
	for name, keys := range map[string][]string{"descending": {"b", "a"}, "duplicate": {"a", "a"}} {
		t.Run(name, func(t *testing.T) {
			r, err := NewReleaser(plan, reservationFor(plan), Metadata{}, ReleaserOptions{Allocator: alloc})
			setNoise(r, noNoise{})
			if err != nil {
				t.Fatal(err)
			}
			rr := aggReader(t, alloc, out, []aggRow{{keys: keys[:1], units: 1}, {keys: keys[1:], units: 1}})
			defer rr.Release()
			if err := r.ReleaseOutput(context.Background(), "o", rr, nil); err == nil || !strings.Contains(err.Error(), "sorted") {
				t.Errorf("err = %v, want a sort order error", err)
			}
		})
	}
}

// TestNoiseScaleMatchesLibrary draws n = 40,000 noisy sums of 0 through the
// Releaser and compares the sample standard deviation with the library's
// stated one. The sample variance of Laplace noise has relative standard
// error sqrt(5/n) = 1.1% (Gaussian: sqrt(2/n) = 0.7%); the test accepts a
// standard deviation within 5% (variance within ~10%, more than 8 standard
// errors), so a false failure has probability below 1e-12, while noise off
// by 30% (the power check below) always fails.
func TestNoiseScaleMatchesLibrary(t *testing.T) {
	t.Parallel()
	const n = 40000
	for _, kind := range []NoiseKind{Laplace, Gaussian} {
		t.Run(string(kind), func(t *testing.T) {
			out := OutputSpec{Name: "o", GroupBy: []string{"k"}, MaxPartitionsPerUnit: 3,
				Metrics: []MetricSpec{{Name: "s", Kind: Sum, Min: -50, Max: 50}, {Name: "c", Kind: Count, MaxPerUnit: 4}}, PublicPartitions: true}
			plan := mustPlan(t, JobSpec{Epsilon: 0.5, Delta: 1e-5, Noise: kind, K: 1, Outputs: []OutputSpec{out}})
			rows := make([]aggRow, n)
			for i := range rows {
				rows[i] = aggRow{keys: []string{keyName(i)}, units: 0}
			}
			r, err := NewReleaser(plan, reservationFor(plan), Metadata{}, ReleaserOptions{})
			if err != nil {
				t.Fatal(err)
			}
			rr := aggReader(t, memory.DefaultAllocator, out, rows)
			defer rr.Release()
			if err := r.ReleaseOutput(context.Background(), "o", rr, nil); err != nil {
				t.Fatal(err)
			}
			rel, err := r.Finish()
			if err != nil {
				t.Fatal(err)
			}
			defer rel.Free()
			rec := rel.Tables()[0].Record()
			sums := rec.Column(1).(*array.Float64).Float64Values()
			sd := stddev(sums)
			want := plan.Outputs[0].Metrics[0].Components[0].StdDev
			if math.Abs(sd/want-1) > 0.05 {
				t.Errorf("sum noise stddev = %.4g, library states %.4g", sd, want)
			}
			if math.Abs(sd/(want*1.3)-1) <= 0.05 {
				t.Errorf("power: a 30%% larger scale would also pass")
			}
			// Counts are clamped at 0, so compare the ci95 column instead:
			// it is the library's interval for the same parameters.
			ci := rec.Column(4).(*array.Float64).Value(0)
			if wantCI := plan.Outputs[0].Metrics[1].Components[0].CI95; math.Abs(ci-wantCI) > 1 {
				t.Errorf("count ci95 = %v, plan says %v", ci, wantCI)
			}
		})
	}
}

func keyName(i int) string {
	const digits = "0123456789"
	b := []byte("k000000")
	for p := len(b) - 1; p > 0 && i > 0; p-- {
		b[p] = digits[i%10]
		i /= 10
	}
	return string(b)
}

func stddev(xs []float64) float64 {
	var mean float64
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return math.Sqrt(ss / float64(len(xs)-1))
}

// TestQuantilesNoiseless feeds 1..1000 to one partition and 5 to another
// through the quantile stream; with noise removed the library's tree returns
// the true quantiles up to its leaf resolution ((max-min)/16^4).
func TestQuantilesNoiseless(t *testing.T) {
	t.Parallel()
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	out := OutputSpec{Name: "o", GroupBy: []string{"k"}, MaxPartitionsPerUnit: 1,
		Metrics: []MetricSpec{{Name: "q", Kind: Quantiles, Min: 0, Max: 1000, Ranks: []float64{0.5, 0.9}}}, PublicPartitions: true}
	plan := mustPlan(t, JobSpec{Epsilon: 1, Noise: Laplace, K: 1, Outputs: []OutputSpec{out}})
	r, err := NewReleaser(plan, reservationFor(plan), Metadata{}, ReleaserOptions{Allocator: alloc})
	setNoise(r, noNoise{})
	if err != nil {
		t.Fatal(err)
	}
	agg := aggReader(t, alloc, out, []aggRow{{keys: []string{"a"}, units: 1000}, {keys: []string{"b"}, units: 1}, {keys: []string{"c"}, units: 0}})
	defer agg.Release()
	qs := func(context.Context) (array.RecordReader, error) {
		schema := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.BinaryTypes.String}, {Name: plan.Outputs[0].Layout.Column(0), Type: arrow.PrimitiveTypes.Float64, Nullable: true}}, nil)
		b := array.NewRecordBuilder(alloc, schema)
		defer b.Release()
		for v := 1; v <= 1000; v++ {
			b.Field(0).(*array.StringBuilder).Append("a")
			b.Field(1).(*array.Float64Builder).Append(float64(v))
		}
		b.Field(0).(*array.StringBuilder).Append("b")
		b.Field(1).(*array.Float64Builder).Append(5)
		rec := b.NewRecordBatch()
		defer rec.Release()
		return array.NewRecordReader(schema, []arrow.RecordBatch{rec})
	}
	if err := r.ReleaseOutput(context.Background(), "o", agg, qs); err != nil {
		t.Fatal(err)
	}
	rel, err := r.Finish()
	if err != nil {
		t.Fatal(err)
	}
	defer rel.Free()
	rec := rel.Tables()[0].Record()
	if rec.ColumnName(1) != "q_p50" || rec.ColumnName(2) != "q_p90" {
		t.Fatalf("columns = %s, %s", rec.ColumnName(1), rec.ColumnName(2))
	}
	p50 := rec.Column(1).(*array.Float64).Float64Values()
	p90 := rec.Column(2).(*array.Float64).Float64Values()
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"a p50", p50[0], 500}, {"a p90", p90[0], 900}, {"b p50", p50[1], 5}} {
		if math.Abs(c.got-c.want) > 1.5 {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// setNoise replaces a Releaser's noise with a test double (this package's
// tests only; other packages use SetNoiseForTests in a test build).
func setNoise(r *Releaser, n noise.Noise) {
	if r != nil {
		r.nz = n
	}
}
