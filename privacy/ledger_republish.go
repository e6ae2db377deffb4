package privacy

import (
	"context"
	"fmt"
	"time"
)

// MarkRepublished records that a published release was published again
// (its stored files copied to its output folder once more, without new
// noise or charge). It is journal-only: the ledger file's rows do not
// change. A release that is not published is refused (ErrReleaseConflict).
func (l *Ledger) MarkRepublished(ctx context.Context, releaseID string) error {
	return l.withSession(ctx, true, func(s *session) error {
		r, ok := s.st.releases[releaseID]
		switch {
		case !ok:
			return fmt.Errorf("mark release %q republished: %w", releaseID, ErrUnknownRelease)
		case r.State != string(StatePublished):
			return fmt.Errorf("mark release %q republished: it is %s, not published: %w", releaseID, r.State, ErrReleaseConflict)
		}
		return s.apply(ctx, opRepublished, map[string]string{"release_id": releaseID, "republished_at": formatTime(s.now)})
	})
}

// LastPublished is when the release was last published into its output
// folder: its latest re-publication, else its publication; nil if it was
// never published.
func (rec *ReleaseRecord) LastPublished() *time.Time {
	if rec.RepublishedAt != nil && (rec.PublishedAt == nil || rec.RepublishedAt.After(*rec.PublishedAt)) {
		return rec.RepublishedAt
	}
	return rec.PublishedAt
}
