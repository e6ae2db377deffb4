package privacy

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestSelectionKAndDP checks partition selection with the real library: a
// partition with fewer than k people is never selected (pre-threshold), one
// with a million people always is (its drop probability is far below 1e-100).
func TestSelectionKAndDP(t *testing.T) {
	t.Parallel()
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	for _, kind := range []NoiseKind{Laplace, Gaussian} {
		for _, l0 := range []int64{1, 5} {
			out := OutputSpec{Name: "o", GroupBy: []string{"k"}, MaxPartitionsPerUnit: l0, Metrics: []MetricSpec{{Name: "n", Kind: CountUnits}}}
			plan := mustPlan(t, JobSpec{Epsilon: 1, Delta: 1e-6, Noise: kind, K: 10, Outputs: []OutputSpec{out}})
			var rows []aggRow
			for i := range 200 {
				rows = append(rows, aggRow{keys: []string{string(rune('A'+i/26)) + string(rune('a'+i%26))}, units: int64(i % 10)}) // 0..9 < k
			}
			rows = append(rows, aggRow{keys: []string{"zz"}, units: 1_000_000})
			r, err := NewReleaser(plan, reservationFor(plan), Metadata{}, ReleaserOptions{Allocator: alloc})
			if err != nil {
				t.Fatal(err)
			}
			units := aggReader(t, alloc, out, rows)
			sel, err := r.SelectPartitions(context.Background(), "o", units)
			units.Release()
			if err != nil {
				t.Fatal(err)
			}
			if sel.Len() != 1 || selectedKeyStrings(t, sel)[0] != "zz" {
				t.Errorf("%s L0=%d: selected %v, want only the large partition", kind, l0, selectedKeyStrings(t, sel))
			}
			if got := r.Stats()["o"]; got != (OutputStats{Partitions: 201, Released: 1, Suppressed: 200}) {
				t.Errorf("stats = %+v", got)
			}
		}
	}
}

// selectedKeyStrings reads a selection's keys, "|"-joined per row, NULL as "∅".
func selectedKeyStrings(t *testing.T, sel *Selection) []string {
	t.Helper()
	rec := sel.Keys(memory.DefaultAllocator)
	defer rec.Release()
	var out []string
	for row := 0; row < int(rec.NumRows()); row++ {
		var parts []string
		for c := 0; c < int(rec.NumCols()); c++ {
			col := rec.Column(c).(*array.String)
			if col.IsNull(row) {
				parts = append(parts, "∅")
			} else {
				parts = append(parts, col.Value(row))
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return out
}

// TestTwoPhaseRelease: phase 1 selects on the L0-bounded units; phase 2's
// aggregates (bounded again among the selected keys) are noised for exactly
// the selected keys, with their own unit counts; the run report counts the
// selection.
func TestTwoPhaseRelease(t *testing.T) {
	t.Parallel()
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	out := OutputSpec{Name: "o", GroupBy: []string{"g", "h"}, MaxPartitionsPerUnit: 5,
		Metrics: []MetricSpec{{Name: "people", Kind: CountUnits}, {Name: "events", Kind: Count, MaxPerUnit: 3}}}
	plan := mustPlan(t, JobSpec{Epsilon: 1, Delta: 1e-6, Noise: Laplace, K: 10, Outputs: []OutputSpec{out}})
	newReleaser := func() *Releaser {
		r, err := NewReleaser(plan, reservationFor(plan), Metadata{}, ReleaserOptions{Allocator: alloc})
		if err != nil {
			t.Fatal(err)
		}
		setNoise(r, noNoise{})
		return r
	}
	phase1 := []aggRow{
		{keys: []string{"a", "x"}, units: 1_000_000},
		{keys: []string{"b", "x"}, units: 3}, // < k: never selected
		{keys: []string{"c", "x"}, units: 2_000_000},
	}
	phase2 := func(keys ...string) []aggRow {
		var rows []aggRow
		for _, k := range keys {
			rows = append(rows, aggRow{keys: []string{k, "x"}, units: 1_000_050, ints: map[string]int64{"0/units": 1_000_050, "1/rows": 7}})
		}
		return rows
	}
	selectAll := func(r *Releaser) *Selection {
		t.Helper()
		units := aggReader(t, alloc, out, phase1)
		defer units.Release()
		sel, err := r.SelectPartitions(context.Background(), "o", units)
		if err != nil {
			t.Fatal(err)
		}
		if got := selectedKeyStrings(t, sel); strings.Join(got, ",") != "a|x,c|x" {
			t.Fatalf("selected %v, want a|x and c|x", got)
		}
		return sel
	}

	t.Run("exactly the selected keys", func(t *testing.T) {
		r := newReleaser()
		selectAll(r)
		agg := aggReader(t, alloc, out, phase2("a", "c"))
		defer agg.Release()
		if err := r.ReleaseOutput(context.Background(), "o", agg, nil); err != nil {
			t.Fatal(err)
		}
		rel, err := r.Finish()
		if err != nil {
			t.Fatal(err)
		}
		defer rel.Free()
		rec := rel.Tables()[0].Record()
		if rec.NumRows() != 2 {
			t.Fatalf("released %d rows, want 2", rec.NumRows())
		}
		for row := range 2 {
			if got := rec.Column(2).(*array.Int64).Value(row); got != 1_000_050 {
				t.Errorf("row %d: people %d, want the phase-2 count 1000050", row, got)
			}
			if got := rec.Column(4).(*array.Int64).Value(row); got != 7 {
				t.Errorf("row %d: events %d, want 7", row, got)
			}
		}
		if got := r.Stats()["o"]; got != (OutputStats{Partitions: 3, Released: 2, Suppressed: 1}) {
			t.Errorf("stats = %+v, want the selection's", got)
		}
	})
	for name, keys := range map[string][]string{
		"a key that was not selected": {"a", "b", "c"},
		"a selected key missing":      {"a"},
		"another key":                 {"a", "d"},
	} {
		t.Run(name, func(t *testing.T) {
			r := newReleaser()
			selectAll(r)
			agg := aggReader(t, alloc, out, phase2(keys...))
			defer agg.Release()
			if err := r.ReleaseOutput(context.Background(), "o", agg, nil); err == nil || !strings.Contains(err.Error(), "selected") {
				t.Errorf("err = %v, want a selection mismatch", err)
			}
		})
	}
	t.Run("not selected first", func(t *testing.T) {
		r := newReleaser()
		agg := aggReader(t, alloc, out, phase2("a", "c"))
		defer agg.Release()
		if err := r.ReleaseOutput(context.Background(), "o", agg, nil); err == nil || !strings.Contains(err.Error(), "SelectPartitions") {
			t.Errorf("err = %v, want: select first", err)
		}
	})
	t.Run("selected twice", func(t *testing.T) {
		r := newReleaser()
		selectAll(r)
		units := aggReader(t, alloc, out, phase1)
		defer units.Release()
		if _, err := r.SelectPartitions(context.Background(), "o", units); err == nil || !strings.Contains(err.Error(), "already") {
			t.Errorf("err = %v, want already selected", err)
		}
	})
	t.Run("unsorted", func(t *testing.T) {
		r := newReleaser()
		units := aggReader(t, alloc, out, []aggRow{phase1[2], phase1[0]})
		defer units.Release()
		if _, err := r.SelectPartitions(context.Background(), "o", units); err == nil || !strings.Contains(err.Error(), "sorted") {
			t.Errorf("err = %v, want a sort order error", err)
		}
	})
}

func TestSelectPartitionsRefusesPublicPartitions(t *testing.T) {
	t.Parallel()
	out := OutputSpec{Name: "o", GroupBy: []string{"k"}, MaxPartitionsPerUnit: 1, Metrics: []MetricSpec{{Name: "n", Kind: CountUnits}}, PublicPartitions: true}
	plan := mustPlan(t, JobSpec{Epsilon: 1, Noise: Laplace, K: 1, Outputs: []OutputSpec{out}})
	r, err := NewReleaser(plan, reservationFor(plan), Metadata{}, ReleaserOptions{})
	if err != nil {
		t.Fatal(err)
	}
	units := aggReader(t, memory.DefaultAllocator, out, []aggRow{{keys: []string{"a"}, units: 5}})
	defer units.Release()
	if _, err := r.SelectPartitions(context.Background(), "o", units); err == nil || !strings.Contains(err.Error(), "public") {
		t.Errorf("err = %v, want: partitions are public", err)
	}
}

// TestSelectionKeysKeepNulls: a NULL key survives selection as NULL, not as
// an empty string.
func TestSelectionKeysKeepNulls(t *testing.T) {
	t.Parallel()
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	out := OutputSpec{Name: "o", GroupBy: []string{"k"}, MaxPartitionsPerUnit: 1, Metrics: []MetricSpec{{Name: "n", Kind: CountUnits}}}
	plan := mustPlan(t, JobSpec{Epsilon: 1, Delta: 1e-6, Noise: Laplace, K: 1, Outputs: []OutputSpec{out}})
	r, err := NewReleaser(plan, reservationFor(plan), Metadata{}, ReleaserOptions{Allocator: alloc})
	if err != nil {
		t.Fatal(err)
	}
	units := nullKeyReader(t, alloc, []string{"a", ""}, []bool{false, true})
	defer units.Release()
	sel, err := r.SelectPartitions(context.Background(), "o", units)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(selectedKeyStrings(t, sel), ","); got != "a,∅" {
		t.Errorf("selected %q, want a,∅", got)
	}
}

// nullKeyReader is a one-key units batch, every partition with a million
// units; nulls marks NULL keys.
func nullKeyReader(t *testing.T, alloc memory.Allocator, keys []string, nulls []bool) array.RecordReader {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "k", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: UnitsColumn, Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	b := array.NewRecordBuilder(alloc, schema)
	defer b.Release()
	for i := range keys {
		if nulls[i] {
			b.Field(0).(*array.StringBuilder).AppendNull()
		} else {
			b.Field(0).(*array.StringBuilder).Append(keys[i])
		}
		b.Field(1).(*array.Int64Builder).Append(1_000_000)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	rr, err := array.NewRecordReader(schema, []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatal(err)
	}
	return rr
}
