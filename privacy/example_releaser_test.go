package privacy_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/privagg/privagg/privacy"
)

// A release: the ledger charges the plan's budget (a Reservation), then the
// Releaser noises an engine's per-partition aggregates into a Release, the
// only value a sink accepts. The values are noisy, so this example prints
// the table's shape: with public partitions every listed key gets a row.
func ExampleReleaser() {
	ctx := context.Background()
	out := privacy.OutputSpec{
		Name:                 "by_campaign",
		GroupBy:              []string{"campaign"},
		MaxPartitionsPerUnit: 1,
		PublicPartitions:     true,
		Weight:               1,
		Metrics:              []privacy.MetricSpec{{Name: "people", Kind: privacy.CountUnits, Weight: 1}},
	}
	plan, err := privacy.NewPlan(privacy.JobSpec{Epsilon: 1, Noise: privacy.Laplace, K: 1, Outputs: []privacy.OutputSpec{out}})
	if err != nil {
		fmt.Println(err)
		return
	}

	// The budget: a ledger with 10 epsilon for the dataset, charged plan.Total.
	dir, err := os.MkdirTemp("", "privagg-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	led, err := privacy.OpenLedger(filepath.Join(dir, "ledger.duckdb"))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := led.SetBudget(ctx, "web_events", 10, 0, "none"); err != nil {
		fmt.Println(err)
		return
	}
	res, err := led.Reserve(ctx, privacy.ReserveRequest{
		ReleaseID: "example-1", Dataset: "web_events", Job: "example",
		Epsilon: plan.Total.Epsilon, Delta: plan.Total.Delta, Outputs: []string{out.Name}, OutputDir: dir,
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	// The engine's aggregates, in the columns the plan's layout names: one
	// row per public key, with the distinct people after contribution
	// bounding (the units column, and the people metric's statistic).
	people := plan.Outputs[0].Layout.Column(0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "campaign", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: privacy.UnitsColumn, Type: arrow.PrimitiveTypes.Int64},
		{Name: people, Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"spring", "summer"}, nil)
	b.Field(1).(*array.Int64Builder).AppendValues([]int64{1200, 800}, nil)
	b.Field(2).(*array.Int64Builder).AppendValues([]int64{1200, 800}, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()
	aggregates, err := array.NewRecordReader(schema, []arrow.RecordBatch{rec})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer aggregates.Release()

	r, err := privacy.NewReleaser(plan, res, privacy.Metadata{ID: "example-1", Job: "example", Dataset: "web_events"}, privacy.ReleaserOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := r.ReleaseOutput(ctx, out.Name, aggregates, nil); err != nil {
		fmt.Println(err)
		return
	}
	rel, err := r.Finish()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rel.Free()
	for _, t := range rel.Tables() {
		fmt.Println(t.Name(), t.Record().NumRows(), "rows")
		for _, f := range t.Record().Schema().Fields() {
			fmt.Println(" ", f.Name)
		}
	}
	// Output:
	// by_campaign 2 rows
	//   campaign
	//   people
	//   people_ci95
}
