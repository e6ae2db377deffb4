package job

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Fingerprint is the default release id: the job name and a hash of the job
// file and of the input files' paths, sizes and modification times.
func Fingerprint(job *Job) (string, error) {
	h := sha256.New()
	data, err := os.ReadFile(job.File)
	if err != nil {
		return "", fmt.Errorf("fingerprint: %w", err)
	}
	h.Write(data)
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

// FileSHA256 is the hex SHA-256 of the job file, or "" if it cannot be read.
func (j *Job) FileSHA256() string {
	data, err := os.ReadFile(j.File)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
