package privacy

import (
	"fmt"
	"math"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// makeConsistent applies every output's consistency (consistency.go) to the
// released tables, in place, before Finish returns them: units_le_rows by
// weighted least squares on each pair, then each rollup (weighted least
// squares, then integer counts), then units_le_rows again with the counts a
// rollup set pinned (only the people move down where the rollup lowered a
// count below them). Projecting the pairs first lets the people counts,
// usually the more precise, inform the counts the rollup then adds up. Both engines' tables pass
// here (ReleaseOutput and AddNoisedOutput), after their bias corrections.
func (r *Releaser) makeConsistent(tables []*Table) error {
	byName := map[string]*Table{}
	for _, t := range tables {
		byName[t.name] = t
	}
	pinned := map[string]map[int]bool{} // output -> metric index -> set by a rollup
	pin := func(name string, m int) {
		if pinned[name] == nil {
			pinned[name] = map[int]bool{}
		}
		pinned[name][m] = true
	}
	if err := r.unitsLeRows(byName, nil); err != nil {
		return err
	}
	for i := range r.plan.Outputs {
		child := &r.plan.Outputs[i]
		c := child.Spec.Consistency
		if c == nil || c.RollupOf == "" {
			continue
		}
		parent := r.output(c.RollupOf)
		ct, pt := byName[child.Spec.Name], byName[c.RollupOf]
		if parent == nil || ct == nil || pt == nil {
			return fmt.Errorf("consistency of %q: rollup_of %q: no such released output", child.Spec.Name, c.RollupOf)
		}
		pairs := rollupPairs(child.Spec, parent.Spec)
		if err := rollupTables(ct, pt, child, parent, pairs, r.alloc); err != nil {
			return fmt.Errorf("consistency of %q: rollup of %q: %w", child.Spec.Name, c.RollupOf, err)
		}
		for _, p := range pairs {
			pin(child.Spec.Name, p[0])
			pin(parent.Spec.Name, p[1])
		}
	}
	if len(pinned) == 0 {
		return nil
	}
	return r.unitsLeRows(byName, pinned)
}

// unitsLeRows applies units_le_rows to every output that asks for it;
// pinned are, per output, the metrics a rollup set.
func (r *Releaser) unitsLeRows(byName map[string]*Table, pinned map[string]map[int]bool) error {
	for i := range r.plan.Outputs {
		op := &r.plan.Outputs[i]
		if c := op.Spec.Consistency; c != nil && c.UnitsLeRows {
			if err := unitsLeRows(byName[op.Spec.Name], op, pinned[op.Spec.Name], r.alloc); err != nil {
				return fmt.Errorf("consistency of %q: units_le_rows: %w", op.Spec.Name, err)
			}
		}
	}
	return nil
}

// rollupTables makes each row of child the sum of the rows of parent with
// the same values of child's group_by, for every metric pair (child index,
// parent index).
func rollupTables(child, parent *Table, cop, pop *OutputPlan, pairs [][2]int, alloc memory.Allocator) error {
	groups, err := rollupGroups(child, parent)
	if err != nil {
		return err
	}
	var cms, pms []*metricCells
	for _, p := range pairs {
		cm, err := loadMetric(child, p[0])
		if err != nil {
			return err
		}
		pm, err := loadMetric(parent, p[1])
		if err != nil {
			return err
		}
		nonneg := nonNegative(cop.Spec.Metrics[p[0]]) && nonNegative(pop.Spec.Metrics[p[1]])
		for row, rows := range groups {
			if len(rows) == 0 {
				continue // no parent row holds this one's data: nothing to add up
			}
			parts := make([]*noisyValue, len(rows))
			for k, pr := range rows {
				parts[k] = &pm.cells[pr]
			}
			rollup(&cm.cells[row], parts, nonneg)
			if cm.integer {
				roundRollup(&cm.cells[row], parts)
			}
		}
		cms, pms = append(cms, cm), append(pms, pm)
	}
	note := fmt.Sprintf("%s rows are sums of %s rows (rollup_of, weighted least squares)", child.name, parent.name)
	if err := storeMetrics(child, cms, note, alloc); err != nil {
		return err
	}
	return storeMetrics(parent, pms, note, alloc)
}

// rollupGroups lists, per row of child, the rows of parent with the same
// values of child's key columns.
func rollupGroups(child, parent *Table) ([][]int, error) {
	ckeys, err := rowKeys(child, child.groupBy)
	if err != nil {
		return nil, err
	}
	pkeys, err := rowKeys(parent, child.groupBy)
	if err != nil {
		return nil, err
	}
	index := make(map[string]int, len(ckeys))
	for row, k := range ckeys {
		index[k] = row
	}
	groups := make([][]int, len(ckeys))
	for row, k := range pkeys {
		if c, ok := index[k]; ok {
			groups[c] = append(groups[c], row)
		}
	}
	return groups, nil
}

// rowKeys encodes, per row of t, the values of columns cols (NULL apart
// from every string).
func rowKeys(t *Table, cols []string) ([]string, error) {
	n := int(t.record.NumRows())
	b := make([]strings.Builder, n)
	for _, name := range cols {
		idx := t.record.Schema().FieldIndices(name)
		if len(idx) != 1 {
			return nil, fmt.Errorf("table %q has no key column %q", t.name, name)
		}
		col, ok := t.record.Column(idx[0]).(*array.String)
		if !ok {
			return nil, fmt.Errorf("table %q: key column %q is not a string", t.name, name)
		}
		for row := range n {
			if col.IsNull(row) {
				b[row].WriteString("\x01")
			} else {
				b[row].WriteString("\x02")
				b[row].WriteString(col.Value(row))
			}
			b[row].WriteByte(0)
		}
	}
	out := make([]string, n)
	for row := range b {
		out[row] = b[row].String()
	}
	return out, nil
}

// unitsLeRows makes every count_units metric of t at most every count
// metric, row by row. pinned are the metrics a rollup set.
func unitsLeRows(t *Table, op *OutputPlan, pinned map[int]bool, alloc memory.Allocator) error {
	var units, rows []*metricCells
	for i, ms := range op.Spec.Metrics {
		if ms.Kind != CountUnits && ms.Kind != Count {
			continue
		}
		m, err := loadMetric(t, i)
		if err != nil {
			return err
		}
		if ms.Kind == CountUnits {
			units = append(units, m)
		} else {
			rows = append(rows, m)
		}
	}
	for row := range int(t.record.NumRows()) {
		for _, u := range units {
			for _, c := range rows {
				atMost(&u.cells[row], &c.cells[row], pinned[c.metric], true)
			}
		}
	}
	return storeMetrics(t, append(units, rows...), "units_le_rows: distinct people at most rows in every row", alloc)
}

// metricCells are one metric's released values in a table, as estimates.
type metricCells struct {
	metric         int // index in the table's metrics
	value, halfCol int // record columns
	integer        bool
	cells          []noisyValue
}

// loadMetric reads metric m of t: its value and _ci95 columns, the noise
// deviation of its values (the plan's, scaled by a bias correction; where
// it differs by row, the noise half-width over 1.96) and the bias margin
// of its half-widths.
func loadMetric(t *Table, m int) (*metricCells, error) {
	info := t.metrics[m]
	if len(info.Columns) < 2 {
		return nil, fmt.Errorf("metric %q has no interval column", info.Name)
	}
	schema := t.record.Schema()
	vi, hi := schema.FieldIndices(info.Columns[0]), schema.FieldIndices(info.Columns[1])
	if len(vi) != 1 || len(hi) != 1 {
		return nil, fmt.Errorf("metric %q: columns %v are not in table %q", info.Name, info.Columns[:2], t.name)
	}
	halves, ok := t.record.Column(hi[0]).(*array.Float64)
	if !ok {
		return nil, fmt.Errorf("metric %q: column %q is not a double", info.Name, info.Columns[1])
	}
	mc := &metricCells{metric: m, value: vi[0], halfCol: hi[0]}
	var value func(int) float64
	switch c := t.record.Column(vi[0]).(type) {
	case *array.Int64:
		mc.integer = true
		value = func(row int) float64 { return float64(c.Value(row)) }
	case *array.Float64:
		value = c.Value
	default:
		return nil, fmt.Errorf("metric %q: column %q is %s, want int64 or float64", info.Name, info.Columns[0], c.DataType())
	}
	scale, margin := 1.0, 0.0
	if b := info.Bias; b != nil && b.Corrected {
		scale, margin = 1/(1-b.DroppedShare), b.Margin
	}
	n := int(t.record.NumRows())
	mc.cells = make([]noisyValue, n)
	for row := range n {
		e := noisyValue{v: value(row)}
		e.biasHalf = math.Abs(e.v) * margin
		e.noiseHalf = math.Max(halves.Value(row)-e.biasHalf, 0)
		e.sd = info.StdDev * scale
		if e.sd <= 0 {
			e.sd = e.noiseHalf / 1.96
		}
		mc.cells[row] = e
	}
	return mc, nil
}

// storeMetrics writes ms back into t (a new record) and notes on each
// metric which consistency made its values.
func storeMetrics(t *Table, ms []*metricCells, note string, alloc memory.Allocator) error {
	if len(ms) == 0 {
		return nil
	}
	rec := t.record
	cols := make([]arrow.Array, rec.NumCols())
	for i := range cols {
		cols[i] = rec.Column(i)
		cols[i].Retain()
	}
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for _, m := range ms {
		vals, halves := make([]float64, len(m.cells)), make([]float64, len(m.cells))
		for row := range m.cells {
			vals[row], halves[row] = m.cells[row].v, m.cells[row].half()
		}
		if m.integer {
			ints := make([]int64, len(vals))
			for row, v := range vals {
				ints[row] = int64(math.Round(v))
			}
			b := array.NewInt64Builder(alloc)
			b.AppendValues(ints, nil)
			replace(cols, m.value, b.NewArray())
			b.Release()
		} else {
			b := array.NewFloat64Builder(alloc)
			b.AppendValues(vals, nil)
			replace(cols, m.value, b.NewArray())
			b.Release()
		}
		b := array.NewFloat64Builder(alloc)
		b.AppendValues(halves, nil)
		replace(cols, m.halfCol, b.NewArray())
		b.Release()
		info := &t.metrics[m.metric]
		if !strings.Contains(info.Consistency, note) {
			info.Consistency = strings.TrimPrefix(info.Consistency+"; "+note, "; ")
		}
	}
	t.record = array.NewRecordBatch(rec.Schema(), cols, rec.NumRows())
	rec.Release()
	return nil
}
