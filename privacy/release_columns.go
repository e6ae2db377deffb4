package privacy

import (
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/google/differential-privacy/go/v3/noise"
)

// outputColumns collects the released rows of one output before they become
// an Arrow table: keys, and every metric column as its kind declares it.
type outputColumns struct {
	keys  [][]string // [key column][row]
	nulls [][]bool
	kinds []Metric         // [metric] its kind, looked up once per output
	cols  []releasedColumn // metric columns in table order
	first []int            // [metric] index in cols of its first column
	cells []Cell           // scratch: one per column
	// scratch holds one metric's noised parts of the current row; pending,
	// for the metrics with stream parts (streamed), the parts of every
	// released row until the streams are read, len(Components) per row.
	scratch  [][]Noisy
	streamed []bool
	pending  [][]Noisy
	// bias is, per metric, the correction for what bounding removed (nil
	// where there is none; bounds_estimate.go).
	bias []*Bias
}

type releasedColumn struct {
	Column
	ints []int64
	flts []float64
}

func newOutputColumns(op *OutputPlan) *outputColumns {
	c := &outputColumns{
		keys:     make([][]string, len(op.Spec.GroupBy)),
		nulls:    make([][]bool, len(op.Spec.GroupBy)),
		scratch:  make([][]Noisy, len(op.Metrics)),
		streamed: make([]bool, len(op.Metrics)),
		pending:  make([][]Noisy, len(op.Metrics)),
	}
	for i := range op.Metrics {
		mp := &op.Metrics[i]
		c.kinds = append(c.kinds, mp.Metric())
		c.first = append(c.first, len(c.cols))
		for _, col := range c.kinds[i].Columns(mp.Spec) {
			c.cols = append(c.cols, releasedColumn{Column: col})
		}
		c.scratch[i] = make([]Noisy, len(mp.Components))
		for _, comp := range mp.Components {
			c.streamed[i] = c.streamed[i] || comp.Stat.Stream()
		}
	}
	c.cells = make([]Cell, len(c.cols))
	return c
}

// newOutputColumns returns op's columns with the corrections its estimates
// found (bounds_estimate.go): the same for the values this package noises
// and those an external engine noised (AddNoisedOutput).
func (r *Releaser) newOutputColumns(op *OutputPlan) (*outputColumns, error) {
	cols := newOutputColumns(op)
	if st := r.estimates[op.Spec.Name]; st != nil {
		cols.bias = st.bias
	} else if op.Spec.HasAuto() {
		return nil, errors.New("its auto bounds were not estimated (EstimatePartitions, EstimateValues)")
	}
	return cols, nil
}

// rows is the number of released rows so far.
func (c *outputColumns) rows() int {
	if len(c.keys) == 0 {
		return 0
	}
	return len(c.keys[0])
}

func (c *outputColumns) addKey(k keyTuple) {
	for i := range k {
		c.keys[i] = append(c.keys[i], k[i].v)
		c.nulls[i] = append(c.nulls[i], k[i].null)
	}
}

// key fills k with the key of released row pos and returns it.
func (c *outputColumns) key(pos int, k keyTuple) keyTuple {
	for i := range c.keys {
		k[i] = keyValue{v: c.keys[i][pos], null: c.nulls[i][pos]}
	}
	return k
}

// release appends metric i's released values of one row, from its noised
// parts.
func (c *outputColumns) release(i int, mp *MetricPlan, nz noise.Noise, parts []Noisy) error {
	lo := c.first[i]
	hi := len(c.cols)
	if i+1 < len(c.first) {
		hi = c.first[i+1]
	}
	out := c.cells[lo:hi]
	clear(out)
	if err := c.kinds[i].release(mp.Spec, Noised{mp: mp, nz: nz, parts: parts}, out); err != nil {
		return fmt.Errorf("metric %q: %w", mp.Spec.Name, err)
	}
	if c.bias != nil {
		c.bias[i].correct(out, c.cols[lo].Int)
	}
	for j, cell := range out {
		col := &c.cols[lo+j]
		if col.Int {
			col.ints = append(col.ints, cell.Int)
		} else {
			col.flts = append(col.flts, cell.Float)
		}
	}
	return nil
}

func (r *Releaser) buildTable(op *OutputPlan, cols *outputColumns) (*Table, error) {
	var fields []arrow.Field
	for _, g := range op.Spec.GroupBy {
		fields = append(fields, arrow.Field{Name: g, Type: arrow.BinaryTypes.String, Nullable: true})
	}
	for _, c := range cols.cols {
		var typ arrow.DataType = arrow.PrimitiveTypes.Float64
		if c.Int {
			typ = arrow.PrimitiveTypes.Int64
		}
		fields = append(fields, arrow.Field{Name: c.Name, Type: typ})
	}
	var infos []MetricInfo
	for i := range op.Metrics {
		mp := &op.Metrics[i]
		infos = append(infos, MetricInfo{
			Name: mp.Spec.Name, Kind: mp.Spec.Kind, Columns: mp.Columns,
			Epsilon: mp.Share.Epsilon, Delta: mp.Share.Delta,
			Mechanism: string(r.plan.Spec.Noise), L0: op.Spec.MaxPartitionsPerUnit,
			LInf: mp.Components[0].LInf, StdDev: mp.Error().StdDev,
		})
		if cols.bias != nil && cols.bias[i] != nil {
			b := *cols.bias[i]
			infos[i].Bias = &b
		}
	}
	schema := arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(r.alloc, schema)
	defer b.Release()
	for k := range op.Spec.GroupBy {
		sb := b.Field(k).(*array.StringBuilder)
		sb.Reserve(len(cols.keys[k]))
		for row, v := range cols.keys[k] {
			if cols.nulls[k][row] {
				sb.AppendNull()
			} else {
				sb.Append(v)
			}
		}
	}
	for j, c := range cols.cols {
		switch fb := b.Field(len(op.Spec.GroupBy) + j).(type) {
		case *array.Int64Builder:
			fb.AppendValues(c.ints, nil)
		case *array.Float64Builder:
			fb.AppendValues(c.flts, nil)
		}
	}
	rec := b.NewRecordBatch()
	t := &Table{name: op.Spec.Name, record: rec, metrics: infos, groupBy: op.Spec.GroupBy, bounds: r.Bounds(op.Spec.Name)}
	if op.Selection != nil {
		t.k = op.Selection.K
	}
	return t, nil
}
