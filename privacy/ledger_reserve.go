package privacy

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
)

// ReserveRequest asks to charge a release to a dataset's budget.
type ReserveRequest struct {
	ReleaseID string   // required; see ValidateReleaseID
	Dataset   string   // required: the budget to charge
	Job       string   // required: the job's name
	Purpose   string   // the job's consent purpose
	Epsilon   float64  // required, > 0
	Delta     float64  // >= 0 and < 1
	Outputs   []string // the job's output names
	OutputDir string   // where the release will be published
	JobSHA256 string   // hex SHA-256 of the job file (64 lower-case hex digits), or empty
	// JobDigest is the digest of the effective job (64 lower-case hex
	// digits; job.Digest), or empty. Recorded in the journal only when
	// set; a reserved release is resumed only by the same digest.
	JobDigest string
	// ConsentWaiver is the job's consent.waived reason, or empty when the
	// job applied consent. Recorded in the journal only when set, so entries
	// of jobs with consent keep their earlier form.
	ConsentWaiver string
}

// Reserve charges req's epsilon and delta to the dataset's budget, as one
// atomic check-and-charge under the ledger's exclusive lock, and records the
// release in state reserved. It returns a *BudgetError if the dataset has no
// budget or the charge does not fit what remains of the current period.
//
// If the release id already exists:
//   - in state reserved, before MarkWriting (an earlier run stopped before
//     any noised value could reach disk), Reserve charges nothing and
//     returns the earlier reservation; the release may be recomputed under
//     it (call Lookup first to tell this case apart). Dataset, epsilon and
//     delta must equal the earlier request's and the job must be the same
//     (ReleaseRecord.CheckJob), otherwise the error wraps
//     ErrReleaseConflict.
//   - in state reserved after MarkWriting, Reserve charges nothing and
//     returns an error wrapping ErrNoiseWritten: the release is never
//     recomputed.
//   - in state stored or published, Reserve charges nothing and returns an
//     error wrapping ErrAlreadyStored: publish the stored files again.
func (l *Ledger) Reserve(ctx context.Context, req ReserveRequest) (*Reservation, error) {
	eps, del, err := l.validateReserve(req)
	if err != nil {
		return nil, err
	}
	outputs, err := json.Marshal(nonNil(req.Outputs))
	if err != nil {
		return nil, fmt.Errorf("reserve release %q: outputs: %w", req.ReleaseID, err)
	}
	var res *Reservation
	err = l.withSession(ctx, true, func(s *session) error {
		if old, ok := s.st.releases[req.ReleaseID]; ok {
			var err error
			res, err = resume(&old, req, eps, del)
			return err
		}
		st, err := s.status(req.Dataset)
		if err != nil {
			return err
		}
		if err := fits(st, eps, del); err != nil {
			return err
		}
		periodStart := ""
		if st.PeriodStart != nil {
			periodStart = formatTime(*st.PeriodStart)
		}
		at := formatTime(s.now)
		fields := map[string]string{
			"release_id":   req.ReleaseID,
			"dataset":      req.Dataset,
			"job":          req.Job,
			"purpose":      req.Purpose,
			"epsilon":      eps.String(),
			"delta":        del.String(),
			"reserved_at":  at,
			"outputs":      string(outputs),
			"output_dir":   req.OutputDir,
			"job_sha256":   req.JobSHA256,
			"period_start": periodStart,
		}
		if req.ConsentWaiver != "" {
			fields[fieldConsentWaiver] = req.ConsentWaiver
		}
		if req.JobDigest != "" {
			fields[fieldJobDigest] = req.JobDigest
		}
		if err := s.apply(ctx, opReserved, fields); err != nil {
			return err
		}
		res = newReservation(req.ReleaseID, req.Dataset, eps.Float64(), del.Float64())
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (l *Ledger) validateReserve(req ReserveRequest) (eps, del Amount, err error) {
	if err := ValidateReleaseID(req.ReleaseID); err != nil {
		return eps, del, fmt.Errorf("reserve: release id %q: %w", req.ReleaseID, err)
	}
	if err := validateDataset(req.Dataset); err != nil {
		return eps, del, fmt.Errorf("reserve release %q: %w", req.ReleaseID, err)
	}
	if strings.TrimSpace(req.Job) == "" {
		return eps, del, fmt.Errorf("reserve release %q: job name must not be empty", req.ReleaseID)
	}
	if req.JobSHA256 != "" && !sha256HexRE.MatchString(req.JobSHA256) {
		return eps, del, fmt.Errorf("reserve release %q: job sha256 %q: must be 64 lower-case hex digits", req.ReleaseID, req.JobSHA256)
	}
	if req.JobDigest != "" && !sha256HexRE.MatchString(req.JobDigest) {
		return eps, del, fmt.Errorf("reserve release %q: job digest %q: must be 64 lower-case hex digits", req.ReleaseID, req.JobDigest)
	}
	if strings.ContainsAny(req.ConsentWaiver, "\r\n") || (req.ConsentWaiver != "" && strings.TrimSpace(req.ConsentWaiver) == "") {
		return eps, del, fmt.Errorf("reserve release %q: consent waiver must be one line of text", req.ReleaseID)
	}
	eps, del, err = requestAmounts(req.Epsilon, req.Delta)
	if err != nil {
		return eps, del, fmt.Errorf("reserve release %q: %w", req.ReleaseID, err)
	}
	return eps, del, nil
}

// resume returns the reservation of a release an earlier run reserved, if
// req may recompute it.
func resume(old *releaseRow, req ReserveRequest, eps, del Amount) (*Reservation, error) {
	if old.State != string(StateReserved) {
		return nil, fmt.Errorf("reserve release %q: it is %s, nothing charged: %w", old.ReleaseID, old.State, ErrAlreadyStored)
	}
	rec, err := old.record()
	if err != nil {
		return nil, err
	}
	if err := rec.CheckResumable(); err != nil {
		return nil, fmt.Errorf("reserve release %q: %w", old.ReleaseID, err)
	}
	if rec.Dataset != req.Dataset || rec.Epsilon.Cmp(eps) != 0 || rec.Delta.Cmp(del) != 0 {
		return nil, fmt.Errorf("reserve release %q: it is reserved for dataset %q with epsilon %s, delta %s, not dataset %q with epsilon %s, delta %s; use a new release id: %w",
			old.ReleaseID, rec.Dataset, rec.Epsilon, rec.Delta, req.Dataset, eps, del, ErrReleaseConflict)
	}
	if err := rec.CheckJob(req.identity()); err != nil {
		return nil, fmt.Errorf("reserve release %q: %w", old.ReleaseID, err)
	}
	return newReservation(rec.ReleaseID, rec.Dataset, rec.Epsilon.Float64(), rec.Delta.Float64()), nil
}

// MarkStored records that every file of the release is in the release store
// (reserved -> stored), with the SHA-256 of each file and which of them are
// published (files must be valid, see StoredFiles). It does nothing if the
// release is already stored or published.
func (l *Ledger) MarkStored(ctx context.Context, releaseID string, files StoredFiles) error {
	extra, err := files.fields()
	if err != nil {
		return fmt.Errorf("mark release %q stored: %w", releaseID, err)
	}
	return l.transition(ctx, releaseID, StateStored, opStored, "stored_at", extra)
}

// MarkPublished records that the stored files were published (stored ->
// published). It does nothing if the release is already published; a release
// still reserved cannot be published (ErrReleaseConflict).
func (l *Ledger) MarkPublished(ctx context.Context, releaseID string) error {
	return l.transition(ctx, releaseID, StatePublished, opPublished, "published_at", nil)
}

// transition moves a release to state to with a journal entry op that
// records the time in timeField and the fields of extra.
func (l *Ledger) transition(ctx context.Context, releaseID string, to ReleaseState, op, timeField string, extra map[string]string) error {
	return l.withSession(ctx, true, func(s *session) error {
		r, ok := s.st.releases[releaseID]
		if !ok {
			return fmt.Errorf("mark release %q %s: %w", releaseID, to, ErrUnknownRelease)
		}
		from := ReleaseState(r.State)
		if from == to || (to == StateStored && from == StatePublished) {
			return nil
		}
		if to == StatePublished && from != StateStored {
			return fmt.Errorf("mark release %q published: it is %s, not stored: %w", releaseID, from, ErrReleaseConflict)
		}
		fields := map[string]string{"release_id": releaseID, timeField: formatTime(s.now)}
		maps.Copy(fields, extra)
		return s.apply(ctx, op, fields)
	})
}
