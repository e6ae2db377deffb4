package privacy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
)

// ErrNoiseWritten: noised values of a reserved release may have reached
// disk (MarkWriting was recorded) but the release was never stored. Such a
// release is never recomputed, since new noise would be a second draw of
// values that may have been seen; its charge stays and a new release id is
// a new charge.
var ErrNoiseWritten = errors.New("noised values of the release may have reached disk")

// JobIdentity is what identifies the job behind a release, as recorded at
// its reservation.
type JobIdentity struct {
	Job       string // the job's name
	Purpose   string // its consent purpose
	JobSHA256 string // SHA-256 of the job file
	JobDigest string // digest of the effective job (job.Digest)
}

func (r ReserveRequest) identity() JobIdentity {
	return JobIdentity{Job: r.Job, Purpose: r.Purpose, JobSHA256: r.JobSHA256, JobDigest: r.JobDigest}
}

// CheckJob returns an error wrapping ErrReleaseConflict unless id is the
// job that reserved the release: the same digest of the effective job (the
// job file with its PRIVAGG_* overrides) when the ledger recorded one; for
// releases reserved before it did, the same job name, purpose and job file
// (when its hash was recorded).
func (rec *ReleaseRecord) CheckJob(id JobIdentity) error {
	var differs string
	switch {
	case rec.JobDigest != "":
		if id.JobDigest != rec.JobDigest {
			differs = "the job file or its PRIVAGG_* environment overrides differ"
		}
	case id.Job != rec.Job:
		differs = fmt.Sprintf("job name %q, not %q", rec.Job, id.Job)
	case id.Purpose != rec.Purpose:
		differs = fmt.Sprintf("purpose %q, not %q", rec.Purpose, id.Purpose)
	case rec.JobSHA256 != "" && id.JobSHA256 != rec.JobSHA256:
		differs = "the job file differs"
	}
	if differs == "" {
		return nil
	}
	return fmt.Errorf("release %q was made by a different job (%s); use a new release id: %w", rec.ReleaseID, differs, ErrReleaseConflict)
}

// CheckResumable returns an error wrapping ErrNoiseWritten if the release
// is reserved and noised values of it may have reached disk, so that it
// must not be recomputed.
func (rec *ReleaseRecord) CheckResumable() error {
	if rec.State != StateReserved || rec.WritingAt == nil {
		return nil
	}
	return fmt.Errorf("release %q was interrupted after %s, when its noised values began to be written, and before it "+
		"was stored: privagg never draws a release's noise twice, so it cannot be completed; its budget stays charged; "+
		"run the job with a new release id (a new charge): %w",
		rec.ReleaseID, rec.WritingAt.Format("2006-01-02T15:04:05Z07:00"), ErrNoiseWritten)
}

// MarkWriting records that noised values of a reserved release may reach
// disk from now on: it is called before the first noised byte is written
// (to the release store, or by an engine that writes its results to files).
// From then on the release is stored and re-published, or never completed:
// Reserve refuses to resume it (ErrNoiseWritten). Only one run can mark a
// release: a second call fails with ErrNoiseWritten, so two runs of one
// release id never both write noise.
func (l *Ledger) MarkWriting(ctx context.Context, releaseID string) error {
	return l.withSession(ctx, true, func(s *session) error {
		r, ok := s.st.releases[releaseID]
		switch {
		case !ok:
			return fmt.Errorf("mark release %q writing: %w", releaseID, ErrUnknownRelease)
		case r.State != string(StateReserved):
			return fmt.Errorf("mark release %q writing: it is %s: %w", releaseID, r.State, ErrAlreadyStored)
		case r.journal.WritingAt != "":
			return fmt.Errorf("mark release %q writing: another run has been writing it since %s: %w",
				releaseID, r.journal.WritingAt, ErrNoiseWritten)
		}
		return s.apply(ctx, opWriting, map[string]string{"release_id": releaseID, "writing_at": formatTime(s.now)})
	})
}

// StoredFiles is what a release store holds: every file with its SHA-256,
// and the names of those published to output.dir (byte-for-byte copies, so
// their SHA-256 is the stored one). Names are slash-separated paths inside
// the release store folder.
type StoredFiles struct {
	SHA256    map[string]string `json:"sha256"`    // file name -> lower-case hex SHA-256
	Published []string          `json:"published"` // in publication order
}

// validate checks that every name is a plain path inside the store, every
// hash 64 lower-case hex digits, and that the published files are stored
// files, each listed once.
func (f *StoredFiles) validate() error {
	if len(f.SHA256) == 0 || len(f.Published) == 0 {
		return errors.New("stored files: want at least one stored and one published file")
	}
	for _, name := range slices.Sorted(maps.Keys(f.SHA256)) {
		if !validStoreName(name) {
			return fmt.Errorf("stored file %q: must be a relative path inside the release store", name)
		}
		if !sha256HexRE.MatchString(f.SHA256[name]) {
			return fmt.Errorf("stored file %q: sha256 %q must be 64 lower-case hex digits", name, f.SHA256[name])
		}
	}
	seen := map[string]bool{}
	for _, name := range f.Published {
		if _, ok := f.SHA256[name]; !ok || seen[name] {
			return fmt.Errorf("published file %q: must be a stored file, listed once", name)
		}
		seen[name] = true
	}
	return nil
}

// validStoreName reports whether name is a clean, slash-separated relative
// path that stays inside its folder and names no hidden file.
func validStoreName(name string) bool {
	if name == "" || path.Clean(name) != name || path.IsAbs(name) || strings.Contains(name, `\`) {
		return false
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." || strings.HasPrefix(part, ".") {
			return false
		}
	}
	return true
}

// fields encodes f as the stored entry's optional fields.
func (f *StoredFiles) fields() (map[string]string, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	files, err := json.Marshal(f.SHA256)
	if err != nil {
		return nil, err
	}
	published, err := json.Marshal(f.Published)
	if err != nil {
		return nil, err
	}
	return map[string]string{fieldFiles: string(files), fieldPublished: string(published)}, nil
}

// decodeStoredFiles decodes and validates a stored entry's files and
// published fields.
func decodeStoredFiles(files, published string) (*StoredFiles, error) {
	f := &StoredFiles{}
	if err := json.Unmarshal([]byte(files), &f.SHA256); err != nil {
		return nil, fmt.Errorf("%s: must be a JSON object of file name to sha256: %w", fieldFiles, err)
	}
	if err := json.Unmarshal([]byte(published), &f.Published); err != nil {
		return nil, fmt.Errorf("%s: must be a JSON array of file names: %w", fieldPublished, err)
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	return f, nil
}
