// Package progress is how long work says how far it has got: the work calls
// a Reporter when it enters a phase (reading input, bounding, noising,
// storing...), starts an item of a series (output 3 of 5) or learns a row
// count, and a renderer reads a State's Snapshot from another goroutine on
// a ticker. The work never writes to a terminal or a log for progress, and a
// Reporter call is a few atomic operations, made at phase changes only,
// never per row. cmd/privagg renders a Snapshot as a terminal line or as a
// JSON log event.
package progress

import (
	"sync"
	"sync/atomic"
	"time"
)

// The phases of privagg's long work, in the order a run goes through them.
// A phase's name is what the terminal line and the JSON event show.
const (
	PhaseReading    = "reading input"     // read and check the input, count the rows
	PhaseBounding   = "bounding"          // bound contributions, per-partition statistics
	PhaseStaging    = "writing staging"   // the pseudonymized staging copy
	PhaseBounds     = "estimating bounds" // the private bound estimates (bounds_share)
	PhaseSelecting  = "selecting"         // DP partition selection
	PhaseNoising    = "noising"           // aggregate and draw the noise
	PhaseReleasing  = "releasing"         // an engine's release, phases not told
	PhaseStoring    = "storing"           // the release store and the ledger
	PhasePublishing = "publishing"        // copy to output.dir
	PhaseGenerating = "generating"        // privagg gen: write the rows
)

// UnitOutputs is the unit of the items of a run's per-output phases.
const UnitOutputs = "outputs"

// Reporter receives the progress of one piece of work. Its methods are safe
// for concurrent use and cheap; the work calls them at phase changes.
type Reporter interface {
	// Phase says the work entered phase name, e.g. "reading input". The
	// items of the previous phase are no longer shown, but a series of
	// items goes on across phases (see Items).
	Phase(name string)
	// Items says done of total items of unit (e.g. "outputs") are done in
	// the current phase. The first call, a new unit or a done below the
	// last starts a new series: its estimate counts the items done since
	// its start, across the phases its items go through.
	Items(unit string, done, total int)
	// Rows says how many rows the work has done, and of how many (Total 0:
	// not known). Rows last across phases.
	Rows(c RowCount)
}

// RowCount is a count of rows done.
type RowCount struct {
	Done  int64
	Total int64 // 0: not known
}

// Nop is a Reporter that discards everything.
type Nop struct{}

var _ Reporter = Nop{}

func (Nop) Phase(string)           {}
func (Nop) Items(string, int, int) {}
func (Nop) Rows(RowCount)          {}

// OrNop returns r, or Nop when r is nil.
func OrNop(r Reporter) Reporter {
	if r == nil {
		return Nop{}
	}
	return r
}

// Snapshot is a State at one instant.
type Snapshot struct {
	Phase string
	// Unit, Done and Total are the current phase's items ("outputs", 2,
	// 5); Total is 0 when the phase has none.
	Unit        string
	Done, Total int
	Rows        RowCount
	// Elapsed is the time since the work started.
	Elapsed time.Duration
	// Left estimates the time left in the current phase (rows or items of
	// a series); HasLeft is false when no estimate can be made.
	Left    time.Duration
	HasLeft bool
}

// State is a Reporter that keeps the latest report for a renderer. The
// writers (the work) serialize on a mutex; a reader loads the latest state
// atomically, so a renderer's ticker never waits for the work.
type State struct {
	start time.Time
	now   func() time.Time
	mu    sync.Mutex // serializes writers
	cur   atomic.Pointer[state]
}

// series is a series of items: its unit, when it started, the items done
// then and at the last report.
type series struct {
	unit       string
	start      time.Time
	from, last int
}

// state is one immutable report; State swaps whole states.
type state struct {
	phase       string
	phaseStart  time.Time
	unit        string
	done, total int
	series      series
	rows        RowCount
}

var _ Reporter = (*State)(nil)

// NewState starts the clock of a piece of work at now (time.Now when nil).
func NewState(now func() time.Time) *State {
	if now == nil {
		now = time.Now
	}
	s := &State{start: now(), now: now}
	s.cur.Store(&state{phaseStart: s.start})
	return s
}

// update applies f to a copy of the current state and stores it.
func (s *State) update(f func(*state)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := *s.cur.Load()
	f(&next)
	s.cur.Store(&next)
}

func (s *State) Phase(name string) {
	t := s.now()
	s.update(func(st *state) {
		if st.phase != name {
			st.phase, st.phaseStart = name, t
		}
		st.unit, st.done, st.total = "", 0, 0
	})
}

func (s *State) Items(unit string, done, total int) {
	t := s.now()
	s.update(func(st *state) {
		if unit != st.series.unit || done < st.series.last {
			st.series = series{unit: unit, start: t, from: done}
		}
		st.series.last = done
		st.unit, st.done, st.total = unit, done, total
	})
}

func (s *State) Rows(c RowCount) {
	s.update(func(st *state) { st.rows = c })
}

// Snapshot returns the latest report with the time elapsed and the estimate
// of the time left.
func (s *State) Snapshot() Snapshot {
	st := s.cur.Load()
	t := s.now()
	snap := Snapshot{Phase: st.phase, Unit: st.unit, Done: st.done, Total: st.total, Rows: st.rows, Elapsed: t.Sub(s.start)}
	snap.Left, snap.HasLeft = left(st, t)
	return snap
}

// left estimates the time left in the current phase from what was done
// so far, assuming the rest goes at the same pace: rows of a known total
// counted during the phase first, else the items done since the current
// series started. None when nothing is done yet, or everything is.
func left(st *state, t time.Time) (time.Duration, bool) {
	switch {
	case st.rows.Total > 0 && st.rows.Done > 0 && st.rows.Done < st.rows.Total:
		return pace(t.Sub(st.phaseStart), st.rows.Done, st.rows.Total-st.rows.Done), true
	case st.total > 0 && st.done > st.series.from && st.done < st.total && st.unit == st.series.unit:
		return pace(t.Sub(st.series.start), int64(st.done-st.series.from), int64(st.total-st.done)), true
	}
	return 0, false
}

// pace is the time rest takes if done took spent.
func pace(spent time.Duration, done, rest int64) time.Duration {
	return time.Duration(float64(spent) * float64(rest) / float64(done))
}
