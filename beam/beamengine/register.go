package beamengine

import (
	"context"
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/fileio"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/gcs"   // gs:// inputs and results
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local" // local files
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/direct" //nolint:staticcheck // the default runner; deprecated in favour of prism, which is registered too

	// prism: Beam's portable runner, in process, through the job service
	// that Flink, Spark and Dataflow use (encoding, registration).
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
)

// Registration lets remote workers (Dataflow, Flink, Spark) find the DoFns
// and types by name and run them without reflection.
func init() {
	beam.RegisterType(reflect.TypeOf((*event)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*orow)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*pv)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*consentRec)(nil)).Elem())

	beam.RegisterType(reflect.TypeOf((*rejectAt)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*rangeLines)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*firstRejects)(nil)).Elem())

	register.DoFn6x1[context.Context, *sdf.LockRTracker, fileio.ReadableFile, func(event), func(rejectAt), func(rangeLines), error](&eventLineFn{})
	register.DoFn4x1[context.Context, fileio.ReadableFile, func(event), func(rejectAt), error](&eventFileFn{})
	register.DoFn6x1[context.Context, *sdf.LockRTracker, fileio.ReadableFile, func(string, consentRec), func(rejectAt), func(rangeLines), error](&consentLineFn{})
	register.DoFn4x1[context.Context, fileio.ReadableFile, func(string, consentRec), func(rejectAt), error](&consentFileFn{})
	register.Combiner3[firstRejects, rejectAt, []rejectAt](&firstRejectsFn{})
	register.Function1x2(tableOf)
	register.Function1x2(rejectTotalKey)
	register.Function2x2(formatTotal)
	register.Function2x2(formatFirst)
	register.Function1x2(formatRange)
	register.Emitter1[rejectAt]()
	register.Emitter1[rangeLines]()
	register.Combiner1[consentRec](&latestConsentFn{})
	register.Function4x0(applyConsentFn)
	register.Function3x0(consentTag)
	register.Function2x0(refusalOf)
	register.Function2x1(orBool)
	register.Function4x0(applyRefusalsFn)
	register.Function1x2(keyByUnit)
	register.DoFn2x0[event, func(orow)](&outputRowsFn{})
	register.Function1x2(unitPart)
	register.DoFn2x0[orow, func(string, float64)](&unitTotalFn{})
	register.Function2x1(sumFloat)
	register.DoFn3x0[string, float64, func(string, pv)](&perPersonFn{})
	register.Function1x1(pvPart)
	register.Function1x2(pvKV)
	register.DoFn2x2[string, int64, string, error](&fmtIntFn{})
	register.DoFn2x2[string, float64, string, error](&fmtFloatFn{})
	register.DoFn2x2[string, []float64, string, error](&fmtFloatsFn{})
	// Bound estimates (bounds.go).
	beam.RegisterType(reflect.TypeOf((*pairVal)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*pairAgg)(nil)).Elem())
	register.DoFn2x0[orow, func(string, pairVal)](&pairRowFn{})
	register.Function2x1(mergePairs)
	register.Function2x2(byUnit)
	register.Function2x2(byPart)
	register.Function1x2(selectedKey)
	register.Function4x0(inSelectedFn)
	register.Function3x0(partitionsFn)
	register.DoFn3x0[string, func(*pairAgg) bool, func(string)](&valuesFn{})
	register.DoFn3x0[string, func(*pairAgg) bool, func([]float64)](&droppedFn{})
	register.Function2x1(addVectors)
	register.DoFn2x2[string, int, string, error](&fmtHistFn{})
	register.DoFn1x2[[]float64, string, error](&fmtSumsFn{})
	register.Emitter2[string, pairVal]()
	register.Emitter2[string, pairAgg]()
	register.Emitter1[[]float64]()
	register.Iter1[pairAgg]()
	register.Function2x0(statusTag)
	register.Function2x1(formatCount)
	register.Emitter1[event]()
	register.Emitter1[orow]()
	register.Emitter1[string]()
	register.Emitter2[string, pv]()
	register.Emitter2[string, float64]()
	register.Emitter2[string, consentRec]()
	register.Emitter2[string, bool]()
	register.Iter1[event]()
	register.Iter1[consentRec]()
	register.Iter1[bool]()
}
