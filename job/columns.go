package job

import (
	"fmt"
	"slices"
	"strings"
)

// InputColumns returns the raw event columns the job must read, sorted and
// without duplicates (names compared without case, as DuckDB compares them):
// the privacy unit unless it is RowUnit, the consent column, the sources of
// derived columns, group_by columns that are not derived, and metric columns.
// Identifiers are never among them; LoadJob refuses a job that would need one.
func (j *Job) InputColumns() []string {
	ids := newNameSet(j.Identifiers)
	var cols []string
	add := func(c string) {
		if c != "" && !ids.has(c) {
			cols = append(cols, c)
		}
	}
	if j.PrivacyUnit != RowUnit {
		add(j.PrivacyUnit)
	}
	add(j.Consent.Column)
	for _, name := range sortedKeys(j.Columns) {
		add(j.Columns[name].From)
	}
	for _, o := range j.Outputs {
		for _, g := range o.GroupBy {
			if !j.isDerived(g) {
				add(g)
			}
		}
		for _, m := range o.Metrics {
			add(m.Column)
		}
	}
	slices.Sort(cols)
	seen := nameSet{}
	return slices.DeleteFunc(cols, func(c string) bool {
		dup := seen.has(c)
		seen.add(c)
		return dup
	})
}

// TextColumns are the input columns every engine reads as text whatever
// type a reader would guess for them: the privacy unit (unless RowUnit),
// the consent column, and the sources of derived columns with a format
// (text times such as "9:30AM" or "07/12/2026 18:05", which a CSV sniffer
// could otherwise type as TIME or as a date of another layout). Sorted,
// without duplicates (names compared without case).
func (j *Job) TextColumns() []string {
	var cols []string
	if j.PrivacyUnit != RowUnit {
		cols = append(cols, j.PrivacyUnit)
	}
	cols = append(cols, j.Consent.Column)
	for _, name := range sortedKeys(j.Columns) {
		if c := j.Columns[name]; c.Format != "" {
			cols = append(cols, c.From)
		}
	}
	slices.Sort(cols)
	seen := nameSet{}
	return slices.DeleteFunc(cols, func(c string) bool {
		dup := c == "" || seen.has(c)
		seen.add(c)
		return dup
	})
}

// PublicKeysOnly reports whether every group_by column of the output has a
// public list, so that the released keys are their cross product and no key
// comes from the data. Otherwise the output selects its partitions with DP
// partition selection (k as pre-threshold), and public lists given for some
// of its columns only restrict those columns' values.
func (o *Output) PublicKeysOnly() bool {
	if len(o.GroupBy) == 0 {
		return false
	}
	for _, g := range o.GroupBy {
		if _, ok := o.PublicPartitions[g]; !ok {
			return false
		}
	}
	return true
}

// isDerived reports whether name is a derived column of the job. Derived
// column names are matched exactly: they are the job's own names.
func (j *Job) isDerived(name string) bool {
	_, ok := j.Columns[name]
	return ok
}

// rawColumnRefs holds the input columns the job names outside group_by and
// metrics: the privacy unit, the consent column and derived sources that are
// not themselves derived. A derived column may not take one of these names.
func (j *Job) rawColumnRefs() nameSet {
	s := nameSet{}
	if j.PrivacyUnit != "" && j.PrivacyUnit != RowUnit {
		s.add(j.PrivacyUnit)
	}
	if j.Consent.Column != "" {
		s.add(j.Consent.Column)
	}
	for _, c := range j.Columns {
		if c.From != "" && !j.isDerived(c.From) { // chaining is reported on its own
			s.add(c.From)
		}
	}
	return s
}

// OutputNames are the names of the job's outputs, in order.
func (j *Job) OutputNames() []string {
	out := make([]string, len(j.Outputs))
	for i, o := range j.Outputs {
		out[i] = o.Name
	}
	return out
}

// ColumnRole is what a job uses an input column for.
type ColumnRole int

// The roles of an input column.
const (
	RoleUnit    ColumnRole = iota // privacy_unit
	RoleConsent                   // consent.column
	RoleSource                    // the source of a derived column
	RoleKey                       // a group_by column that is not derived
	RoleMeasure                   // a metric's column
)

// ColumnUse is one place where the job names an input column.
type ColumnUse struct {
	Key    string // config path, e.g. "outputs[0].group_by[1]"
	Column string
	Role   ColumnRole
}

// ColumnUses lists every place the job names an input column, in file
// order: the same columns as InputColumns, each with its key path, so that
// a check of the input can say where a missing column is used.
func (j *Job) ColumnUses() []ColumnUse {
	ids := newNameSet(j.Identifiers)
	var uses []ColumnUse
	add := func(key, c string, role ColumnRole) {
		if c != "" && !ids.has(c) {
			uses = append(uses, ColumnUse{Key: key, Column: c, Role: role})
		}
	}
	if j.PrivacyUnit != RowUnit {
		add("privacy_unit", j.PrivacyUnit, RoleUnit)
	}
	add("consent.column", j.Consent.Column, RoleConsent)
	for _, name := range sortedKeys(j.Columns) {
		add("columns."+name+".from", j.Columns[name].From, RoleSource)
	}
	for o, out := range j.Outputs {
		for g, c := range out.GroupBy {
			if !j.isDerived(c) {
				add(fmt.Sprintf("outputs[%d].group_by[%d]", o, g), c, RoleKey)
			}
		}
		for m, met := range out.Metrics {
			add(fmt.Sprintf("outputs[%d].metrics[%d].column", o, m), met.Column, RoleMeasure)
		}
	}
	return uses
}

// ClosestName returns the candidate closest to name (compared without
// case) within an edit distance of 2, or "" when none is that close: the
// "did you mean" of a misspelt column. A tie goes to the longer common
// prefix ("okay" suggests "ok" before "day"), then to the earlier candidate.
func ClosestName(name string, candidates []string) string {
	name = strings.ToLower(name)
	const maxDist = 2
	best, bestDist, bestPrefix := "", maxDist+1, 0
	for _, c := range candidates {
		lc := strings.ToLower(c)
		d, p := editDistance(name, lc), commonPrefix(name, lc)
		if d <= maxDist && (d < bestDist || (d == bestDist && p > bestPrefix)) {
			best, bestDist, bestPrefix = c, d, p
		}
	}
	return best
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
