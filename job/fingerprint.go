package job

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Fingerprint is the default release id: the job name and a hash of the job
// file as loaded (Job.Source), of the job's Digest when a PRIVAGG_* variable changes what the job
// releases (so that such an override makes another release, never a
// re-publication of the release made without it), and of the input files'
// paths, sizes and modification times.
func Fingerprint(job *Job) (string, error) {
	h := sha256.New()
	h.Write(job.Source)
	if slices.ContainsFunc(job.fromEnv, func(k string) bool { return !slices.Contains(runOnlyKeys, k) }) {
		digest, err := Digest(job)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "\x00env\x00%s\x00", digest)
	}
	paths, _ := filepath.Glob(job.Input.Path)
	paths = append(paths, job.referencedFiles()...)
	slices.Sort(paths)
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			fmt.Fprintf(h, "%s\x00missing\x00", p)
			continue
		}
		fmt.Fprintf(h, "%s\x00%d\x00%d\x00", p, st.Size(), st.ModTime().UnixNano())
	}
	return defaultReleaseID(job.Name, hex.EncodeToString(h.Sum(nil))[:12]), nil
}

// runOnlyKeys are the job keys that say how and where a job runs, not what
// it releases: Digest leaves them out.
var runOnlyKeys = []string{"ledger", "privacy.memory_limit", "privacy.temp_dir", "privacy.threads"}

// Digest is the hex SHA-256 of the effective job: every setting of the
// loaded job (the file with its PRIVAGG_* overrides, defaults applied and
// paths resolved) except runOnlyKeys and the job file's path. Two jobs with
// one digest release the same thing from the same input; the ledger
// records it at reservation, and only a job with the same digest may
// resume or re-publish the release.
func Digest(job *Job) (string, error) {
	c := *job
	c.File, c.Source, c.fromEnv, c.Ledger = "", nil, nil, ""
	c.Privacy.MemoryLimit, c.Privacy.TempDir, c.Privacy.Threads = "", "", 0
	data, err := json.Marshal(&c)
	if err != nil {
		return "", fmt.Errorf("job digest: %w", err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

// defaultReleaseID is the release id Fingerprint makes of a job name and a
// hash prefix.
func defaultReleaseID(name, hash string) string { return name + "-" + hash }

// referencedFiles are the files besides the input that change a release.
func (j *Job) referencedFiles() []string {
	var out []string
	if j.Consent.Table != nil {
		out = append(out, j.Consent.Table.Path)
	}
	for _, c := range j.Columns {
		if c.Map != nil {
			out = append(out, c.Map.File)
		}
	}
	for _, o := range j.Outputs {
		for _, pp := range o.PublicPartitions {
			if pp.File != "" {
				out = append(out, pp.File)
			}
		}
	}
	return out
}

// FileSHA256 is the hex SHA-256 of the job file as loaded (Job.Source), or
// "" for a job that was not loaded from bytes.
func (j *Job) FileSHA256() string {
	if j.Source == nil {
		return ""
	}
	sum := sha256.Sum256(j.Source)
	return hex.EncodeToString(sum[:])
}
