package main

import (
	"github.com/privagg/privagg/internal/sqlq"

	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strings"
)

// The metrics of the utility jobs (benchmarks/utility/*.yaml) and how the
// harness computes their truth and their expectation under bounding.
var metricNames = []string{"events", "people", "revenue"}

// bounds are the contribution bounds of a plan's output, read from its job
// file: they give the expectation of bounding.
type bounds struct {
	L0       int64
	Linf     int64   // events' max_per_unit
	Min, Max float64 // revenue's clamp
	OnePhase bool    // bounding among all partitions (keys thresholded on the count), not the selected ones
}

// perPersonSQL is one row per (consented person, partition): the person's
// rows and revenue total there. Consent is decided per person, as privagg
// does: any refusal excludes the person.
const perPersonSQL = `CREATE OR REPLACE TEMP TABLE pp AS
WITH ev AS (
  SELECT user_id::VARCHAR AS u, campaign, channel, strftime(date_trunc('week', ts), '%%Y-%%m-%%d') AS week, revenue,
         bool_and(consent_marketing) OVER (PARTITION BY user_id) AS ok
  FROM read_parquet(%s))
SELECT u, campaign, channel, week, count(*) AS n, coalesce(sum(revenue), 0) AS tot
FROM ev WHERE ok GROUP BY ALL`

// partitionSQL gives per partition the true (unbounded) values and their
// expectation after bounding: a person keeps each of their partitions with
// probability min(1, L0 / n), where n is the number of their partitions
// among the released ones (two phases) or among all (one phase); a kept
// partition contributes min(rows, Linf) events, 1 person and the total
// clamped to [min, max]. Rows: keys, true events, people, revenue,
// expected events, people, revenue, and whether the partition was released.
const partitionSQL = `WITH rel AS (SELECT campaign, channel, week FROM read_csv(%[1]s, all_varchar=true)),
x AS (SELECT pp.*, (r.campaign IS NOT NULL) AS released FROM pp LEFT JOIN rel r USING (campaign, channel, week)),
w AS (SELECT x.*, CASE WHEN %[5]s THEN count(*) OVER (PARTITION BY u)
                       ELSE count(*) FILTER (WHERE released) OVER (PARTITION BY u) END AS np FROM x)
SELECT campaign, channel, week,
  sum(n)::DOUBLE, count(*)::DOUBLE, sum(tot)::DOUBLE,
  sum(least(1, %[2]d / np) * least(n, %[3]d))::DOUBLE,
  sum(least(1, %[2]d / np))::DOUBLE,
  sum(least(1, %[2]d / np) * greatest(%[4]s, least(%[6]s, tot)))::DOUBLE,
  bool_or(released)
FROM w GROUP BY ALL`

type key struct{ campaign, channel, week string }

// partition is one partition's truth, expectation under bounding and
// released value (and 95% CI half-width) per metric.
type partition struct {
	truth, expected, released, ci95 [3]float64
	isReleased                      bool
}

func readPartitions(ctx context.Context, db *sql.DB, csv string, b bounds) (map[key]*partition, error) {
	q := fmt.Sprintf(partitionSQL, sqlq.String(csv), b.L0, b.Linf, fmtFloat(b.Min), fmt.Sprint(b.OnePhase), fmtFloat(b.Max))
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("expected values: %w", err)
	}
	defer rows.Close()
	out := map[key]*partition{}
	for rows.Next() {
		var k key
		p := &partition{}
		if err := rows.Scan(&k.campaign, &k.channel, &k.week, &p.truth[0], &p.truth[1], &p.truth[2],
			&p.expected[0], &p.expected[1], &p.expected[2], &p.isReleased); err != nil {
			return nil, err
		}
		out[k] = p
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// The released values.
	cols := make([]string, 0, 2*len(metricNames))
	for _, m := range metricNames {
		cols = append(cols, m, m+"_ci95")
	}
	rrows, err := db.QueryContext(ctx, fmt.Sprintf("SELECT campaign, channel, week, %s FROM read_csv(%s, all_varchar=true)",
		strings.Join(cols, ", "), sqlq.String(csv)))
	if err != nil {
		return nil, fmt.Errorf("released values: %w", err)
	}
	defer rrows.Close()
	for rrows.Next() {
		var k key
		vals := make([]sql.NullFloat64, len(cols))
		dest := []any{&k.campaign, &k.channel, &k.week}
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := rrows.Scan(dest...); err != nil {
			return nil, err
		}
		p, ok := out[k]
		if !ok {
			return nil, fmt.Errorf("released partition %v has no data", k)
		}
		for m := range metricNames {
			p.released[m], p.ci95[m] = vals[2*m].Float64, vals[2*m+1].Float64
		}
	}
	return out, rrows.Err()
}

// metricScore is one metric's utility over the released partitions:
// medians over released partitions of the relative error and its parts.
type metricScore struct {
	RelErr    float64 // |released - true| / true
	Bias      float64 // bounding alone, in expectation: (expected - true) / true
	Noise     float64 // |released - expected| / true: noise (and the spread of the random bounding)
	CINarrow  float64 // share of released values whose 95% CI half-width is below the value
	Coverage  float64 // share of released values whose 95% interval contains the true value
	Within10  int     // released values within 10% of the truth: accurate, bias included
	MAETop20  float64 // mean |released - true| over the 20 partitions with the most people (unreleased: 0)
	BiasTop20 float64 // mean |expected - true| over those 20 partitions
}

// result is one run's utility.
type result struct {
	Partitions int // partitions with data
	Released   int
	Metrics    [3]metricScore
}

func score(parts map[key]*partition) result {
	r := result{Partitions: len(parts)}
	keys := make([]key, 0, len(parts))
	for k, p := range parts {
		keys = append(keys, k)
		if p.isReleased {
			r.Released++
		}
	}
	// The 20 partitions with the most people, ties by key.
	slices.SortFunc(keys, func(a, b key) int {
		if d := parts[b].truth[1] - parts[a].truth[1]; d != 0 {
			return int(math.Copysign(1, d))
		}
		return strings.Compare(a.campaign+a.channel+a.week, b.campaign+b.channel+b.week)
	})
	top := keys[:min(20, len(keys))]
	for m := range metricNames {
		var rel, bias, nz []float64
		narrow, within, covered := 0, 0, 0
		for _, p := range parts {
			tv := p.truth[m]
			if !p.isReleased || tv == 0 {
				continue
			}
			rel = append(rel, math.Abs(p.released[m]-tv)/tv)
			bias = append(bias, (p.expected[m]-tv)/tv)
			nz = append(nz, math.Abs(p.released[m]-p.expected[m])/tv)
			if p.ci95[m] < math.Abs(p.released[m]) {
				narrow++
			}
			if math.Abs(p.released[m]-tv) <= 0.1*tv {
				within++
			}
			if math.Abs(p.released[m]-tv) <= p.ci95[m] {
				covered++
			}
		}
		s := metricScore{RelErr: median(rel), Bias: median(bias), Noise: median(nz), Within10: within}
		if len(rel) > 0 {
			s.CINarrow = float64(narrow) / float64(len(rel))
			s.Coverage = float64(covered) / float64(len(rel))
		}
		for _, k := range top {
			p := parts[k]
			s.MAETop20 += math.Abs(p.released[m] - p.truth[m])
			s.BiasTop20 += math.Abs(p.expected[m] - p.truth[m])
		}
		s.MAETop20 /= float64(max(len(top), 1))
		s.BiasTop20 /= float64(max(len(top), 1))
		r.Metrics[m] = s
	}
	return r
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fmtFloat(f float64) string { return fmt.Sprintf("%g", f) }
