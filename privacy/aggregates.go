package privacy

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// aggBinding locates the columns of an aggregate batch, once per output.
type aggBinding struct {
	keyIdx []int
	units  int
	need   []int // [StatLayout need] -> column index; -1 for streams
}

func bindAggregates(s *arrow.Schema, op *OutputPlan) (*aggBinding, error) {
	b := &aggBinding{need: make([]int, len(op.Layout.Needs))}
	var err error
	if b.keyIdx, err = fieldIndexes(s, op.Spec.GroupBy); err != nil {
		return nil, err
	}
	u, err := typedField(s, UnitsColumn, arrow.INT64)
	if err != nil {
		return nil, err
	}
	b.units = u
	for k, n := range op.Layout.Needs {
		b.need[k] = -1
		if n.Stat.Stream() {
			continue
		}
		typ := arrow.FLOAT64
		if n.Stat.Integer() {
			typ = arrow.INT64
		}
		if b.need[k], err = typedField(s, op.Layout.Column(k), typ); err != nil {
			return nil, fmt.Errorf("statistic %s: %w", n.Stat, err)
		}
	}
	return b, nil
}

func fieldIndexes(s *arrow.Schema, names []string) ([]int, error) {
	out := make([]int, len(names))
	for i, n := range names {
		idx := s.FieldIndices(n)
		if len(idx) != 1 {
			return nil, fmt.Errorf("aggregates: column %q: want exactly one, found %d", n, len(idx))
		}
		out[i] = idx[0]
	}
	return out, nil
}

func typedField(s *arrow.Schema, name string, t arrow.Type) (int, error) {
	idx, err := fieldIndexes(s, []string{name})
	if err != nil {
		return 0, err
	}
	if got := s.Field(idx[0]).Type.ID(); got != t {
		return 0, fmt.Errorf("aggregates: column %q has type %s, want %s", name, got, t)
	}
	return idx[0], nil
}

// stringColumn is the part of Arrow's string arrays a key needs.
type stringColumn interface {
	IsNull(i int) bool
	Value(i int) string
}

func keyColumns(rec arrow.RecordBatch, idx []int) ([]stringColumn, error) {
	out := make([]stringColumn, len(idx))
	for i, c := range idx {
		switch col := rec.Column(c).(type) {
		case *array.String:
			out[i] = col
		case *array.LargeString:
			out[i] = col
		case *array.StringView:
			out[i] = col
		default:
			return nil, fmt.Errorf("aggregates: key column %q has type %s, want a string type",
				rec.ColumnName(c), rec.Column(c).DataType())
		}
	}
	return out, nil
}

type keyValue struct {
	v    string
	null bool
}

// keyTuple is one partition key. Keys order like DuckDB's
// ORDER BY ... ASC NULLS LAST with the default binary collation.
type keyTuple []keyValue

// batchKeys holds the key values of one batch outside the batch's Arrow
// buffers (which are reused once the batch is released): per key column,
// every value concatenated into one string, so a row's value is a substring
// and reading keys allocates per batch, not per row.
type batchKeys struct {
	cols []stringColumn
	text []string // per column: the values of all rows, concatenated
	off  [][]int  // per column: row i is text[off[i]:off[i+1]]
}

func newBatchKeys(cols []stringColumn, rows int) batchKeys {
	b := batchKeys{cols: cols, text: make([]string, len(cols)), off: make([][]int, len(cols))}
	var sb strings.Builder
	for c, col := range cols {
		n := 0
		for row := range rows {
			if !col.IsNull(row) {
				n += len(col.Value(row))
			}
		}
		sb.Reset()
		sb.Grow(n)
		off := make([]int, rows+1)
		for row := range rows {
			if !col.IsNull(row) {
				sb.WriteString(col.Value(row))
			}
			off[row+1] = sb.Len()
		}
		b.text[c], b.off[c] = sb.String(), off
	}
	return b
}

// at fills k (of length len(cols)) with the key of row.
func (b *batchKeys) at(row int, k keyTuple) {
	for c, col := range b.cols {
		if col.IsNull(row) {
			k[c] = keyValue{null: true}
		} else {
			k[c] = keyValue{v: b.text[c][b.off[c][row]:b.off[c][row+1]]}
		}
	}
}

func compareKeys(a, b keyTuple) int {
	for i := range a {
		switch {
		case a[i].null && b[i].null:
			continue
		case a[i].null:
			return 1
		case b[i].null:
			return -1
		case a[i].v < b[i].v:
			return -1
		case a[i].v > b[i].v:
			return 1
		}
	}
	return 0
}

// int64At reads a statistic; NULL (a partition without values) reads as 0.
func int64At(rec arrow.RecordBatch, col, row int) (int64, error) {
	a, ok := rec.Column(col).(*array.Int64)
	if !ok {
		return 0, fmt.Errorf("aggregates: column %q is not BIGINT", rec.ColumnName(col))
	}
	if a.IsNull(row) {
		return 0, nil
	}
	return a.Value(row), nil
}

// float64At reads a statistic; NULL (a partition without values) reads as 0.
func float64At(rec arrow.RecordBatch, col, row int) (float64, error) {
	v, _, err := nullableFloat64At(rec, col, row)
	return v, err
}

func nullableFloat64At(rec arrow.RecordBatch, col, row int) (float64, bool, error) {
	a, ok := rec.Column(col).(*array.Float64)
	if !ok {
		return 0, false, fmt.Errorf("aggregates: column %q is not DOUBLE", rec.ColumnName(col))
	}
	if a.IsNull(row) {
		return 0, true, nil
	}
	return a.Value(row), false, nil
}
