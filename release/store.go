package release

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/privagg/privagg/internal/atomicfile"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
)

// PublishedList is the file in the release store naming the files to publish.
const PublishedList = "published-files.json"

// Store writes the release into its folder in the release store, which
// must not exist yet (files a run may have shown are never replaced), and
// returns every stored file with its SHA-256 and the names of those to
// publish, for Ledger.MarkStored. The caller has recorded
// Ledger.MarkWriting before: from here on noised values reach disk.
//
// The values are rounded as output.round says (privacy.Release.Rounded)
// before anything is written, so the data files, their manifests and the
// release report all hold the same rounded values, and publication copies
// them byte for byte. plan is the plan rel was released under; the job file
// stored beside the tables is job.Source, the bytes the run loaded; counts
// are the run's exact counts, for the report's internal section.
func Store(ctx context.Context, led *privacy.Ledger, id string, job *job.Job, plan *privacy.Plan, rel *privacy.Release, counts RunCounts) (privacy.StoredFiles, error) {
	rel, err := rel.Rounded(job.Output.Round, nil)
	if err != nil {
		return privacy.StoredFiles{}, fmt.Errorf("output.round: %w", err)
	}
	defer rel.Free()
	dir := led.StoreDir(id)
	if err := os.MkdirAll(filepath.Dir(dir), 0o750); err != nil {
		return privacy.StoredFiles{}, err
	}
	if err := os.Mkdir(dir, 0o750); err != nil {
		return privacy.StoredFiles{}, fmt.Errorf("release store of %s: %w", id, err)
	}
	sink, err := NewSink(job.Output.Format)
	if err != nil {
		return privacy.StoredFiles{}, err
	}
	written, err := sink.Write(ctx, rel, dir)
	if err != nil {
		return privacy.StoredFiles{}, err
	}
	files := FileNames(written)
	if job.Source != nil {
		if err := atomicfile.WriteFile(filepath.Join(dir, "job.yaml"), job.Source, 0o640); err != nil {
			return privacy.StoredFiles{}, err
		}
	}
	list, err := json.MarshalIndent(files, "", "  ")
	if err != nil {
		return privacy.StoredFiles{}, err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, PublishedList), list, 0o640); err != nil {
		return privacy.StoredFiles{}, err
	}
	// Release report (report.go): part of the stored release, so hashed with it.
	if err := writeReleaseReport(ctx, led, id, job, plan, rel, counts); err != nil {
		return privacy.StoredFiles{}, err
	}
	sums, err := hashStore(dir)
	if err != nil {
		return privacy.StoredFiles{}, err
	}
	for _, f := range written {
		if sums[f.Name] != f.SHA256 {
			return privacy.StoredFiles{}, &IntegrityError{Path: filepath.Join(dir, f.Name), Reason: "changed while the release was being stored"}
		}
	}
	return privacy.StoredFiles{SHA256: sums, Published: files}, nil
}

// Republish copies a stored release to outDir again, byte for byte. It
// returns the files published and the tables that shrink against those
// they replace (see Publish); the caller then records the publication in
// the ledger, as after Publish. Every file is checked against the SHA-256 the ledger
// recorded when the release was stored (an *IntegrityError if one differs
// or is a symlink), and the copies are checked again as they are written.
// A release stored before the ledger recorded hashes is checked against
// its manifests, as it was then, and symlinks are refused.
func Republish(ctx context.Context, led *privacy.Ledger, rec *privacy.ReleaseRecord, outDir string) ([]string, []Shrink, error) {
	dir := led.StoreDir(rec.ReleaseID)
	var files []string
	var sums map[string]string
	if rec.Files != nil {
		if err := VerifyStore(dir, rec.Files); err != nil {
			return nil, nil, err
		}
		files, sums = rec.Files.Published, rec.Files.SHA256
	} else {
		var err error
		if files, err = readPublishedList(dir); err != nil {
			return nil, nil, err
		}
	}
	shrunk, err := publish(ctx, dir, outDir, files, sums, defaultFSOps)
	if err != nil {
		return nil, nil, err
	}
	return files, shrunk, nil
}

// readPublishedList reads the published-files list of a release stored
// before the ledger recorded hashes.
func readPublishedList(dir string) ([]string, error) {
	if err := checkStoreDir(dir); err != nil {
		return nil, err
	}
	f, err := openRegular(filepath.Join(dir, PublishedList))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var files []string
	if err := json.NewDecoder(f).Decode(&files); err != nil {
		return nil, &privacy.LedgerError{Path: dir, Reason: "release store is damaged", Hint: "restore the release store from backup", Err: err}
	}
	return files, nil
}
