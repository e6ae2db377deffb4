package beamengine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"strings"

	"github.com/privagg/privagg/job"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/fileio"

	"github.com/privagg/privagg/transforms"
)

// Row status, as the embedded engine's __bad and __consent flags.
const (
	statusOK        = 0
	statusRejected  = 1 // malformed: the run's reject count
	statusNoConsent = 2
)

// event is one input row after parsing, consent by column and derived
// columns: the embedded engine's __events view.
type event struct {
	Status  int
	Unit    string    // CAST(privacy unit AS VARCHAR), or a random id with privacy_unit: row
	Keys    []string  // one per eventSpec.Keys
	KeyNull []bool    // NULL key values
	Vals    []float64 // one per eventSpec.Measures
	ValOK   []bool    // false: NULL measure
}

// eventSpec maps projected columns to an event. Serialized into DoFns.
type eventSpec struct {
	Columns       []string                      // projected input columns (Job.InputColumns)
	Unit          string                        // privacy unit column, or "" for privacy_unit: row
	ConsentColumn string                        // boolean consent column, or ""
	Keys          []string                      // group-by columns of all outputs, sorted
	Derived       map[string]job.DerivedColumn  // derived columns among Keys
	Measures      []string                      // metric columns
	derived       map[string]transforms.Derived // built in setup
	colIdx        map[string]int
}

func (e *eventSpec) setup() error {
	e.colIdx = map[string]int{}
	for i, c := range e.Columns {
		e.colIdx[c] = i
	}
	e.derived = map[string]transforms.Derived{}
	for name, dc := range e.Derived {
		d, err := dc.Transform(name)
		if err != nil {
			return fmt.Errorf("columns.%s: %w", name, err)
		}
		e.derived[name] = d
	}
	return nil
}

func (e *eventSpec) value(vals []transforms.Value, col string) transforms.Value {
	if i, ok := e.colIdx[col]; ok {
		return vals[i]
	}
	return transforms.Value{}
}

// toEvent applies the embedded engine's __events semantics to one row.
func (e *eventSpec) toEvent(vals []transforms.Value) event {
	ev := event{Keys: make([]string, len(e.Keys)), KeyNull: make([]bool, len(e.Keys)),
		Vals: make([]float64, len(e.Measures)), ValOK: make([]bool, len(e.Measures))}
	if e.Unit == "" {
		ev.Unit = randomUnit()
	} else {
		u, ok := e.value(vals, e.Unit).Text()
		if !ok || strings.Trim(u, " ") == "" {
			ev.Status = statusRejected
		}
		ev.Unit = u
	}
	for i, k := range e.Keys {
		var s string
		var ok bool
		if d, isDerived := e.derived[k]; isDerived {
			s, ok = transforms.Eval(d, e.value(vals, d.Source()))
		} else {
			s, ok = e.value(vals, k).Text()
		}
		ev.Keys[i], ev.KeyNull[i] = s, !ok
	}
	for i, m := range e.Measures {
		v := e.value(vals, m)
		if v.Kind == transforms.KindNull {
			continue
		}
		f, ok := v.Double()
		if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
			ev.Status = statusRejected // present but not a finite number
			continue
		}
		ev.Vals[i], ev.ValOK[i] = f, true
	}
	if ev.Status == statusOK && e.ConsentColumn != "" {
		if b, ok := e.value(vals, e.ConsentColumn).Bool(); !ok || !b {
			ev.Status = statusNoConsent
		}
	}
	return ev
}

// randomUnit is a fresh unit id per row for privacy_unit: row.
func randomUnit() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // never fails on supported platforms
	}
	return hex.EncodeToString(b[:])
}

func rejectedEvent() event { return event{Status: statusRejected} }

// eventLineFn parses CSV and NDJSON lines into events.
type eventLineFn struct {
	Src source
	Ev  eventSpec
}

func (f *eventLineFn) Setup() error { return f.Ev.setup() }

func (f *eventLineFn) ProcessElement(line string, emit func(event)) {
	vals, skip, err := f.Src.parseLine(line)
	switch {
	case skip:
	case err != nil:
		emit(rejectedEvent())
	default:
		emit(f.Ev.toEvent(vals))
	}
}

// eventFileFn reads Parquet files into events.
type eventFileFn struct {
	Src source
	Ev  eventSpec
}

func (f *eventFileFn) Setup() error { return f.Ev.setup() }

func (f *eventFileFn) ProcessElement(ctx context.Context, rf fileio.ReadableFile, emit func(event)) error {
	r, err := rf.Open(ctx)
	if err != nil {
		return fmt.Errorf("open input file: %w", err)
	}
	return f.Src.parquetRows(ctx, r, func(vals []transforms.Value) error {
		emit(f.Ev.toEvent(vals))
		return nil
	})
}

// consentRec is one consent record for the job's purpose.
type consentRec struct {
	At      int64 // Unix nanoseconds; math.MinInt64 when the time is NULL or unparsable (oldest)
	Granted bool
}

// consentSpec maps consent-table rows. Columns are [unit, purpose, granted, at].
type consentSpec struct {
	Purpose string
}

func (c *consentSpec) record(vals []transforms.Value, emit func(string, consentRec)) {
	unit, ok := vals[0].Text()
	if !ok {
		return
	}
	if p, ok := vals[1].Text(); !ok || p != c.Purpose {
		return
	}
	g, ok := vals[2].Bool()
	rec := consentRec{At: math.MinInt64, Granted: ok && g}
	if t, ok := vals[3].Timestamp(); ok {
		rec.At = unixNanos(t)
	}
	emit(unit, rec)
}

type consentLineFn struct {
	Src source
	C   consentSpec
}

func (f *consentLineFn) ProcessElement(line string, emit func(string, consentRec)) {
	vals, skip, err := f.Src.parseLine(line)
	if skip || err != nil {
		return
	}
	f.C.record(vals, emit)
}

type consentFileFn struct {
	Src source
	C   consentSpec
}

func (f *consentFileFn) ProcessElement(ctx context.Context, rf fileio.ReadableFile, emit func(string, consentRec)) error {
	r, err := rf.Open(ctx)
	if err != nil {
		return fmt.Errorf("open consent file: %w", err)
	}
	return f.Src.parquetRows(ctx, r, func(vals []transforms.Value) error {
		f.C.record(vals, emit)
		return nil
	})
}

// latestConsentFn keeps the latest record per unit; on a tie in time a
// refusal wins, like the embedded engine's arg_max over (time, refusal).
type latestConsentFn struct{}

func (latestConsentFn) MergeAccumulators(a, b consentRec) consentRec {
	if a.At != b.At {
		if a.At > b.At {
			return a
		}
		return b
	}
	return consentRec{At: a.At, Granted: a.Granted && b.Granted}
}

// applyConsentFn marks the events of units without a granting latest record.
func applyConsentFn(unit string, events func(*event) bool, latest func(*consentRec) bool, emit func(event)) {
	granted := false
	var rec consentRec
	for latest(&rec) {
		granted = rec.Granted
	}
	var ev event
	for events(&ev) {
		if ev.Status == statusOK && !granted {
			ev.Status = statusNoConsent
		}
		emit(ev)
	}
}

func keyByUnit(ev event) (string, event) { return ev.Unit, ev }
