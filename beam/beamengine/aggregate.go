package beamengine

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/google/differential-privacy/privacy-on-beam/v3/pbeam"

	"github.com/privagg/privagg/privacy"
)

// outSpec selects and keys the rows of one output. Serialized into DoFns.
type outSpec struct {
	KeyIdx []int            // eventSpec.Keys index of each group-by column
	Public map[int][]string // group-by position -> public values (restricts rows, as in the embedded engine)
	Values []int            // eventSpec.Measures index per metric, -1 for count and count_units
	public map[int]map[string]bool
}

// partKey encodes a partition key (nullable strings) as a JSON array.
func partKey(keys []string, null []bool) string {
	k := make([]*string, len(keys))
	for i := range keys {
		if !null[i] {
			k[i] = &keys[i]
		}
	}
	b, _ := json.Marshal(k)
	return string(b)
}

func decodePartKey(s string) ([]string, []bool, error) {
	var k []*string
	if err := json.Unmarshal([]byte(s), &k); err != nil {
		return nil, nil, err
	}
	keys, null := make([]string, len(k)), make([]bool, len(k))
	for i, v := range k {
		if v == nil {
			null[i] = true
		} else {
			keys[i] = *v
		}
	}
	return keys, null, nil
}

// orow is one clean row of an output: its unit, partition and metric values.
type orow struct {
	Unit string
	Part string
	Vals []float64 // per metric; meaningful where OK
	OK   []bool
}

// outputRowsFn keeps the consented, well-formed events inside the public
// lists and keys them by partition.
type outputRowsFn struct {
	Out outSpec
}

func (f *outputRowsFn) Setup() {
	f.Out.public = map[int]map[string]bool{}
	for g, vals := range f.Out.Public {
		set := map[string]bool{}
		for _, v := range vals {
			set[v] = true
		}
		f.Out.public[g] = set
	}
}

func (f *outputRowsFn) ProcessElement(ev event, emit func(orow)) {
	if ev.Status != statusOK {
		return
	}
	keys, null := make([]string, len(f.Out.KeyIdx)), make([]bool, len(f.Out.KeyIdx))
	for g, k := range f.Out.KeyIdx {
		keys[g], null[g] = ev.Keys[k], ev.KeyNull[k]
		if set, ok := f.Out.public[g]; ok && (null[g] || !set[keys[g]]) {
			return
		}
	}
	r := orow{Unit: ev.Unit, Part: partKey(keys, null), Vals: make([]float64, len(f.Out.Values)), OK: make([]bool, len(f.Out.Values))}
	for i, j := range f.Out.Values {
		if j >= 0 {
			r.Vals[i], r.OK[i] = ev.Vals[j], ev.ValOK[j]
		}
	}
	emit(r)
}

// pv is a partition and a value, the payload of a private collection.
type pv struct {
	Part string
	V    float64
}

func unitPart(r orow) (string, string) { return r.Unit, r.Part }

// metricValueFn emits (unit, (partition, value)) for the rows of metric I
// that have a value.
type metricValueFn struct{ I int }

func (f *metricValueFn) ProcessElement(r orow, emit func(string, pv)) {
	if r.OK[f.I] {
		emit(r.Unit, pv{Part: r.Part, V: r.Vals[f.I]})
	}
}

// unitTotalFn emits (unit \x00 partition, value) to total a unit's values per
// partition.
type unitTotalFn struct{ I int }

func (f *unitTotalFn) ProcessElement(r orow, emit func(string, float64)) {
	if r.OK[f.I] {
		emit(r.Unit+"\x00"+r.Part, r.Vals[f.I])
	}
}

func sumFloat(a, b float64) float64 { return a + b }

// totalFn turns a unit's partition total into the statistic a mean,
// variance or quantile metric needs: the total clamped to [Min, Max], minus
// Mid when Shift, squared when Square.
type totalFn struct {
	Min, Max, Mid float64
	Shift, Square bool
}

func (f *totalFn) ProcessElement(unitPart string, total float64, emit func(string, pv)) {
	unit, part := splitUnitPart(unitPart)
	v := math.Min(math.Max(total, f.Min), f.Max)
	if f.Shift {
		v -= f.Mid
	}
	if f.Square {
		v *= v
	}
	emit(unit, pv{Part: part, V: v})
}

func splitUnitPart(s string) (string, string) {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

func pvPart(v pv) string          { return v.Part }
func pvKV(v pv) (string, float64) { return v.Part, v.V }

// resultLine is one noised statistic, as written to the results file.
type resultLine struct {
	Output int       `json:"o"`
	Metric int       `json:"m"`
	Stat   string    `json:"s"`
	Part   string    `json:"k"`
	Int    int64     `json:"i,omitempty"`
	Float  float64   `json:"f,omitempty"`
	Floats []float64 `json:"q,omitempty"`
}

type fmtIntFn struct {
	Output, Metric int
	Stat           string
}

func (f *fmtIntFn) ProcessElement(part string, v int64) (string, error) {
	b, err := json.Marshal(resultLine{Output: f.Output, Metric: f.Metric, Stat: f.Stat, Part: part, Int: v})
	return string(b), err
}

type fmtFloatFn struct {
	Output, Metric int
	Stat           string
}

func (f *fmtFloatFn) ProcessElement(part string, v float64) (string, error) {
	b, err := json.Marshal(resultLine{Output: f.Output, Metric: f.Metric, Stat: f.Stat, Part: part, Float: v})
	return string(b), err
}

type fmtFloatsFn struct {
	Output, Metric int
	Stat           string
}

func (f *fmtFloatsFn) ProcessElement(part string, v []float64) (string, error) {
	b, err := json.Marshal(resultLine{Output: f.Output, Metric: f.Metric, Stat: f.Stat, Part: part, Floats: v})
	return string(b), err
}

// baseSpecParams is the PrivacySpec every engine starts from (New copies
// it): pbeam's defaults, noise on. Nothing in this package changes it; only
// the package's _test.go files swap in pbeam's noiseless test mode.
var baseSpecParams = pbeam.PrivacySpecParams{}

// buildOutput adds output o's DP aggregations to the pipeline and returns
// its result lines. The output's PrivacySpec holds exactly the plan's
// budget for the output: partition selection gets op.Selection's share and
// the aggregations the rest, each aggregation its component's share, so
// pbeam's own accounting refuses to spend more than the plan.
func buildOutput(s beam.Scope, o int, op *privacy.OutputPlan, out outSpec, events beam.PCollection, noiseKind pbeam.NoiseKind, params pbeam.PrivacySpecParams) (beam.PCollection, error) {
	s = s.Scope(fmt.Sprintf("output.%s", op.Spec.Name))
	for _, mp := range op.Metrics {
		for _, c := range mp.Components {
			params.AggregationEpsilon += c.Share.Epsilon
			params.AggregationDelta += c.Share.Delta
		}
	}
	if op.Selection != nil {
		params.PartitionSelectionEpsilon = op.Selection.Share.Epsilon
		params.PartitionSelectionDelta = op.Selection.Share.Delta
		params.PreThreshold = op.Selection.K
	}
	spec, err := pbeam.NewPrivacySpec(params)
	if err != nil {
		return beam.PCollection{}, fmt.Errorf("output %q: privacy spec: %w", op.Spec.Name, err)
	}
	l0 := op.Spec.MaxPartitionsPerUnit

	rows := beam.ParDo(s, &outputRowsFn{Out: out}, events)
	pairs := beam.ParDo(s, unitPart, rows) // KV<unit, partition>, one per row

	// Partitions: the public cross product, or one DP selection with k as
	// pre-threshold whose result every metric then uses as its public list.
	var partitions any
	if op.Selection == nil {
		partitions = out.publicKeys()
	} else {
		selected := pbeam.SelectPartitions(s, pbeam.MakePrivate(s, pairs, spec), pbeam.PartitionSelectionParams{
			Epsilon: op.Selection.Share.Epsilon, Delta: op.Selection.Share.Delta, MaxPartitionsContributed: l0,
		})
		partitions = selected
	}

	var lines []beam.PCollection
	fmtInt := func(m int, stat string, col beam.PCollection) {
		lines = append(lines, beam.ParDo(s, &fmtIntFn{Output: o, Metric: m, Stat: stat}, col))
	}
	fmtFloat := func(m int, stat string, col beam.PCollection) {
		lines = append(lines, beam.ParDo(s, &fmtFloatFn{Output: o, Metric: m, Stat: stat}, col))
	}
	// totals are the clamped per-unit partition totals of metric i,
	// transformed by fn, as a private collection of (partition, value).
	totals := func(i int, fn *totalFn) pbeam.PrivatePCollection {
		t := beam.CombinePerKey(s, sumFloat, beam.ParDo(s, &unitTotalFn{I: i}, rows))
		return pbeam.MakePrivate(s, beam.ParDo(s, fn, t), spec)
	}
	for i, mp := range op.Metrics {
		ms := mp.Spec
		mid := ms.Min + (ms.Max-ms.Min)/2
		switch ms.Kind {
		case privacy.Count:
			c := mp.Components[0]
			fmtInt(i, privacy.StatN, pbeam.Count(s, pbeam.MakePrivate(s, pairs, spec), pbeam.CountParams{
				NoiseKind: noiseKind, AggregationEpsilon: c.Share.Epsilon, AggregationDelta: c.Share.Delta,
				PublicPartitions: partitions, MaxPartitionsContributed: l0, MaxValue: ms.MaxPerUnit,
			}))
		case privacy.CountUnits:
			c := mp.Components[0]
			fmtInt(i, privacy.StatN, pbeam.DistinctPrivacyID(s, pbeam.MakePrivate(s, pairs, spec), pbeam.DistinctPrivacyIDParams{
				NoiseKind: noiseKind, AggregationEpsilon: c.Share.Epsilon, AggregationDelta: c.Share.Delta,
				PublicPartitions: partitions, MaxPartitionsContributed: l0,
			}))
		case privacy.Sum:
			c := mp.Components[0]
			vals := pbeam.ParDo(s, pvKV, pbeam.MakePrivate(s, beam.ParDo(s, &metricValueFn{I: i}, rows), spec))
			fmtFloat(i, privacy.StatSum, pbeam.SumPerKey(s, vals, pbeam.SumParams{
				NoiseKind: noiseKind, AggregationEpsilon: c.Share.Epsilon, AggregationDelta: c.Share.Delta,
				PublicPartitions: partitions, MaxPartitionsContributed: l0, MinValue: ms.Min, MaxValue: ms.Max,
			}))
		case privacy.Mean, privacy.Variance:
			// dpagg.BoundedMean / BoundedVariance's own decomposition, built
			// from pbeam aggregations so that the noisy parts (and so the
			// confidence interval) are known: people with a value, and sums
			// of the clamped totals minus the midpoint (and squared).
			half := (ms.Max - ms.Min) / 2
			cn, cs := mp.Components[0], mp.Components[1]
			shifted := totals(i, &totalFn{Min: ms.Min, Max: ms.Max, Mid: mid, Shift: true})
			fmtInt(i, privacy.StatN, pbeam.Count(s, pbeam.ParDo(s, pvPart, shifted), pbeam.CountParams{
				NoiseKind: noiseKind, AggregationEpsilon: cn.Share.Epsilon, AggregationDelta: cn.Share.Delta,
				PublicPartitions: partitions, MaxPartitionsContributed: l0, MaxValue: 1, AllowNegativeOutputs: true,
			}))
			fmtFloat(i, privacy.StatSum, pbeam.SumPerKey(s, pbeam.ParDo(s, pvKV, shifted), pbeam.SumParams{
				NoiseKind: noiseKind, AggregationEpsilon: cs.Share.Epsilon, AggregationDelta: cs.Share.Delta,
				PublicPartitions: partitions, MaxPartitionsContributed: l0, MinValue: -half, MaxValue: half,
			}))
			if ms.Kind == privacy.Variance {
				cq := mp.Components[2]
				sq := totals(i, &totalFn{Min: ms.Min, Max: ms.Max, Mid: mid, Shift: true, Square: true})
				fmtFloat(i, privacy.StatSumSq, pbeam.SumPerKey(s, pbeam.ParDo(s, pvKV, sq), pbeam.SumParams{
					NoiseKind: noiseKind, AggregationEpsilon: cq.Share.Epsilon, AggregationDelta: cq.Share.Delta,
					PublicPartitions: partitions, MaxPartitionsContributed: l0, MinValue: 0, MaxValue: half * half,
				}))
			}
		case privacy.Quantiles:
			c := mp.Components[0]
			vals := totals(i, &totalFn{Min: ms.Min, Max: ms.Max})
			q := pbeam.QuantilesPerKey(s, pbeam.ParDo(s, pvKV, vals), pbeam.QuantilesParams{
				NoiseKind: noiseKind, AggregationEpsilon: c.Share.Epsilon, AggregationDelta: c.Share.Delta,
				PublicPartitions: partitions, MaxPartitionsContributed: l0, MaxContributionsPerPartition: 1,
				MinValue: ms.Min, MaxValue: ms.Max, Ranks: ms.Ranks,
			})
			lines = append(lines, beam.ParDo(s, &fmtFloatsFn{Output: o, Metric: i, Stat: privacy.StatValue}, q))
		default:
			return beam.PCollection{}, fmt.Errorf("output %q: metric %q: type %q is not supported", op.Spec.Name, ms.Name, ms.Kind)
		}
	}
	return beam.Flatten(s, lines...), nil
}
