package beamengine

import (
	"encoding/json"
	"fmt"

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

// unitTotalFn emits (unit \x00 partition, value) to total a unit's values per
// partition.
type unitTotalFn struct{ I int }

func (f *unitTotalFn) ProcessElement(r orow, emit func(string, float64)) {
	if r.OK[f.I] {
		emit(r.Unit+"\x00"+r.Part, r.Vals[f.I])
	}
}

func sumFloat(a, b float64) float64 { return a + b }

// perPersonFn turns a unit's partition total into its contribution to a
// statistic, as privacy.Statistic.PerPerson defines it (e.g. the total
// clamped to [min, max], minus the midpoint, squared).
type perPersonFn struct {
	Need privacy.StatNeed
}

func (f *perPersonFn) ProcessElement(unitPart string, total float64, emit func(string, pv)) {
	unit, part := splitUnitPart(unitPart)
	if v, ok := f.Need.Stat.PerPerson(f.Need, 0, total, true); ok {
		emit(unit, pv{Part: part, V: v})
	}
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

// resultLine is one noised statistic (part Part of metric Metric of output
// Output), as written to the results file.
type resultLine struct {
	Output int       `json:"o"`
	Metric int       `json:"m"`
	Part   int       `json:"p"`
	Key    string    `json:"k"`
	Int    int64     `json:"i,omitempty"`
	Float  float64   `json:"f,omitempty"`
	Floats []float64 `json:"q,omitempty"`
}

type fmtIntFn struct {
	Output, Metric, Part int
}

func (f *fmtIntFn) ProcessElement(part string, v int64) (string, error) {
	b, err := json.Marshal(resultLine{Output: f.Output, Metric: f.Metric, Part: f.Part, Key: part, Int: v})
	return string(b), err
}

type fmtFloatFn struct {
	Output, Metric, Part int
}

func (f *fmtFloatFn) ProcessElement(part string, v float64) (string, error) {
	b, err := json.Marshal(resultLine{Output: f.Output, Metric: f.Metric, Part: f.Part, Key: part, Float: v})
	return string(b), err
}

type fmtFloatsFn struct {
	Output, Metric, Part int
}

func (f *fmtFloatsFn) ProcessElement(part string, v []float64) (string, error) {
	b, err := json.Marshal(resultLine{Output: f.Output, Metric: f.Metric, Part: f.Part, Key: part, Floats: v})
	return string(b), err
}

// baseSpecParams is the PrivacySpec every engine starts from (New copies
// it): pbeam's defaults, noise on. Nothing in this package changes it; only
// the package's _test.go files swap in pbeam's noiseless test mode.
var baseSpecParams = pbeam.PrivacySpecParams{}

// buildOutput adds output o's DP aggregations to the pipeline and returns
// its result lines. The output's PrivacySpec holds exactly the plan's
// budget for the output: partition selection gets op.Selection's share and
// the aggregations the rest, each aggregation the (ε, δ) its component's
// noise is drawn with (Component.NoiseShare), so pbeam's own accounting
// refuses to spend more than the plan. With Gaussian noise those are the
// parameters of the job's Gaussian composition (privacy/compose.go), whose
// sum pbeam's additive accounting counts; the ledger charges the
// composition's (ε, δ).
//
// With est (an output with bound estimates), it also returns the lines of
// the output's exact DroppedSums over its released partitions (bounds.go);
// otherwise dropped is not valid.
func buildOutput(s beam.Scope, o int, op *privacy.OutputPlan, out outSpec, events beam.PCollection, noiseKind pbeam.NoiseKind, params pbeam.PrivacySpecParams, est *estSpec) (results, dropped beam.PCollection, err error) {
	s = s.Scope(fmt.Sprintf("output.%s", op.Spec.Name))
	for _, mp := range op.Metrics {
		for _, c := range mp.Components {
			ns := c.NoiseShare()
			params.AggregationEpsilon += ns.Epsilon
			params.AggregationDelta += ns.Delta
		}
	}
	if op.Selection != nil {
		params.PartitionSelectionEpsilon = op.Selection.Share.Epsilon
		params.PartitionSelectionDelta = op.Selection.Share.Delta
		params.PreThreshold = op.Selection.K
	}
	spec, err := pbeam.NewPrivacySpec(params)
	if err != nil {
		return beam.PCollection{}, beam.PCollection{}, fmt.Errorf("output %q: privacy spec: %w", op.Spec.Name, err)
	}
	l0 := op.Spec.MaxPartitionsPerUnit

	rows := beam.ParDo(s, &outputRowsFn{Out: out}, events)
	pairs := beam.ParDo(s, unitPart, rows) // KV<unit, partition>, one per row

	// Partitions: the public cross product, or one DP selection with k as
	// pre-threshold whose result every metric then uses as its public list.
	var partitions any
	var selected *beam.PCollection
	if op.Selection == nil {
		partitions = out.publicKeys()
	} else {
		sel := pbeam.SelectPartitions(s, pbeam.MakePrivate(s, pairs, spec), pbeam.PartitionSelectionParams{
			Epsilon: op.Selection.Share.Epsilon, Delta: op.Selection.Share.Delta, MaxPartitionsContributed: l0,
		})
		partitions, selected = sel, &sel
	}
	if est != nil {
		dropped = droppedLines(s, rows, selected, *est)
	}

	var lines []beam.PCollection
	// perPerson is every unit's contribution to statistic n of metric i
	// (from the unit's partition total of the metric's column), as a
	// private collection of (partition, value).
	perPerson := func(i int, n privacy.StatNeed) pbeam.PrivatePCollection {
		t := beam.CombinePerKey(s, sumFloat, beam.ParDo(s, &unitTotalFn{I: i}, rows))
		return pbeam.MakePrivate(s, beam.ParDo(s, &perPersonFn{Need: n}, t), spec)
	}
	// Each part of each metric is one pbeam aggregation of its statistic,
	// with the part's budget: the same noised values as the embedded
	// engine's Releaser draws, which privacy post-processes alike.
	for i, mp := range op.Metrics {
		for p, c := range mp.Components {
			n := op.Layout.Needs[op.Layout.Need(i, p)]
			ns := c.NoiseShare()
			eps, del := ns.Epsilon, ns.Delta
			var col beam.PCollection
			switch c.Stat {
			case privacy.RowCount:
				col = pbeam.Count(s, pbeam.MakePrivate(s, pairs, spec), pbeam.CountParams{
					NoiseKind: noiseKind, AggregationEpsilon: eps, AggregationDelta: del,
					PublicPartitions: partitions, MaxPartitionsContributed: l0, MaxValue: n.MaxPerUnit, AllowNegativeOutputs: true,
				})
			case privacy.UnitCount:
				col = pbeam.DistinctPrivacyID(s, pbeam.MakePrivate(s, pairs, spec), pbeam.DistinctPrivacyIDParams{
					NoiseKind: noiseKind, AggregationEpsilon: eps, AggregationDelta: del,
					PublicPartitions: partitions, MaxPartitionsContributed: l0,
				})
			case privacy.ValueCount:
				col = pbeam.Count(s, pbeam.ParDo(s, pvPart, perPerson(i, n)), pbeam.CountParams{
					NoiseKind: noiseKind, AggregationEpsilon: eps, AggregationDelta: del,
					PublicPartitions: partitions, MaxPartitionsContributed: l0, MaxValue: 1, AllowNegativeOutputs: true,
				})
			case privacy.ClampedSum, privacy.CenteredSum, privacy.CenteredSumSquares:
				lo, hi := c.Stat.Range(n)
				col = pbeam.SumPerKey(s, pbeam.ParDo(s, pvKV, perPerson(i, n)), pbeam.SumParams{
					NoiseKind: noiseKind, AggregationEpsilon: eps, AggregationDelta: del,
					PublicPartitions: partitions, MaxPartitionsContributed: l0, MinValue: lo, MaxValue: hi,
				})
			case privacy.ClampedValues:
				col = pbeam.QuantilesPerKey(s, pbeam.ParDo(s, pvKV, perPerson(i, n)), pbeam.QuantilesParams{
					NoiseKind: noiseKind, AggregationEpsilon: eps, AggregationDelta: del,
					PublicPartitions: partitions, MaxPartitionsContributed: l0, MaxContributionsPerPartition: 1,
					MinValue: n.Min, MaxValue: n.Max, Ranks: mp.Spec.Ranks,
				})
			default:
				// compile refuses such jobs (beamStatistics); this is a guard.
				return beam.PCollection{}, beam.PCollection{}, fmt.Errorf("output %q: metric %q: statistic %s is not supported by the Beam engine", op.Spec.Name, mp.Spec.Name, c.Stat)
			}
			var fn any
			switch {
			case c.Stat.Stream():
				fn = &fmtFloatsFn{Output: o, Metric: i, Part: p}
			case c.Stat.Integer():
				fn = &fmtIntFn{Output: o, Metric: i, Part: p}
			default:
				fn = &fmtFloatFn{Output: o, Metric: i, Part: p}
			}
			lines = append(lines, beam.ParDo(s, fn, col))
		}
	}
	return beam.Flatten(s, lines...), dropped, nil
}

// beamStatistics are the statistics buildOutput computes; compile refuses
// jobs whose metrics need others.
var beamStatistics = map[privacy.Statistic]bool{
	privacy.RowCount: true, privacy.UnitCount: true, privacy.ValueCount: true, privacy.ClampedSum: true,
	privacy.CenteredSum: true, privacy.CenteredSumSquares: true, privacy.ClampedValues: true,
}
