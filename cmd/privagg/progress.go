package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/privagg/privagg/internal/progress"
)

// Progress of run and gen, rendered here; the work only reports into a
// progress.State (internal/progress). On a terminal a line on stderr is
// redrawn in place; with --log-format json a "progress" log event is
// written every --progress-interval; -q, or neither a terminal nor JSON,
// shows nothing.
const (
	defaultProgressInterval = 5 * time.Second
	// termRedraw is how often the terminal line is redrawn (its elapsed
	// time ticks); termDelay is how long work runs before the line first
	// shows, so that quick commands do not flicker.
	termRedraw = 250 * time.Millisecond
	termDelay  = time.Second
	// progressWidth keeps the line on one row of an 80-column terminal: a
	// wrapped line could not be redrawn in place.
	progressWidth = 79
)

// progressView renders one piece of work's progress until stop.
type progressView struct {
	state *progress.State
	quit  chan struct{}
	done  chan struct{}
	term  *termLine // nil for JSON events
}

// startProgress starts rendering progress as g's flags and stderr say. It
// returns a nil reporter (and a view whose stop does nothing) when progress
// is not shown.
func (g *globals) startProgress() (progress.Reporter, *progressView) {
	switch {
	case g.quiet:
		return nil, nil
	case g.logFormat == "json":
		v := newProgressView(nil)
		go v.loop(g.progressInterval, g.progressInterval, func(s progress.Snapshot) {
			g.logger.Info("progress", progressAttrs(s)...)
		})
		return v.state, v
	case g.term != nil:
		v := newProgressView(g.term)
		// A --progress-interval shorter than the defaults (tests) shortens them.
		go v.loop(min(termDelay, g.progressInterval), min(termRedraw, g.progressInterval), func(s progress.Snapshot) { g.term.show(progressLine(s)) })
		return v.state, v
	}
	return nil, nil
}

func newProgressView(term *termLine) *progressView {
	return &progressView{state: progress.NewState(nil), quit: make(chan struct{}), done: make(chan struct{}), term: term}
}

// loop renders a snapshot after delay, then every period, until stop.
func (v *progressView) loop(delay, period time.Duration, render func(progress.Snapshot)) {
	defer close(v.done)
	wait := time.NewTimer(delay)
	defer wait.Stop()
	select {
	case <-v.quit:
		return
	case <-wait.C:
	}
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		render(v.state.Snapshot())
		select {
		case <-v.quit:
			return
		case <-tick.C:
		}
	}
}

// stop ends the rendering and clears the terminal line. It may be called
// on a nil view, and more than once.
func (v *progressView) stop() {
	if v == nil {
		return
	}
	select {
	case <-v.quit:
		return
	default:
	}
	close(v.quit)
	<-v.done
	if v.term != nil {
		v.term.clear()
	}
}

// progressLine is the terminal line of s, e.g. "privagg: noising, outputs
// 2/5, 10000000 rows, 1m05s, about 40s left", cut to progressWidth.
func progressLine(s progress.Snapshot) string {
	parts := []string{"privagg: " + orDefault(s.Phase, "starting")}
	if s.Total > 0 {
		parts = append(parts, fmt.Sprintf("%s %d/%d", s.Unit, s.Done, s.Total))
	}
	if r := rowsText(s.Rows); r != "" {
		parts = append(parts, r)
	}
	parts = append(parts, shortDuration(s.Elapsed))
	if s.HasLeft {
		parts = append(parts, "about "+shortDuration(s.Left)+" left")
	}
	return cut(strings.Join(parts, ", "), progressWidth)
}

// rowsText is "1200 rows" (done), "1200/5000 rows", "5000 rows to write"
// (none done yet of a known total) or "" when no row count is known.
func rowsText(c progress.RowCount) string {
	switch {
	case c.Done == 0 && c.Total == 0:
		return ""
	case c.Done == 0:
		return strconv.FormatInt(c.Total, 10) + " rows to write"
	case c.Total == 0:
		return strconv.FormatInt(c.Done, 10) + " rows"
	}
	return strconv.FormatInt(c.Done, 10) + "/" + strconv.FormatInt(c.Total, 10) + " rows"
}

// progressAttrs are the keys of a JSON "progress" event: phase,
// elapsed_seconds and, when known, the phase's items (unit, done, total),
// rows (rows, rows_total) and seconds_left.
func progressAttrs(s progress.Snapshot) []any {
	attrs := []any{"phase", orDefault(s.Phase, "starting"), "elapsed_seconds", roundSeconds(s.Elapsed)}
	if s.Total > 0 {
		attrs = append(attrs, "unit", s.Unit, "done", s.Done, "total", s.Total)
	}
	if s.Rows.Done > 0 || s.Rows.Total > 0 {
		attrs = append(attrs, "rows", s.Rows.Done)
		if s.Rows.Total > 0 {
			attrs = append(attrs, "rows_total", s.Rows.Total)
		}
	}
	if s.HasLeft {
		attrs = append(attrs, "seconds_left", roundSeconds(s.Left))
	}
	return attrs
}

// orDefault is s, or otherwise when s is empty.
func orDefault(s, otherwise string) string {
	if s == "" {
		return otherwise
	}
	return s
}

func roundSeconds(d time.Duration) float64 {
	return float64(d.Round(100*time.Millisecond)) / float64(time.Second)
}

// shortDuration prints d to the second, e.g. 7s, 1m05s, 2h03m.
func shortDuration(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
}

// termLine is stderr on a terminal, shared by the log and the progress
// line: a log record written while the line shows clears it first and
// draws it again after, so the two never mix on one line.
type termLine struct {
	mu   sync.Mutex
	w    io.Writer
	line string // the progress line on screen; "" when none
}

// eraseLine moves to the start of the line and clears it.
const eraseLine = "\r\x1b[K"

func (t *termLine) Write(p []byte) (int, error) { return t.around(t.w, p) }

// around writes p to w (stderr, or stdout on the same terminal) with the
// progress line erased before and drawn again after.
func (t *termLine) around(w io.Writer, p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	// Drawing the line is best effort: what matters is that p is written.
	if t.line != "" {
		_, _ = io.WriteString(t.w, eraseLine)
	}
	n, err := w.Write(p)
	if t.line != "" {
		_, _ = io.WriteString(t.w, t.line)
	}
	return n, err
}

// termOut is stdout on a terminal while stderr is one too: what a command
// prints there erases the progress line first, like a log record.
type termOut struct {
	t *termLine
	f *os.File
}

func (o *termOut) Write(p []byte) (int, error) { return o.t.around(o.f, p) }

// show draws line in place of the current one.
func (t *termLine) show(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, _ = io.WriteString(t.w, eraseLine+line) // best effort, as in around
	t.line = line
}

// clear erases the progress line, if one shows.
func (t *termLine) clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.line != "" {
		_, _ = io.WriteString(t.w, eraseLine) // best effort, as in around
		t.line = ""
	}
}
