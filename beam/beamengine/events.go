package beamengine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
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
	Unit    string    // canonical person id (transforms.CanonicalUnit), "" when unusable, or a random id with privacy_unit: row
	Refuses bool      // the row's consent column value is a refusal or malformed: its person is excluded
	Keys    []string  // one per eventSpec.Keys
	KeyNull []bool    // NULL key values
	Vals    []float64 // one per eventSpec.Measures
	ValOK   []bool    // false: NULL measure
}

// eventSpec maps projected columns to an event. Serialized into DoFns.
type eventSpec struct {
	Columns       []string                      // projected input columns (Job.InputColumns)
	Unit          string                        // privacy unit column, or "" for privacy_unit: row
	FoldCase      bool                          // privacy_unit_case: fold
	ConsentColumn string                        // consent column, or ""
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
		if ok {
			u, ok = transforms.CanonicalUnit(u, e.FoldCase)
		}
		if !ok {
			ev.Status = statusRejected
		}
		ev.Unit = u
	}
	for i, k := range e.Keys {
		var s string
		var ok bool
		if d, isDerived := e.derived[k]; isDerived {
			src := e.value(vals, d.Source())
			s, ok = transforms.Eval(d, src)
			if !ok && src.Kind != transforms.KindNull {
				// Present but not derivable (engine/duckdb malformedRules).
				ev.Status = statusRejected
			}
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
	if e.ConsentColumn != "" {
		granted, ok := transforms.ConsentValue(e.value(vals, e.ConsentColumn))
		if !ok {
			ev.Status = statusRejected // not an accepted spelling
		}
		switch {
		case e.Unit == "":
			// privacy_unit: row: each row decides for itself.
			if ev.Status == statusOK && !granted {
				ev.Status = statusNoConsent
			}
		case !granted && ev.Unit != "":
			ev.Refuses = true // excludes all of the person's rows (applyRefusalsFn)
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
	At      int64 // Unix nanoseconds (UTC); math.MinInt64 for a malformed record
	Granted bool
	Bad     bool // malformed: no usable unit, purpose, granted value or time; excludes the person
}

// consentSpec maps consent-table rows. Columns are [unit, purpose, granted, at],
// all read as text (source.Text), like the embedded engine's reader.
type consentSpec struct {
	Purpose  string
	FoldCase bool
}

// record emits the record keyed by its canonical unit ("" when unusable),
// if it is for the job's purpose: its purpose, trimmed, equals the job's
// ignoring case (lower-cased like DuckDB's lower()), or it has none (then it
// is malformed).
func (c *consentSpec) record(vals []transforms.Value, emit func(string, consentRec)) {
	p, ok := vals[1].Text()
	p = strings.Trim(p, transforms.UnitSpace)
	noPurpose := !ok || p == ""
	if !noPurpose && strings.ToLower(p) != strings.ToLower(c.Purpose) {
		return
	}
	rec := consentRec{At: math.MinInt64, Bad: noPurpose}
	unit, ok := vals[0].Text()
	if ok {
		unit, ok = transforms.CanonicalUnit(unit, c.FoldCase)
	}
	if !ok {
		unit, rec.Bad = "", true
	}
	g, gok := transforms.ConsentValue(vals[2])
	t, tok := transforms.ConsentTime(vals[3])
	if !gok || !tok {
		rec.Bad = true
	}
	if !rec.Bad {
		rec.At, rec.Granted = unixNanos(t), g
	}
	emit(unit, rec)
}

type consentLineFn struct {
	Src source
	C   consentSpec
}

// ProcessElement fails on a line that cannot be parsed, as the embedded
// engine's consent reader does: a consent table is read whole or not at all.
func (f *consentLineFn) ProcessElement(line string, emit func(string, consentRec)) error {
	vals, skip, err := f.Src.parseLine(line)
	if err != nil {
		return errors.New("consent.table: a line cannot be parsed (details withheld: they may quote input values)")
	}
	if !skip {
		f.C.record(vals, emit)
	}
	return nil
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
// refusal wins, like the embedded engine's arg_max over (time, refusal). A
// malformed record marks the result malformed.
type latestConsentFn struct{}

func (latestConsentFn) MergeAccumulators(a, b consentRec) consentRec {
	var r consentRec
	switch {
	case a.At > b.At:
		r = a
	case b.At > a.At:
		r = b
	default:
		r = consentRec{At: a.At, Granted: a.Granted && b.Granted}
	}
	r.Bad = a.Bad || b.Bad
	return r
}

// applyConsentFn marks the events of units without a granting latest record
// (or with a malformed record).
func applyConsentFn(unit string, events func(*event) bool, latest func(*consentRec) bool, emit func(event)) {
	granted := false
	var rec consentRec
	for latest(&rec) {
		granted = rec.Granted && !rec.Bad
	}
	var ev event
	for events(&ev) {
		if ev.Status == statusOK && !granted {
			ev.Status = statusNoConsent
		}
		emit(ev)
	}
}

// consentTag names a consent record for the row counts.
func consentTag(_ string, rec consentRec, emit func(string)) {
	emit("consent_read")
	if rec.Bad {
		emit("consent_rejected")
	}
}

// refusalOf emits the person of an event whose consent column value
// refuses or is malformed.
func refusalOf(ev event, emit func(string, bool)) {
	if ev.Refuses && ev.Unit != "" {
		emit(ev.Unit, true)
	}
}

func orBool(a, b bool) bool { return a || b }

// applyRefusalsFn excludes all events of a person with a refusing or
// malformed consent column value: consent is decided per person.
func applyRefusalsFn(unit string, events func(*event) bool, refused func(*bool) bool, emit func(event)) {
	excluded := false
	var r bool
	for refused(&r) {
		excluded = excluded || r
	}
	var ev event
	for events(&ev) {
		if excluded && ev.Status == statusOK {
			ev.Status = statusNoConsent
		}
		emit(ev)
	}
}

func keyByUnit(ev event) (string, event) { return ev.Unit, ev }
