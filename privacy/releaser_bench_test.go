package privacy

import (
	"context"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// benchBatch is an aggregate batch of n partitions for the benchmark job's
// metrics (count with Linf 3, count_units, sum in [0, 500]), every partition
// with enough units to pass selection, as DuckDB hands it over.
func benchBatch(n int) (arrow.RecordBatch, OutputSpec) {
	out := OutputSpec{Name: "o", GroupBy: []string{"campaign", "week"}, MaxPartitionsPerUnit: 5, Metrics: []MetricSpec{
		{Name: "events", Kind: Count, MaxPerUnit: 3},
		{Name: "people", Kind: CountUnits},
		{Name: "revenue", Kind: Sum, Min: 0, Max: 500},
	}}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "campaign", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "week", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: UnitsColumn, Type: arrow.PrimitiveTypes.Int64},
		{Name: StatColumn(0, RowCount), Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: StatColumn(1, UnitCount), Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: StatColumn(2, ClampedSum), Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i := range n {
		b.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("cmp_%06d", i/52))
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("2026-W%02d", i%52))
		b.Field(2).(*array.Int64Builder).Append(int64(1000 + i%5000))
		b.Field(3).(*array.Int64Builder).Append(int64(2500 + i%9000))
		b.Field(4).(*array.Int64Builder).Append(int64(1000 + i%5000))
		b.Field(5).(*array.Float64Builder).Append(float64(100000 + i))
	}
	return b.NewRecordBatch(), out
}

// BenchmarkReleaseOutput measures the Go side of a release: DP partition
// selection, library noise and confidence intervals for every partition of
// one aggregate batch, and building the released Arrow table. One op is one
// batch. The work is per partition (a few hundred to a million rows for a
// whole job), never per input event.
//
//   - library: the real release. About 330 allocations per partition, all
//     inside github.com/google/differential-privacy (dpagg objects per
//     partition, and rand.U64/U8 allocate a buffer per random draw); the
//     privacy invariants keep noise and selection in that library.
//   - own_code: the same batch with public partitions (no selection) and the
//     noiseless test double, so only privagg's code runs: its allocations are
//     per batch (key text, column slices growing, the Arrow table), about the
//     same count for 1,200 and 10,000 partitions.
//
// Results are in benchmarks/RESULTS.md.
func BenchmarkReleaseOutput(b *testing.B) {
	for _, ownCode := range []bool{false, true} {
		for _, n := range []int{1_200, 10_000} {
			name := fmt.Sprintf("library/partitions=%d", n)
			if ownCode {
				name = fmt.Sprintf("own_code/partitions=%d", n)
			}
			b.Run(name, func(b *testing.B) {
				rec, out := benchBatch(n)
				defer rec.Release()
				out.PublicPartitions = ownCode
				plan, err := NewPlan(withDefaultSplit(JobSpec{Epsilon: 1, Delta: 1e-6, Noise: Laplace, K: 10, Outputs: []OutputSpec{out}}))
				if err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					r, err := NewReleaser(plan, reservationFor(plan), Metadata{Job: "bench"}, ReleaserOptions{})
					if err != nil {
						b.Fatal(err)
					}
					if ownCode {
						setNoise(r, noNoise{})
					}
					rr, err := array.NewRecordReader(rec.Schema(), []arrow.RecordBatch{rec})
					if err != nil {
						b.Fatal(err)
					}
					if err := r.ReleaseOutput(ctx, out.Name, rr, nil); err != nil {
						b.Fatal(err)
					}
					rr.Release()
					rel, err := r.Finish()
					if err != nil {
						b.Fatal(err)
					}
					rel.Free()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/partition")
			})
		}
	}
}
