package release

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// A published folder keeps every release published into it: the latest
// publication of each output at the top (<output>.manifest.json and its
// data file, as before), and each release's files, byte for byte as
// stored (so their manifests' sha256 still hold), in
// history/<release_id>/, with a publication.json saying when the release
// was last published into the folder. Analysts who may read the folder but
// not the ledger query the history as <output>__<release_id> tables.

// HistoryDir is the subfolder of a published folder that keeps every
// release published into it, one subfolder per release id.
const HistoryDir = "history"

// PublicationFile is the file in history/<release_id>/ that records the
// release's last publication into the folder.
const PublicationFile = "publication.json"

// Publication is the content of PublicationFile.
type Publication struct {
	ReleaseID   string    `json:"release_id"`
	Outputs     []string  `json:"outputs"`
	PublishedAt time.Time `json:"published_at"`
}

// ReadPublication reads a PublicationFile, refusing unknown fields.
func ReadPublication(r io.Reader) (*Publication, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var p Publication
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("read %s: %w", PublicationFile, err)
	}
	if p.ReleaseID == "" || p.PublishedAt.IsZero() {
		return nil, fmt.Errorf("read %s: release_id and published_at are required", PublicationFile)
	}
	return &p, nil
}

// ShrinkShare is the share of rows a table may lose against the release it
// replaces in a published folder before the publication warns: a table
// that loses more than half of its rows is likely to break what reads it.
const ShrinkShare = 0.5

// Shrink is a table that a publication makes much smaller than the one it
// replaces in the published folder (more than ShrinkShare of its rows
// fewer). Released row counts are public (every manifest has them).
type Shrink struct {
	Output   string
	Replaced string // release id of the table replaced
	From, To int64  // released rows before and after
}

func (s Shrink) String() string {
	return fmt.Sprintf("table %s goes from %d rows (release %s) to %d: it loses %.0f%% of its rows; "+
		"earlier releases stay in %s/ (query them as %s__<release_id>)",
		s.Output, s.From, s.Replaced, s.To, 100*float64(s.From-s.To)/float64(s.From), HistoryDir, s.Output)
}

// shrinks compares the manifests about to be published with those they
// replace at the top of outDir. A missing or unreadable manifest there is
// not compared: the warning is advice, never a reason to refuse.
func shrinks(outDir string, next []*Manifest) []Shrink {
	var out []Shrink
	for _, m := range next {
		f, err := openRegular(filepath.Join(outDir, m.Output+ManifestSuffix))
		if err != nil {
			continue
		}
		old, err := ReadManifest(f)
		f.Close()
		if err != nil || old.ReleaseID == m.ReleaseID || old.Rows <= 0 {
			continue
		}
		if float64(old.Rows-m.Rows) > ShrinkShare*float64(old.Rows) {
			out = append(out, Shrink{Output: m.Output, Replaced: old.ReleaseID, From: old.Rows, To: m.Rows})
		}
	}
	return out
}

// readManifests reads the named manifests of the release store storeDir;
// they must all be of one release, whose id it returns.
func readManifests(storeDir string, names []string) (string, []*Manifest, error) {
	var id string
	ms := make([]*Manifest, 0, len(names))
	for _, name := range names {
		f, err := openRegular(filepath.Join(storeDir, name))
		if err != nil {
			return "", nil, err
		}
		m, err := ReadManifest(f)
		f.Close()
		if err != nil {
			return "", nil, fmt.Errorf("%s: %w", name, err)
		}
		if id == "" {
			id = m.ReleaseID
		}
		if m.ReleaseID != id || !validFileName(id) {
			return "", nil, fmt.Errorf("%s: release_id %q: every manifest of a publication must name one release, a plain folder name (first: %q)", name, m.ReleaseID, id)
		}
		ms = append(ms, m)
	}
	if id == "" {
		return "", nil, errors.New("no manifest to publish")
	}
	return id, ms, nil
}

// historyFolder returns outDir/history/<id>, refusing a symlink on the way
// (the folder is written into).
func historyFolder(outDir, id string) (string, error) {
	dir := filepath.Join(outDir, HistoryDir, id)
	for _, p := range []string{filepath.Join(outDir, HistoryDir), dir} {
		st, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return "", err
		}
		if !st.IsDir() {
			return "", fmt.Errorf("%s: is not a folder (a symlink is refused)", p)
		}
	}
	return dir, nil
}

func outputsOf(ms []*Manifest) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Output
	}
	return out
}

// encodePublication is the PublicationFile of a publication.
func encodePublication(id string, ms []*Manifest, at time.Time) func(io.Writer) error {
	return func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(Publication{ReleaseID: id, Outputs: outputsOf(ms), PublishedAt: at.UTC()})
	}
}
