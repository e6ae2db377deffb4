package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/privagg/privagg/pipeline"
)

// interruptContext returns a context that SIGINT or SIGTERM cancels with a
// *pipeline.Interrupted cause, so that a run stops cleanly (its engine closes
// and removes its temporary files) and exits 130 or 143. After the first
// signal privagg stops listening: a second one ends the process at once,
// as the signal's default does. stop releases the signals.
func interruptContext(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			signal.Stop(ch)
			sig, ok := s.(syscall.Signal)
			if !ok {
				sig = syscall.SIGINT
			}
			cancel(&pipeline.Interrupted{Signal: sig})
		case <-done:
		}
	}()
	return ctx, func() {
		close(done)
		signal.Stop(ch)
		cancel(nil)
	}
}
