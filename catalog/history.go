package catalog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/privagg/privagg/release"
)

// The latest release of an output, for `privagg query`, `privagg serve` and
// the console alike, is the release that was last published into an output
// folder with that output: a re-publication of an older release makes it
// the latest again. Through the ledger, the publication time is the
// ledger's (privacy.ReleaseRecord.LastPublished: published, or last
// re-published); through published folders (--from), it is the
// history/<release_id>/publication.json that every publication writes
// (release.Publish), so both see the release whose files are at the top of
// the folder. newer (catalog.go) is the one comparison.

// readHistory adds to rels (the releases at the top of the published folder
// dir, by id) the releases kept in dir/history/<release_id>/: each
// release's publication time from its publication.json, and the tables of
// every release not at the top of the folder. A folder without history
// (published before privagg kept one) adds nothing.
func readHistory(dir string, rels []Release, byID map[string]int) ([]Release, error) {
	hist := filepath.Join(dir, release.HistoryDir)
	if _, err := os.Lstat(hist); errors.Is(err, fs.ErrNotExist) {
		return rels, nil
	}
	if err := checkNotSymlink(hist, "history folder"); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(hist)
	if err != nil {
		return nil, publishedError(dir, err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue // publish's temporary folder
		}
		sub := filepath.Join(hist, e.Name())
		if !e.IsDir() {
			return nil, fmt.Errorf("history %s: is not a folder (symlinks are refused); %s/ holds one folder per release", sub, release.HistoryDir)
		}
		old, err := readPublished(sub)
		if err != nil {
			return nil, err
		}
		pub, err := readPublication(sub)
		if err != nil {
			return nil, err
		}
		for _, r := range old {
			if pub != nil && r.ReleaseID != pub.ReleaseID {
				return nil, fmt.Errorf("history %s: manifest of release %s in the folder of release %s", sub, r.ReleaseID, pub.ReleaseID)
			}
			if pub != nil {
				at := pub.PublishedAt.UTC()
				r.PublishedAt = &at
			}
			i, ok := byID[r.ReleaseID]
			if !ok {
				r.OutputDir = dir
				rels = append(rels, r)
				byID[r.ReleaseID] = len(rels) - 1
				continue
			}
			top := &rels[i]
			top.PublishedAt = r.PublishedAt
			for _, t := range r.Tables {
				if !top.hasOutput(t.Output) {
					top.Outputs = append(top.Outputs, t.Output)
					top.Tables = append(top.Tables, t)
				}
			}
		}
	}
	return rels, nil
}

// readPublication reads dir's publication.json; nil if there is none.
func readPublication(dir string) (*release.Publication, error) {
	f, err := openNoFollow(filepath.Join(dir, release.PublicationFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, publishedError(dir, err)
	}
	defer f.Close()
	p, err := release.ReadPublication(f)
	if err != nil {
		return nil, fmt.Errorf("history %s: %w", dir, err)
	}
	return p, nil
}

func (r *Release) hasOutput(output string) bool {
	for _, t := range r.Tables {
		if strings.EqualFold(t.Output, output) {
			return true
		}
	}
	return false
}
