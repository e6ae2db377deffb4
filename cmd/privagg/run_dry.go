package main

import (
	"context"
	"fmt"
	"os"

	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
)

// storedRelease is the ledger's record of the release a run of j would make
// (the --release-id, else the job's fingerprint) when it is stored or
// published already: the run then re-publishes it byte for byte at no cost,
// before reading any input. It is nil otherwise, and when the ledger does
// not exist or cannot be read (the run would say why).
func storedRelease(ctx context.Context, j *job.Job, releaseID, ledger string) *privacy.ReleaseRecord {
	id := releaseID
	if id == "" {
		var err error
		if id, err = job.Fingerprint(j); err != nil {
			return nil
		}
	}
	if _, err := os.Stat(ledger); err != nil {
		return nil // a read-only open must not create it
	}
	led, err := privacy.OpenLedger(ledger, privacy.WithReadOnly())
	if err != nil {
		return nil
	}
	rec, err := led.Lookup(ctx, id)
	if err != nil || rec == nil || rec.State == privacy.StateReserved {
		return nil
	}
	return rec
}

// dryRepublish is what run --dry-run prints for a release that is stored
// already: the run will re-publish it and charge nothing.
type dryRepublish struct {
	ReleaseID string    `json:"release_id"`
	Status    string    `json:"status"` // always "re-publish"
	State     string    `json:"state"`  // stored | published
	Charge    runCharge `json:"charge"` // always 0
}

func printDryRepublish(g *globals, rec *privacy.ReleaseRecord, format string) error {
	if format == formatJSON {
		return writeJSON(g.stdout, dryRepublish{ReleaseID: rec.ReleaseID, Status: "re-publish", State: string(rec.State)})
	}
	_, err := fmt.Fprintf(g.stdout, "dry run: no change: release %s is already %s; a run re-publishes it byte for byte "+
		"without reading the input, with no new noise and no charge (epsilon 0, delta 0)\n", rec.ReleaseID, rec.State)
	return err
}
