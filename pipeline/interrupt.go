package pipeline

import (
	"context"
	"errors"
	"fmt"
	"syscall"
)

// Interrupted is the error of a run stopped by a signal. A command cancels
// the run's context with an *Interrupted (Err nil) as its cause
// (context.WithCancelCause) when SIGINT or SIGTERM arrives; Run then
// returns an *Interrupted wrapping what stopped, and ExitCode gives 128 +
// the signal's number (130 for SIGINT, 143 for SIGTERM).
//
// A signal stops a run only until the ledger records that noised values
// may reach disk (StepWriting): until then, nothing of the release is on
// disk and a reserved release stays resumable at no new charge; from then
// on the run stores and publishes the release, since stopping would waste
// its charge (such a release is never recomputed).
type Interrupted struct {
	Signal syscall.Signal
	// Err is what the run returned when it stopped; nil in a context's cause.
	Err error
	// Note says what the interruption left: nothing charged, or a reserved
	// release to complete by running the job again.
	Note string
}

func (e *Interrupted) Error() string {
	msg := "interrupted by " + signalName(e.Signal)
	if e.Note != "" {
		msg += " (" + e.Note + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Interrupted) Unwrap() error { return e.Err }

// ExitCode is 128 + the signal's number, as a shell reports a process
// that a signal stopped.
func (e *Interrupted) ExitCode() int { return 128 + int(e.Signal) }

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return fmt.Sprintf("signal %d (%v)", int(s), s)
}

// interrupted returns err as an *Interrupted when ctx was cancelled by one
// (see Interrupted), saying what the run left: reserved tells whether the
// ledger holds a reservation of release id that the run did not complete.
// Other errors are returned as they are.
func interrupted(ctx context.Context, err error, id string, reserved bool) error {
	var cause *Interrupted
	if err == nil || !errors.As(context.Cause(ctx), &cause) || errors.As(err, new(*Interrupted)) {
		return err
	}
	note := "nothing was charged or written"
	if reserved {
		note = fmt.Sprintf("release %s stays reserved, with no noised value written: run the job again with the same "+
			"release id to complete it without a new charge", id)
	}
	return &Interrupted{Signal: cause.Signal, Err: err, Note: note}
}
