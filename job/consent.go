package job

import (
	"fmt"
	"time"

	"github.com/privagg/privagg/privacy"
)

// FoldUnitCase reports whether person ids are also lower-cased before they
// are compared (privacy_unit_case: fold).
func (j *Job) FoldUnitCase() bool { return j.PrivacyUnitCase == "fold" }

// Warnings are what `privagg validate` and `privagg plan` point out about a
// valid job: a consent waiver, and columns that look like direct
// identifiers but are not listed under identifiers.
func (j *Job) Warnings() []string {
	var w []string
	if j.Consent.Waived != "" {
		w = append(w, fmt.Sprintf("consent is waived (%q): no consent filter is applied, every person's rows are counted; "+
			"the reason is recorded in the ledger, the manifests and the release report", j.Consent.Waived))
	}
	return append(w, j.identifierWarnings()...)
}

// ReleaseMetadata is the metadata a release of the job carries (the
// Releaser adds its id, budget and noise).
func (j *Job) ReleaseMetadata(created time.Time) privacy.Metadata {
	return privacy.Metadata{Job: j.Name, Dataset: j.Dataset, Purpose: j.Purpose, ConsentWaiver: j.Consent.Waived, Created: created}
}
