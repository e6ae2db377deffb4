package catalog

import (
	"context"
	"errors"
	"math"
	"testing"
)

func TestCI95Sum(t *testing.T) {
	t.Parallel()
	db := openDB(t, sharedFixture(t))
	// The half-widths of every row, summed by hand.
	var want float64
	for _, r := range rows(t, db, "SELECT people_ci95 FROM by_channel") {
		ci, _ := r[0].(float64)
		want += ci * ci
	}
	want = math.Sqrt(want)
	got := rows(t, db, "SELECT ci95_sum(people_ci95), count(*) FROM by_channel")
	if v, _ := got[0][0].(float64); math.Abs(v-want) > 1e-9*want || want == 0 {
		t.Errorf("ci95_sum(people_ci95) = %v, want sqrt(sum(people_ci95^2)) = %v", got[0][0], want)
	}
	// Per group, as an aggregate: a campaign of n rows with equal
	// half-widths h has sqrt(n) h.
	for _, r := range rows(t, db, "SELECT campaign, ci95_sum(people_ci95), count(*), max(people_ci95) FROM by_channel GROUP BY campaign") {
		v, n, h := r[1].(float64), r[2].(int64), r[3].(float64)
		if w := math.Sqrt(float64(n)) * h; math.Abs(v-w) > 1e-9*w {
			t.Errorf("campaign %v: ci95_sum = %v, want sqrt(%d) * %v = %v", r[0], v, n, h, w)
		}
	}
	// The macro is the sandbox's: a query can neither replace nor drop it.
	for _, sql := range []string{
		"CREATE OR REPLACE TEMP MACRO ci95_sum(x) AS 0",
		"DROP MACRO ci95_sum",
	} {
		var qe *QueryError
		if err := db.Check(context.Background(), sql); !errors.As(err, &qe) || !qe.Refused {
			t.Errorf("Check(%s) = %v, want refused", sql, err)
		}
	}
}
