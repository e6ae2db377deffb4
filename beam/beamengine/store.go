package beamengine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/privagg/privagg/pipeline"
	"github.com/privagg/privagg/privacy"
)

// The release store layout is pipeline's (docs/ARCHITECTURE.md): the same
// files, and publishedList naming what to publish, so that a release made by
// either engine is re-published by either. pipeline keeps its store and
// republish steps unexported; these mirror them line for line.

const publishedList = "published-files.json"

// store writes the release into the release store and marks it stored.
func store(ctx context.Context, led *privacy.Ledger, id string, job *pipeline.Job, rel *privacy.Release) ([]string, error) {
	dir := led.StoreDir(id)
	if err := os.RemoveAll(dir); err != nil { // a reserved release being recomputed may have left partial files
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	sink, err := pipeline.NewSink(job.Output.Format)
	if err != nil {
		return nil, err
	}
	written, err := sink.Write(ctx, rel, dir)
	if err != nil {
		return nil, err
	}
	files := pipeline.FileNames(written)
	if jobBytes, err := os.ReadFile(job.File); err == nil {
		if err := writeFileAtomic(filepath.Join(dir, "job.yaml"), jobBytes); err != nil {
			return nil, err
		}
	}
	list, err := json.MarshalIndent(files, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(dir, publishedList), list); err != nil {
		return nil, err
	}
	if err := led.MarkStored(ctx, id); err != nil {
		return nil, err
	}
	return files, nil
}

// republish copies a stored release to outDir again, byte for byte.
func republish(ctx context.Context, led *privacy.Ledger, id, outDir string) ([]string, error) {
	dir := led.StoreDir(id)
	data, err := os.ReadFile(filepath.Join(dir, publishedList))
	if err != nil {
		return nil, &privacy.LedgerError{Path: dir, Reason: "release store is missing the stored release", Hint: "restore the release store from backup", Err: err}
	}
	var files []string
	if err := json.Unmarshal(data, &files); err != nil {
		return nil, &privacy.LedgerError{Path: dir, Reason: "release store is damaged", Hint: "restore the release store from backup", Err: err}
	}
	if err := pipeline.Publish(ctx, dir, outDir, files); err != nil {
		return nil, err
	}
	rec, err := led.Lookup(ctx, id)
	if err != nil {
		return nil, err
	}
	if rec.State != privacy.StatePublished {
		if err := led.MarkPublished(ctx, id); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// writeRunReport writes the internal report beside the ledger.
func writeRunReport(ledgerPath string, r pipeline.RunReport) error {
	dir := filepath.Join(filepath.Dir(ledgerPath), "privagg-runs")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	name := fmt.Sprintf("%s.%s.json", r.ReleaseID, r.Started.Format("20060102T150405.000Z"))
	return writeFileAtomic(filepath.Join(dir, name), data)
}

// writeFileAtomic writes data to path through a temp file in the same
// folder, fsync and rename.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

func fileSHA256(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
