// Package engine defines what an engine does for the release protocol.
package engine

import (
	"context"
	"fmt"

	"github.com/privagg/privagg/privacy"
)

// Engine computes a job's release for Run. Run calls Prepare, then (after
// the reject check and the budget reservation) Release, then Published once
// the release is published, and Close in every case.
type Engine interface {
	// Prepare reads and checks the input and returns its row counts. It must
	// draw no noise and need no budget.
	Prepare(ctx context.Context) (InputCounts, error)
	// Release computes the noisy tables under the reservation.
	Release(ctx context.Context, plan *privacy.Plan, res *privacy.Reservation) (*privacy.Release, map[string]privacy.OutputStats, error)
	// Published is called after the release is published (e.g. to move a
	// staging file into place).
	Published() error
	Close() error
}

// NoiseWriter is implemented by an engine whose Release writes noised
// values to files before it returns (the Beam engine writes its results to
// its work folder). Run then records in the ledger, before calling Release,
// that noised values may reach disk, so that an interrupted release is
// never recomputed. An engine that keeps noised values in memory until
// Release returns (the embedded engine) need not implement it.
type NoiseWriter interface {
	WritesNoise() bool
}

// BoundsEstimator is implemented by an engine that makes the private bound
// estimates of a job with a bounds share (auto bounds and what bounding
// removed, privacy/bounds.go) in its Release, as the embedded engine does.
// Run refuses such a job on an engine that does not.
type BoundsEstimator interface {
	EstimatesBounds() bool
}

// PartitionReach is implemented by an engine that can tell, after Prepare
// and before any budget is reserved, whether an output whose keys come from
// DP partition selection has a partition with at least a given number of
// people: distinct people after each person is bounded to the output's
// max_partitions_per_unit partitions, as selection counts them. Run asks it
// to warn about an output likely to release nothing (pipeline.LikelyEmpty).
//
// The answer is one bit per output about the data, and it is not
// differentially private: it goes to the operator's log only, which is
// internal like the run report, never to a release, a manifest or an
// analyst. The engine computes it where the per-partition counts live and
// hands back the bit alone, never a count. The embedded engine implements
// it; the Beam engine does not (its Prepare pass counts rows only).
type PartitionReach interface {
	// AnyPartitionReaches reports whether some partition of output o (its
	// index in the job's outputs) has at least people people. It must draw
	// no noise and need no budget.
	AnyPartitionReaches(ctx context.Context, o int, people int64) (bool, error)
}

// InputCounts are the exact row counts of an input (internal, not private).
type InputCounts struct {
	Read     int64 // rows read, malformed ones included
	Rejected int64 // malformed rows
	Excluded int64 // well-formed rows of people without consent for the purpose
	// ConsentRead and ConsentRejected count the consent table's records for
	// the job's purpose (or without a purpose), and the malformed ones among
	// them (no usable unit, purpose, granted value or time). Both are 0
	// without a consent table.
	ConsentRead, ConsentRejected int64
	// Rejects locates the malformed rows and consent records; nil when
	// none was rejected.
	Rejects *Rejects
}

// InputError is returned when the input cannot be used: missing or unreadable
// files, or more malformed rows than max_reject_fraction allows. It never
// carries raw values.
type InputError struct {
	Reason   string
	Read     int64 // rows read
	Rejected int64 // rows rejected
	// Where names the first rejected rows by line, column and rule, never
	// by value (Rejects.summary); "" when not known.
	Where string
	Err   error
}

func (e *InputError) Error() string {
	msg := "input rejected: " + e.Reason
	if e.Read > 0 || e.Rejected > 0 {
		msg += fmt.Sprintf(" (%d of %d rows rejected)", e.Rejected, e.Read)
	}
	if e.Where != "" {
		msg += "; " + e.Where
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *InputError) Unwrap() error { return e.Err }

// RejectCheck applies input.max_reject_fraction: it returns an *InputError
// when malformed event rows exceed maxFraction of the rows read, or
// malformed consent records exceed maxFraction of the consent records read;
// nil otherwise.
func RejectCheck(maxFraction float64, c InputCounts) error {
	if c.Read > 0 && float64(c.Rejected) > maxFraction*float64(c.Read) {
		return &InputError{
			Reason:   fmt.Sprintf("malformed rows exceed input.max_reject_fraction %v", maxFraction),
			Read:     c.Read,
			Rejected: c.Rejected,
			Where:    c.Rejects.summary(MessageRejectedRows),
		}
	}
	if c.ConsentRead > 0 && float64(c.ConsentRejected) > maxFraction*float64(c.ConsentRead) {
		return &InputError{Reason: fmt.Sprintf("malformed consent records (no usable id, purpose, granted value or time) exceed input.max_reject_fraction %v (%d of %d consent records rejected)",
			maxFraction, c.ConsentRejected, c.ConsentRead), Where: c.Rejects.consentTable().summary(MessageRejectedRows)}
	}
	return nil
}
