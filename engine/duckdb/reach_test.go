package duckdb

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/privagg/privagg/internal/testfixture"
)

// TestAnyPartitionReaches: the answer compares the largest per-partition
// count of people, after bounding, with the number asked, for a two-phase
// output and one that selects through the count; it needs Prepare first.
//
// twoPhaseEvents(3): b1..b3 have 100 people each, and x, with rows in 50
// partitions, counts in at most 3 of them (L0 = 5), so the largest count is
// 100 or 101. spread: 20 people each with a row in all 50 partitions; with
// L0 = 5 a partition keeps each person with chance 1/10, so a count of 20
// (what an unbounded count gives every partition) has chance 1e-20 per
// partition: the test fails wrongly with probability below 1e-18.
func TestAnyPartitionReaches(t *testing.T) {
	var spread strings.Builder
	spread.WriteString("user_id,campaign,value,consent\n")
	for u := range 20 {
		for p := range 50 {
			fmt.Fprintf(&spread, "u%d,p%02d,1,true\n", u, p)
		}
	}
	threshold := strings.Replace(twoPhaseJob, "    group_by: [campaign]", "    selection: count_threshold\n    group_by: [campaign]", 1)
	for _, tc := range []struct {
		name, job, events string
		yes, no           int64
	}{
		{"two-phase", twoPhaseJob, twoPhaseEvents(3), 100, 102},
		{"count threshold", threshold, twoPhaseEvents(3), 100, 102},
		{"bounded", twoPhaseJob, spread.String(), 1, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			j := testfixture.CSVJob(t, tc.job, tc.events, 1e6)
			e, err := New(j, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			if _, err := e.AnyPartitionReaches(ctx, 0, 1); err == nil {
				t.Error("answered before Prepare")
			}
			if _, err := e.Prepare(ctx); err != nil {
				t.Fatal(err)
			}
			for people, want := range map[int64]bool{tc.yes: true, tc.no: false} {
				got, err := e.AnyPartitionReaches(ctx, 0, people)
				if err != nil || got != want {
					t.Errorf("reaches %d people: %v (err %v), want %v", people, got, err, want)
				}
			}
		})
	}
}
