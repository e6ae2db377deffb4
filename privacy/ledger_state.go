package privacy

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// budgetRow and releaseRow hold a row as canonical text (amounts as exact
// decimals, times as formatTime, absent as ""), so that the journal's replay
// and the ledger's rows compare exactly.
type budgetRow struct {
	Dataset, Epsilon, Delta, Period, Created string
}

type releaseRow struct {
	ReleaseID, Dataset, Job, Purpose, Epsilon, Delta, State string
	ReservedAt, StoredAt, PublishedAt                       string
	Outputs, OutputDir, JobSHA256, PeriodStart              string
	// journal is kept in the journal only (the ledger file's schema has no
	// column for it): load copies it from the journal's replay.
	journal releaseJournal
}

// releaseJournal is what only the journal records about a release. Each
// field comes from an optional field or an operation added after the
// ledger's schema version 1, so that journals written before verify as
// before: an entry without the field leaves it empty.
type releaseJournal struct {
	ConsentWaiver string // reserved entry's consent_waiver
	JobDigest     string // reserved entry's job_digest
	WritingAt     string // time of the writing entry
	RepublishedAt string // time of the last republished entry
	Files         string // stored entry's files: JSON object, file name -> sha256
	Published     string // stored entry's published: JSON array of file names
}

// Optional fields of journal entries (see releaseJournal).
const (
	// fieldConsentWaiver holds the job's consent.waived reason; only jobs
	// that waive consent have it.
	fieldConsentWaiver = "consent_waiver"
	// fieldJobDigest holds the digest of the job that reserved the release.
	fieldJobDigest = "job_digest"
	// fieldFiles and fieldPublished are the release store's files with
	// their SHA-256, and the names of those that are published.
	fieldFiles     = "files"
	fieldPublished = "published"
)

type ledgerState struct {
	ledgerID string
	schema   string
	head     int64 // journal entries applied
	headHash string
	budgets  map[string]budgetRow
	releases map[string]releaseRow
}

func newState() *ledgerState {
	return &ledgerState{budgets: map[string]budgetRow{}, releases: map[string]releaseRow{}}
}

func (st *ledgerState) clone() *ledgerState {
	c := *st
	c.budgets = maps.Clone(st.budgets)
	c.releases = maps.Clone(st.releases)
	return &c
}

// fieldsOf checks that fields has exactly keys and returns their values.
func fieldsOf(fields map[string]string, keys ...string) ([]string, error) {
	if len(fields) != len(keys) {
		return nil, fmt.Errorf("has fields %v, want %v", slices.Sorted(maps.Keys(fields)), keys)
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		v, ok := fields[k]
		if !ok {
			return nil, fmt.Errorf("has fields %v, want %v", slices.Sorted(maps.Keys(fields)), keys)
		}
		out[i] = v
	}
	return out, nil
}

// fieldsWithOptional checks that fields has exactly keys plus any of
// optional, and returns the values of keys in order and the optional ones
// present.
func fieldsWithOptional(fields map[string]string, keys []string, optional ...string) ([]string, map[string]string, error) {
	opt := map[string]string{}
	all := slices.Clone(keys)
	for _, k := range optional {
		if v, ok := fields[k]; ok {
			opt[k] = v
			all = append(all, k)
		}
	}
	v, err := fieldsOf(fields, all...)
	if err != nil {
		return nil, nil, err
	}
	return v[:len(keys)], opt, nil
}

func canonicalAmount(s string) error {
	a, err := ParseAmount(s)
	if err != nil {
		return err
	}
	if a.String() != s {
		return fmt.Errorf("amount %q: not in canonical form %q", s, a.String())
	}
	return nil
}

// apply checks that e is a valid next entry and applies it to st.
func (st *ledgerState) apply(e journalEntry) error {
	if e.Seq != st.head+1 {
		return fmt.Errorf("entry %d: expected entry %d", e.Seq, st.head+1)
	}
	if (e.Seq == 1) != (e.Op == opLedgerCreated) {
		return fmt.Errorf("entry %d: the first entry, and only it, must be %s", e.Seq, opLedgerCreated)
	}
	if _, err := parseTime(e.Time); err != nil {
		return fmt.Errorf("entry %d: %w", e.Seq, err)
	}
	if err := st.applyOp(e); err != nil {
		return fmt.Errorf("entry %d (%s): %w", e.Seq, e.Op, err)
	}
	st.head = e.Seq
	return nil
}

func (st *ledgerState) applyOp(e journalEntry) error {
	switch e.Op {
	case opLedgerCreated:
		v, err := fieldsOf(e.Fields, "ledger_id", "schema_version")
		if err != nil {
			return err
		}
		if v[0] == "" {
			return errors.New("empty ledger_id")
		}
		if v[1] != strconv.Itoa(LedgerSchemaVersion) {
			return fmt.Errorf("schema version %q: this privagg reads version %d", v[1], LedgerSchemaVersion)
		}
		st.ledgerID, st.schema = v[0], v[1]
	case opBudgetSet:
		v, err := budgetSetValues(e.Fields)
		if err != nil {
			return err
		}
		b := budgetRow{Dataset: v[0], Epsilon: v[1], Delta: v[2], Period: v[3], Created: v[4]}
		if err := b.validate(); err != nil {
			return err
		}
		st.budgets[b.Dataset] = b
	case opReserved:
		v, opt, err := fieldsWithOptional(e.Fields, []string{"release_id", "dataset", "job", "purpose", "epsilon", "delta",
			"reserved_at", "outputs", "output_dir", "job_sha256", "period_start"}, fieldConsentWaiver, fieldJobDigest)
		if err != nil {
			return err
		}
		r := releaseRow{ReleaseID: v[0], Dataset: v[1], Job: v[2], Purpose: v[3], Epsilon: v[4], Delta: v[5],
			State: string(StateReserved), ReservedAt: v[6], Outputs: v[7], OutputDir: v[8], JobSHA256: v[9], PeriodStart: v[10]}
		if w, ok := opt[fieldConsentWaiver]; ok {
			if strings.TrimSpace(w) == "" {
				return errors.New("empty consent_waiver")
			}
			r.journal.ConsentWaiver = w
		}
		if d, ok := opt[fieldJobDigest]; ok {
			if !sha256HexRE.MatchString(d) {
				return fmt.Errorf("job_digest %q: must be 64 lower-case hex digits", d)
			}
			r.journal.JobDigest = d
		}
		if _, ok := st.releases[r.ReleaseID]; ok {
			return fmt.Errorf("release %q reserved twice", r.ReleaseID)
		}
		if _, err := r.record(); err != nil {
			return err
		}
		st.releases[r.ReleaseID] = r
	case opWriting:
		v, err := fieldsOf(e.Fields, "release_id", "writing_at")
		if err != nil {
			return err
		}
		r, ok := st.releases[v[0]]
		if !ok {
			return fmt.Errorf("release %q: %w", v[0], ErrUnknownRelease)
		}
		if r.State != string(StateReserved) || r.journal.WritingAt != "" {
			return fmt.Errorf("release %q is %s (writing since %q), want reserved and not yet writing", v[0], r.State, r.journal.WritingAt)
		}
		if _, err := parseTime(v[1]); err != nil {
			return err
		}
		r.journal.WritingAt = v[1]
		st.releases[r.ReleaseID] = r
	case opRepublished:
		v, err := fieldsOf(e.Fields, "release_id", "republished_at")
		if err != nil {
			return err
		}
		r, ok := st.releases[v[0]]
		if !ok {
			return fmt.Errorf("release %q: %w", v[0], ErrUnknownRelease)
		}
		if r.State != string(StatePublished) {
			return fmt.Errorf("release %q is %s, want published", v[0], r.State)
		}
		if _, err := parseTime(v[1]); err != nil {
			return err
		}
		r.journal.RepublishedAt = v[1]
		st.releases[r.ReleaseID] = r
	case opStored, opPublished:
		timeField, from, to := "stored_at", StateReserved, StateStored
		var optional []string
		if e.Op == opPublished {
			timeField, from, to = "published_at", StateStored, StatePublished
		} else {
			optional = []string{fieldFiles, fieldPublished}
		}
		v, opt, err := fieldsWithOptional(e.Fields, []string{"release_id", timeField}, optional...)
		if err != nil {
			return err
		}
		r, ok := st.releases[v[0]]
		if !ok {
			return fmt.Errorf("release %q: %w", v[0], ErrUnknownRelease)
		}
		if r.State != string(from) {
			return fmt.Errorf("release %q is %s, want %s", v[0], r.State, from)
		}
		if _, err := parseTime(v[1]); err != nil {
			return err
		}
		r.State = string(to)
		if to == StateStored {
			r.StoredAt = v[1]
			files, published := opt[fieldFiles], opt[fieldPublished]
			if (files == "") != (published == "") {
				return fmt.Errorf("release %q: fields %s and %s come together", v[0], fieldFiles, fieldPublished)
			}
			if files != "" {
				if _, err := decodeStoredFiles(files, published); err != nil {
					return fmt.Errorf("release %q: %w", v[0], err)
				}
			}
			r.journal.Files, r.journal.Published = files, published
		} else {
			r.PublishedAt = v[1]
		}
		st.releases[r.ReleaseID] = r
	default:
		return fmt.Errorf("unknown operation %q", e.Op)
	}
	return nil
}

func (b *budgetRow) validate() error {
	if err := validateDataset(b.Dataset); err != nil {
		return err
	}
	for _, s := range []string{b.Epsilon, b.Delta} {
		if err := canonicalAmount(s); err != nil {
			return err
		}
	}
	if p, err := ParsePeriod(b.Period); err != nil {
		return err
	} else if p.String() != b.Period {
		return fmt.Errorf("period %q: not in canonical form", b.Period)
	}
	_, err := parseTime(b.Created)
	return err
}

// record converts a row to its public form, checking every field.
func (r *releaseRow) record() (ReleaseRecord, error) {
	rec := ReleaseRecord{ReleaseID: r.ReleaseID, Dataset: r.Dataset, Job: r.Job, Purpose: r.Purpose,
		State: ReleaseState(r.State), OutputDir: r.OutputDir, JobSHA256: r.JobSHA256,
		ConsentWaiver: r.journal.ConsentWaiver, JobDigest: r.journal.JobDigest}
	if err := ValidateReleaseID(r.ReleaseID); err != nil {
		return rec, fmt.Errorf("release id %q: %w", r.ReleaseID, err)
	}
	if err := validateDataset(r.Dataset); err != nil {
		return rec, err
	}
	var err error
	for _, a := range []struct {
		s   string
		dst *Amount
	}{{r.Epsilon, &rec.Epsilon}, {r.Delta, &rec.Delta}} {
		if err := canonicalAmount(a.s); err != nil {
			return rec, err
		}
		*a.dst, _ = ParseAmount(a.s)
	}
	if rec.ReservedAt, err = parseTime(r.ReservedAt); err != nil {
		return rec, err
	}
	for _, t := range []struct {
		s   string
		dst **time.Time
	}{{r.StoredAt, &rec.StoredAt}, {r.PublishedAt, &rec.PublishedAt}, {r.PeriodStart, &rec.PeriodStart}, {r.journal.WritingAt, &rec.WritingAt}, {r.journal.RepublishedAt, &rec.RepublishedAt}} {
		if t.s == "" {
			continue
		}
		v, err := parseTime(t.s)
		if err != nil {
			return rec, err
		}
		*t.dst = &v
	}
	switch rec.State {
	case StateReserved, StateStored, StatePublished:
	default:
		return rec, fmt.Errorf("state %q: must be reserved, stored or published", r.State)
	}
	if err := json.Unmarshal([]byte(r.Outputs), &rec.Outputs); err != nil || rec.Outputs == nil {
		return rec, fmt.Errorf("outputs %q: must be a JSON array of names", r.Outputs)
	}
	if r.journal.Files != "" {
		if rec.Files, err = decodeStoredFiles(r.journal.Files, r.journal.Published); err != nil {
			return rec, err
		}
	}
	return rec, nil
}

// diff describes the first difference between the journal's replay (want)
// and the ledger's rows (got), or returns "".
func diff(want, got *ledgerState) string {
	if want.ledgerID != got.ledgerID {
		return "the ledger and the journal belong to different ledgers (ledger ids differ)"
	}
	if want.schema != got.schema {
		return fmt.Sprintf("schema version %q in the journal, %q in the ledger", want.schema, got.schema)
	}
	for _, d := range slices.Sorted(maps.Keys(want.budgets)) {
		g, ok := got.budgets[d]
		if !ok {
			return fmt.Sprintf("the budget of dataset %q is in the journal but not in the ledger", d)
		}
		if g != want.budgets[d] {
			return fmt.Sprintf("the budget of dataset %q differs between journal and ledger", d)
		}
	}
	for _, d := range slices.Sorted(maps.Keys(got.budgets)) {
		if _, ok := want.budgets[d]; !ok {
			return fmt.Sprintf("the budget of dataset %q is in the ledger but not in the journal", d)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(want.releases)) {
		g, ok := got.releases[id]
		if !ok {
			return fmt.Sprintf("release %q is in the journal but not in the ledger", id)
		}
		if g != want.releases[id] {
			return fmt.Sprintf("release %q differs between journal and ledger", id)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(got.releases)) {
		if _, ok := want.releases[id]; !ok {
			return fmt.Sprintf("release %q is in the ledger but not in the journal", id)
		}
	}
	return ""
}
