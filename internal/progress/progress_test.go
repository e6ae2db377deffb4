package progress

import (
	"sync"
	"testing"
	"time"
)

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// newState is a State on a clock the test advances.
func newState() (*State, *clock) {
	c := &clock{t: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}
	return NewState(c.now), c
}

func seconds(n float64) time.Duration { return time.Duration(n * float64(time.Second)) }

func TestStateReportsPhaseItemsRowsAndElapsed(t *testing.T) {
	s, c := newState()
	s.Phase("reading input")
	c.advance(3 * time.Second)
	s.Rows(RowCount{Done: 1000})
	s.Phase("bounding")
	s.Items("outputs", 1, 4)
	got := s.Snapshot()
	want := Snapshot{Phase: "bounding", Unit: "outputs", Done: 1, Total: 4, Rows: RowCount{Done: 1000}, Elapsed: 3 * time.Second}
	if got.Phase != want.Phase || got.Unit != want.Unit || got.Done != want.Done || got.Total != want.Total ||
		got.Rows != want.Rows || got.Elapsed != want.Elapsed {
		t.Fatalf("snapshot = %+v, want %+v", got, want)
	}
	s.Phase("storing")
	if got := s.Snapshot(); got.Unit != "" || got.Total != 0 || got.Rows.Done != 1000 {
		t.Errorf("after a new phase: %+v, want no items and the rows kept", got)
	}
}

func TestEstimateFromItemsOfASeriesAcrossPhases(t *testing.T) {
	s, c := newState()
	s.Phase("noising")
	s.Items("outputs", 0, 4)
	if s.Snapshot().HasLeft {
		t.Fatal("an estimate before any item is done")
	}
	c.advance(10 * time.Second)
	// The next output goes through another phase: the series goes on.
	s.Phase("selecting")
	s.Items("outputs", 1, 4)
	got := s.Snapshot()
	if !got.HasLeft || got.Left != 30*time.Second {
		t.Fatalf("left = %v (%v), want 30s: 1 of 4 outputs in 10s", got.Left, got.HasLeft)
	}
	c.advance(10 * time.Second)
	s.Items("outputs", 2, 4)
	if got := s.Snapshot(); got.Left != 20*time.Second {
		t.Errorf("left = %v, want 20s: 2 of 4 outputs in 20s", got.Left)
	}
	s.Items("outputs", 4, 4)
	if s.Snapshot().HasLeft {
		t.Error("an estimate when every item is done")
	}
	// A new series counts from its own start.
	s.Items("outputs", 0, 2)
	c.advance(5 * time.Second)
	s.Items("outputs", 1, 2)
	if got := s.Snapshot(); got.Left != 5*time.Second {
		t.Errorf("left = %v, want 5s from the new series", got.Left)
	}
}

// A series that starts with items done already (done before it was
// timed) estimates from the items done since.
func TestEstimateCountsItemsSinceTheSeriesStarted(t *testing.T) {
	s, c := newState()
	s.Phase("bounding")
	s.Items("outputs", 1, 4)
	if s.Snapshot().HasLeft {
		t.Fatal("an estimate before an item was done in the series")
	}
	c.advance(10 * time.Second)
	s.Items("outputs", 2, 4)
	if got := s.Snapshot(); !got.HasLeft || got.Left != 20*time.Second {
		t.Errorf("left = %v (%v), want 20s: 1 output in 10s, 2 to go", got.Left, got.HasLeft)
	}
}

func TestEstimateFromRowsOfAKnownTotal(t *testing.T) {
	s, c := newState()
	c.advance(time.Minute) // before the phase: not counted
	s.Phase("generating")
	s.Rows(RowCount{Total: 1000})
	if s.Snapshot().HasLeft {
		t.Fatal("an estimate with no row done")
	}
	c.advance(seconds(2.5))
	s.Rows(RowCount{Done: 250, Total: 1000})
	got := s.Snapshot()
	if !got.HasLeft || got.Left != seconds(7.5) {
		t.Errorf("left = %v (%v), want 7.5s: a quarter in 2.5s", got.Left, got.HasLeft)
	}
	if got.Elapsed != time.Minute+seconds(2.5) {
		t.Errorf("elapsed = %v, want from NewState", got.Elapsed)
	}
	// Rows of unknown total give no estimate.
	s.Rows(RowCount{Done: 250})
	if s.Snapshot().HasLeft {
		t.Error("an estimate from rows of unknown total")
	}
}

func TestStateIsSafeForAReaderAndWriters(t *testing.T) {
	s := NewState(nil)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				s.Phase("bounding")
				s.Items("outputs", i%5, 5)
				s.Rows(RowCount{Done: int64(w*1000 + i)})
			}
		})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 1000 {
			_ = s.Snapshot()
		}
	}()
	wg.Wait()
	<-done
	if got := s.Snapshot().Phase; got != "bounding" {
		t.Errorf("phase = %q", got)
	}
}

func TestOrNop(t *testing.T) {
	if _, ok := OrNop(nil).(Nop); !ok {
		t.Error("OrNop(nil) is not Nop")
	}
	s := NewState(nil)
	if OrNop(s) != Reporter(s) {
		t.Error("OrNop(s) is not s")
	}
}
