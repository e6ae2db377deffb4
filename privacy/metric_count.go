package privacy

// Count is the number of rows, each person counting at most max_per_unit
// rows per partition.
const Count MetricKind = "count"

func init() { register(countMetric{}) }

type countMetric struct{}

func (countMetric) Kind() MetricKind { return Count }

func (countMetric) Doc() string {
	return "number of rows, at most max_per_unit per person and partition"
}

func (countMetric) Fields() Fields { return Fields{MaxPerUnit: true} }

func (countMetric) Check(MetricSpec) []FieldProblem { return nil }

func (countMetric) Columns(ms MetricSpec) []Column { return valueAndCI(ms.Name, true) }

func (countMetric) Meaning(string, string) string {
	return "noisy number of rows (each person contributes at most max_per_unit rows per row of this table)"
}

func (countMetric) Parts(MetricSpec) []Part {
	return []Part{{Stat: RowCount, Weight: 1, Comment: "rows, at most max_per_unit per person and partition"}}
}

func (countMetric) Error(mp *MetricPlan) ErrorModel { return constantError(mp, "count") }

func (countMetric) release(_ MetricSpec, in Noised, out []Cell) error {
	return releaseCount(in, out)
}

// releaseCount releases a noisy count, clamped at 0 (post-processing), and
// the library's 95% half-width around the unclamped value.
func releaseCount(in Noised, out []Cell) error {
	half, err := in.HalfWidth(0)
	if err != nil {
		return err
	}
	out[0].Int, out[1].Float = max(in.Int(0), 0), half
	return nil
}
