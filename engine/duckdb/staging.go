package duckdb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/privagg/privagg/internal/atomicfile"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/transforms"
)

// Staging writes a de-identified, event-level copy of the consented rows for
// internal reuse. It is pseudonymous personal data, NOT anonymous: the
// pseudonym links a person's events, and anyone holding the key can link it
// back to the privacy unit. It is never a release and never goes to
// output.dir.

const stagingNote = "PSEUDONYMOUS PERSONAL DATA - NOT ANONYMOUS. Event-level rows of consented people; " +
	"the privacy unit is replaced by an HMAC-SHA256 pseudonym, direct identifiers are dropped and " +
	"quasi-identifiers are generalized. Internal reuse only; not a differentially private release."

type pseudonymizer struct {
	p          *transforms.Pseudonymizer
	keyVersion string
}

func newPseudonymizer(j *job.Job) (*pseudonymizer, error) {
	st := j.Staging
	key, err := transforms.KeyFromEnv(st.PseudonymKeyEnv)
	if err != nil {
		return nil, &job.ConfigError{File: j.File, Problems: []job.Problem{{Key: "staging.pseudonym_key_env", Value: st.PseudonymKeyEnv, Rule: err.Error()}}}
	}
	p, err := transforms.NewPseudonymizer(key, st.KeyVersion)
	if err != nil {
		return nil, &job.ConfigError{File: j.File, Problems: []job.Problem{{Key: "staging.pseudonym_key_env", Value: st.PseudonymKeyEnv, Rule: err.Error()}}}
	}
	return &pseudonymizer{p: p, keyVersion: st.KeyVersion}, nil
}

// stagedFile is a staging file written under a temp name, renamed into place
// only once the release is published.
type stagedFile struct{ f *atomicfile.File }

func (s *stagedFile) commit() error { return s.f.Commit() }

func (s *stagedFile) discard() { s.f.Abort() }

// writeStaging writes the staging file under a temp name in its folder.
func writeStaging(ctx context.Context, eng *DB, qp *queryPlan, ps *pseudonymizer, releaseID string) (*stagedFile, error) {
	job := qp.job
	const fn = "__privagg_pseudonym"
	if err := transforms.RegisterUDF(eng.Conn(), fn, ps.p); err != nil {
		return nil, fmt.Errorf("staging: %w", err)
	}
	unitName := job.PrivacyUnit + "_pseudonym"
	// The canonical person id, as bounding and the consent join use it.
	cols := []string{fmt.Sprintf("%s(%s) AS %s", fn, qp.unitText(), q(unitName))}
	for _, k := range qp.keyColumns() {
		cols = append(cols, q(k))
	}
	for j, m := range qp.measures {
		cols = append(cols, fmt.Sprintf("__v%d AS %s", j, q(m)))
	}
	dir := filepath.Dir(job.Staging.Path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("staging: %w", err)
	}
	f, err := atomicfile.Create(job.Staging.Path, 0o640)
	if err != nil {
		return nil, fmt.Errorf("staging: %w", err)
	}
	tmp := f.TempPath()
	meta := map[string]string{
		"privagg.kind":        "staging",
		"privagg.note":        stagingNote,
		"privagg.job":         job.Name,
		"privagg.release_id":  releaseID,
		"privagg.pseudonym":   "HMAC-SHA256, key from $" + job.Staging.PseudonymKeyEnv,
		"privagg.key_version": ps.keyVersion,
	}
	var kv []string
	for k, v := range meta {
		kv = append(kv, fmt.Sprintf("%s: %s", lit(k), lit(v)))
	}
	stmt := fmt.Sprintf("COPY (SELECT %s FROM %s) TO %s (FORMAT parquet, KV_METADATA {%s})",
		strings.Join(cols, ", "), viewClean, lit(tmp), strings.Join(kv, ", "))
	if err := eng.Exec(ctx, stmt); err != nil {
		f.Abort()
		return nil, fmt.Errorf("staging: %w", scrub(err))
	}
	return &stagedFile{f: f}, nil
}
