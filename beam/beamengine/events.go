package beamengine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/fileio"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/job"
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
	rules         rowRules // built in setup
}

// ruleRef is a rule of malformed rows as the run report names it: the
// input column it judges and the rule (engine.Rule...).
type ruleRef struct{ Column, Rule string }

// rowRules are the rules a row must keep, numbered in the embedded engine's
// order (engine/duckdb malformedRules) so that a row's entries in the
// rejects listing come in the same order on both engines: the derived keys
// (in Keys order), the privacy unit, the metric columns (in Measures order),
// the consent column.
type rowRules struct {
	list    []ruleRef
	key     []int // per Keys index: its rule, or -1 for a raw key
	unit    int   // -1 with privacy_unit: row
	measure []int // per Measures index
	consent int   // -1 without a consent column
}

// newRowRules numbers e's rules; e.derived must be built.
func (e *eventSpec) newRowRules() rowRules {
	r := rowRules{key: make([]int, len(e.Keys)), unit: -1, measure: make([]int, len(e.Measures)), consent: -1}
	add := func(col, rule string) int {
		r.list = append(r.list, ruleRef{col, rule})
		return len(r.list) - 1
	}
	for i, k := range e.Keys {
		r.key[i] = -1
		if d, ok := e.derived[k]; ok {
			r.key[i] = add(d.Source(), engine.RuleNoValueFor(k))
		}
	}
	if e.Unit != "" {
		r.unit = add(e.Unit, engine.RuleUnitMissing)
	}
	for i, m := range e.Measures {
		r.measure[i] = add(m, engine.RuleNotFinite)
	}
	if e.ConsentColumn != "" {
		r.consent = add(e.ConsentColumn, engine.RuleConsentValue)
	}
	return r
}

// rule is rule i as the run report names it. The privacy unit's rule is
// the integer one when the input stores the unit as an integer (integer:
// per column of Columns, from a Parquet file's schema; nil for text
// inputs), as the embedded engine names it.
func (e *eventSpec) rule(i int, integer []bool) ruleRef {
	r := e.rules.list[i]
	if i == e.rules.unit && integer != nil && integer[e.colIdx[e.Unit]] {
		r.Rule = engine.RuleIntegerUnitMissing
	}
	return r
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
	e.rules = e.newRowRules()
	return nil
}

func (e *eventSpec) value(vals []transforms.Value, col string) transforms.Value {
	if i, ok := e.colIdx[col]; ok {
		return vals[i]
	}
	return transforms.Value{}
}

// toEvent applies the embedded engine's __events semantics to one row. It
// also returns the rules the row breaks (indexes into e.rules.list, in
// order), nil for a well-formed row; a row that breaks any is rejected.
func (e *eventSpec) toEvent(vals []transforms.Value) (event, []int) {
	ev := event{Keys: make([]string, len(e.Keys)), KeyNull: make([]bool, len(e.Keys)),
		Vals: make([]float64, len(e.Measures)), ValOK: make([]bool, len(e.Measures))}
	var broken []int
	for i, k := range e.Keys {
		var s string
		var ok bool
		if d, isDerived := e.derived[k]; isDerived {
			src := e.value(vals, d.Source())
			s, ok = transforms.Eval(d, src)
			if !ok && src.Kind != transforms.KindNull {
				// Present but not derivable (engine/duckdb malformedRules).
				broken = append(broken, e.rules.key[i])
			}
		} else {
			s, ok = e.value(vals, k).Text()
		}
		ev.Keys[i], ev.KeyNull[i] = s, !ok
	}
	if e.Unit == "" {
		ev.Unit = randomUnit()
	} else {
		u, ok := e.value(vals, e.Unit).Text()
		if ok {
			u, ok = transforms.CanonicalUnit(u, e.FoldCase)
		}
		if !ok {
			broken = append(broken, e.rules.unit)
		}
		ev.Unit = u
	}
	for i, m := range e.Measures {
		v := e.value(vals, m)
		if v.Kind == transforms.KindNull {
			continue
		}
		f, ok := v.Double()
		if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
			broken = append(broken, e.rules.measure[i]) // present but not a finite number
			continue
		}
		ev.Vals[i], ev.ValOK[i] = f, true
	}
	granted := true
	if e.ConsentColumn != "" {
		var ok bool
		if granted, ok = transforms.ConsentValue(e.value(vals, e.ConsentColumn)); !ok {
			broken = append(broken, e.rules.consent) // not an accepted spelling
		}
	}
	if len(broken) > 0 {
		ev.Status = statusRejected
	}
	switch {
	case e.ConsentColumn == "":
	case e.Unit == "":
		// privacy_unit: row: each row decides for itself.
		if ev.Status == statusOK && !granted {
			ev.Status = statusNoConsent
		}
	case !granted && ev.Unit != "":
		ev.Refuses = true // excludes all of the person's rows (applyRefusalsFn)
	}
	return ev, broken
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

// eventLineFn reads CSV and NDJSON files into events, in ranges of lines
// (lineRanges). Its other outputs locate the rejected rows: one rejectAt
// per rule a row breaks, and each range's line counts.
type eventLineFn struct {
	lineRanges
	Src source
	Ev  eventSpec
}

func (f *eventLineFn) Setup() error { return f.Ev.setup() }

func (f *eventLineFn) ProcessElement(ctx context.Context, rt *sdf.LockRTracker, file fileio.ReadableFile,
	emit func(event), reject func(rejectAt), lines func(rangeLines)) error {
	counts, err := f.scan(ctx, rt, file, tableInput, func(line string, pos linePos) error {
		if f.Src.header(pos) {
			return nil
		}
		vals, err := f.Src.parseLine(line)
		var bad *badLine
		switch {
		case errors.As(err, &bad):
			emit(rejectedEvent())
			for i, p := range bad.Problems {
				reject(lineReject(tableInput, pos, true, i, ruleRef{p.Column, engine.CSVRule(p.ErrorType)}))
			}
			return nil
		case err != nil && !errors.Is(err, errNotJSON):
			return err
		}
		ev, broken := f.Ev.toEvent(vals)
		emit(ev)
		for _, r := range broken {
			reject(lineReject(tableInput, pos, false, r, f.Ev.rule(r, nil)))
		}
		return nil
	})
	if err != nil {
		return err
	}
	lines(counts)
	return nil
}

// eventFileFn reads Parquet files into events; its other output locates
// the rejected rows by row index.
type eventFileFn struct {
	Src source
	Ev  eventSpec
}

func (f *eventFileFn) Setup() error { return f.Ev.setup() }

func (f *eventFileFn) ProcessElement(ctx context.Context, rf fileio.ReadableFile, emit func(event), reject func(rejectAt)) error {
	r, err := rf.Open(ctx)
	if err != nil {
		return fmt.Errorf("open input file: %w", err)
	}
	return f.Src.parquetRows(ctx, r, func(row parquetRow) error {
		ev, broken := f.Ev.toEvent(row.Vals)
		emit(ev)
		for _, i := range broken {
			reject(rowReject(tableInput, rf.Metadata.Path, row.Index, i, f.Ev.rule(i, row.Integer)))
		}
		return nil
	})
}

// consentRec is one consent record for the job's purpose.
type consentRec struct {
	At      int64 // Unix nanoseconds (UTC); math.MinInt64 for a malformed record
	Granted bool
	Bad     bool // malformed: no usable unit, purpose, granted value or time; excludes the person
}

// consentSpec maps consent-table rows. Columns are [unit, purpose, granted,
// at] (consentUnit, ...), all read as text (source.Text), like the embedded
// engine's reader.
type consentSpec struct {
	Purpose  string
	FoldCase bool
	// Columns are the consent table's unit, purpose, granted and time
	// columns as the job names them, for the rejects listing.
	Columns [4]string
}

// The consent table's columns, in the order of its source's Columns and
// consentSpec.Columns.
const (
	consentUnit = iota
	consentPurpose
	consentGranted
	consentAt
)

// consentRules are the rules a consent record that counts must keep, one
// per column, in the embedded engine's order (engine/duckdb consentRules).
var consentRules = [4]string{
	consentUnit:    engine.RuleUnitMissing,
	consentPurpose: engine.RulePurposeMissing,
	consentGranted: engine.RuleConsentValue,
	consentAt:      engine.RuleConsentTime,
}

// rule is consent rule i as the run report names it.
func (c *consentSpec) rule(i int) ruleRef { return ruleRef{c.Columns[i], consentRules[i]} }

// record emits the record keyed by its canonical unit ("" when unusable),
// if it counts: its purpose, trimmed, equals the job's ignoring case
// (lower-cased like DuckDB's lower()), or it has none (then it is
// malformed). It returns the consent rules a counted record breaks
// (indexes into consentRules, in order), nil for a well-formed one.
func (c *consentSpec) record(vals []transforms.Value, emit func(string, consentRec)) []int {
	p, ok := vals[consentPurpose].Text()
	p = strings.Trim(p, transforms.UnitSpace)
	noPurpose := !ok || p == ""
	// lower() on both sides, as the embedded engine's SQL compares purposes;
	// strings.EqualFold folds a few runes differently.
	if !noPurpose && strings.ToLower(p) != strings.ToLower(c.Purpose) { //nolint:staticcheck // see above
		return nil
	}
	var broken []int
	unit, ok := vals[consentUnit].Text()
	if ok {
		unit, ok = transforms.CanonicalUnit(unit, c.FoldCase)
	}
	if !ok {
		unit, broken = "", append(broken, consentUnit)
	}
	if noPurpose {
		broken = append(broken, consentPurpose)
	}
	g, gok := transforms.ConsentValue(vals[consentGranted])
	if !gok {
		broken = append(broken, consentGranted)
	}
	t, tok := transforms.ConsentTime(vals[consentAt])
	if !tok {
		broken = append(broken, consentAt)
	}
	rec := consentRec{At: math.MinInt64, Bad: len(broken) > 0}
	if !rec.Bad {
		rec.At, rec.Granted = unixNanos(t), g
	}
	emit(unit, rec)
	return broken
}

// consentLineFn reads CSV and NDJSON consent tables in ranges of lines
// (lineRanges); its other outputs locate the malformed records.
type consentLineFn struct {
	lineRanges
	Src source
	C   consentSpec
}

// ProcessElement fails on a line that cannot be parsed, as the embedded
// engine's consent reader does: a consent table is read whole or not at all.
func (f *consentLineFn) ProcessElement(ctx context.Context, rt *sdf.LockRTracker, file fileio.ReadableFile,
	emit func(string, consentRec), reject func(rejectAt), lines func(rangeLines)) error {
	counts, err := f.scan(ctx, rt, file, tableConsent, func(line string, pos linePos) error {
		if f.Src.header(pos) {
			return nil
		}
		vals, err := f.Src.parseLine(line)
		if err != nil {
			return errors.New("consent.table: a line cannot be parsed (details withheld: they may quote input values)")
		}
		for _, i := range f.C.record(vals, emit) {
			reject(lineReject(tableConsent, pos, false, i, f.C.rule(i)))
		}
		return nil
	})
	if err != nil {
		return err
	}
	lines(counts)
	return nil
}

// consentFileFn reads Parquet consent tables; its other output locates the
// malformed records by row index.
type consentFileFn struct {
	Src source
	C   consentSpec
}

func (f *consentFileFn) ProcessElement(ctx context.Context, rf fileio.ReadableFile, emit func(string, consentRec), reject func(rejectAt)) error {
	r, err := rf.Open(ctx)
	if err != nil {
		return fmt.Errorf("open consent file: %w", err)
	}
	return f.Src.parquetRows(ctx, r, func(row parquetRow) error {
		for _, i := range f.C.record(row.Vals, emit) {
			reject(rowReject(tableConsent, rf.Metadata.Path, row.Index, i, f.C.rule(i)))
		}
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
