package duckdb

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/privagg/privagg/privacy"
)

// The SQL buckets of the bound estimates are privacy's: a count or a value
// on either side of a bucket edge lands where privacy.CountBucket and
// privacy.ValueBucket put it.
func TestBucketSQLMatchesPrivacy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	eng, err := OpenDB(ctx, DBOptions{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	var counts []string
	var want []int64
	for n := int64(1); n <= 5000; n++ {
		counts = append(counts, fmt.Sprint(n))
		want = append(want, privacy.CountBucket(n))
	}
	for _, n := range []int64{1 << 20, 1<<40 + 7, math.MaxInt64} {
		counts = append(counts, fmt.Sprint(n))
		want = append(want, privacy.CountBucket(n))
	}
	rows, err := eng.QueryRows(ctx, fmt.Sprintf("SELECT %s FROM (SELECT unnest([%s]::BIGINT[]) AS n)", countBucketSQL("n"), strings.Join(counts, ",")))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		if got := toInt64(r[0]); got != want[i] {
			t.Errorf("count %s: SQL bucket %d, privacy %d", counts[i], got, want[i])
		}
	}
	var values []float64
	for _, x := range []float64{1e-12, 0.001, 0.49, 0.5, 0.75, 1, 1.5, 2, 3.999, 4, 50, 64, 127.9, 128, 1e6, 1e15} {
		values = append(values, x, -x)
	}
	values = append(values, 0)
	lits := make([]string, len(values))
	for i, v := range values {
		lits[i] = fmt.Sprintf("%g", v)
	}
	rows, err = eng.QueryRows(ctx, fmt.Sprintf("SELECT %s FROM (SELECT unnest([%s]::DOUBLE[]) AS x)", valueBucketSQL("x"), strings.Join(lits, ",")))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		if got, w := toInt64(r[0]), privacy.ValueBucket(values[i]); got != w {
			t.Errorf("value %v: SQL bucket %d, privacy %d", values[i], got, w)
		}
	}
}
