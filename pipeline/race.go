package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/privagg/privagg/privacy"
)

// Two runs of one release id may both find it new, or both resume it, and
// race: the first to record MarkWriting stores and publishes it; the other
// learns it from Reserve (ErrAlreadyStored: already stored; ErrNoiseWritten:
// being written) or from MarkWriting. The loser waits until the winner has
// stored the release and re-publishes it, as a re-run would: no new noise,
// no charge, exit 0, and its own draw (if it made one) is discarded unseen.

// stepWaiting is passed to stepHook when a run lost a race and waits.
const stepWaiting = "waiting"

// Waiting for the winner of a race.
const (
	raceWait = 2 * time.Minute        // how long the loser waits for the winner to store the release
	racePoll = 200 * time.Millisecond // how often it looks
)

// lostRace handles err from Reserve or MarkWriting: when another run of
// the release id got there first (see above), it waits for that run to
// store the release and re-publishes it; any other error is returned.
func (r *run) lostRace(ctx context.Context, led *privacy.Ledger, err error) (*RunResult, error) {
	if !errors.Is(err, privacy.ErrAlreadyStored) && !errors.Is(err, privacy.ErrNoiseWritten) {
		return nil, err
	}
	r.reserved = false // the winner owns the release now
	r.log.Info("another run of this release is writing it: waiting to re-publish its tables", "release", r.id)
	step(stepWaiting)
	deadline := time.Now().Add(raceWait)
	for {
		rec, lerr := led.Lookup(ctx, r.id)
		if lerr != nil {
			return nil, lerr
		}
		if rec != nil && rec.State != privacy.StateReserved {
			if cerr := r.checkRecord(rec); cerr != nil {
				return nil, cerr
			}
			r.rec = rec
			return r.republish(ctx, led)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("release %q: another run has been writing it and did not store it within %v "+
				"(it may have stopped): run the job again to re-publish it once it is stored: %w", r.id, raceWait, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("release %q: while waiting for another run to store it: %w", r.id, context.Cause(ctx))
		case <-time.After(racePoll):
		}
	}
}
