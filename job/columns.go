package job

import "slices"

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
