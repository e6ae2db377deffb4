package duckdb

import (
	"fmt"
	"strings"

	"github.com/privagg/privagg/privacy"
)

// The value streams of an output's stream statistics (quantiles): a second
// read of the bounded rows, ordered by key, that privacy.Releaser merges
// with the released keys.

// hasStreams reports whether output o has statistics that are value streams
// (quantiles).
func (p *queryPlan) hasStreams(o int) bool { return p.layouts[o].HasStreams() }

// streamSQL streams one row per bounded (unit, partition) row of output o
// with the output's keys and a column per stream statistic (the unit's
// clamped total, NULL without a value), ordered by key.
func (p *queryPlan) streamSQL(o int, bounded string) string {
	out := p.job.Outputs[o]
	keys := quoteAll(out.GroupBy)
	var sel []string
	for _, g := range out.GroupBy {
		sel = append(sel, fmt.Sprintf("%s AS %s", p.formatKey(g, q(g)), q(g)))
	}
	l := p.layouts[o]
	for k, n := range l.Needs {
		switch n.Stat {
		case privacy.ClampedValues:
			sel = append(sel, fmt.Sprintf("%s AS %s", p.clampSQL(n), q(l.Column(k))))
		}
	}
	return fmt.Sprintf("SELECT %s FROM %s ORDER BY %s", strings.Join(sel, ", "), bounded, orderBy(keys))
}
