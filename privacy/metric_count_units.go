package privacy

// CountUnits is the number of distinct people (privacy units).
const CountUnits MetricKind = "count_units"

func init() { register(countUnitsMetric{}) }

type countUnitsMetric struct{}

func (countUnitsMetric) Kind() MetricKind { return CountUnits }

func (countUnitsMetric) Doc() string { return "number of distinct people" }

func (countUnitsMetric) Fields() Fields { return Fields{} }

func (countUnitsMetric) Check(MetricSpec) []FieldProblem { return nil }

func (countUnitsMetric) Columns(ms MetricSpec) []Column { return valueAndCI(ms.Name, true) }

func (countUnitsMetric) Meaning(string, string) string { return "noisy number of distinct people" }

func (countUnitsMetric) Parts(MetricSpec) []Part {
	return []Part{{Stat: UnitCount, Weight: 1, Comment: "distinct people"}}
}

func (countUnitsMetric) Error(mp *MetricPlan) ErrorModel { return constantError(mp, "count") }

func (countUnitsMetric) release(_ MetricSpec, in Noised, out []Cell) error {
	return releaseCount(in, out)
}
