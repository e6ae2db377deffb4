package release

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// writeStoreID writes the hand-made release under release id id.
func writeStoreID(t *testing.T, format, id string) (string, []WrittenFile) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	tables := testTables(t, mem)
	defer freeTables(tables)
	meta := testMeta
	meta.ID = id
	store := filepath.Join(t.TempDir(), "privagg-releases", id)
	files, err := writeRelease(context.Background(), testSink(t, format, mem), tables, meta, store, defaultFSOps)
	if err != nil {
		t.Fatal(err)
	}
	return store, files
}

func readPublicationFile(t *testing.T, dir string) *Publication {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, PublicationFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := ReadPublication(f)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPublishKeepsHistory publishes two releases into one folder: the top
// holds the last, history/<id>/ holds each byte for byte as stored (so the
// manifests' sha256 still hold), and re-publishing the first makes its
// publication.json the newest.
func TestPublishKeepsHistory(t *testing.T) {
	for _, format := range formats {
		t.Run(format, func(t *testing.T) {
			ctx := context.Background()
			out := filepath.Join(t.TempDir(), "out")
			storeA, filesA := writeStoreID(t, format, "rel-a")
			storeB, filesB := writeStoreID(t, format, "rel-b")
			for _, p := range []struct {
				store string
				files []WrittenFile
			}{{storeA, filesA}, {storeB, filesB}} {
				if _, err := Publish(ctx, p.store, out, FileNames(p.files), nil); err != nil {
					t.Fatal(err)
				}
			}
			if a, b := fmt.Sprint(listDir(t, storeB)), fmt.Sprint(listDir(t, out)); a != b {
				t.Errorf("top of the folder is not the last release:\n%s\n%s", a, b)
			}
			for id, store := range map[string]string{"rel-a": storeA, "rel-b": storeB} {
				hist := filepath.Join(out, HistoryDir, id)
				got := listDir(t, hist)
				if p := readPublicationFile(t, hist); p.ReleaseID != id || len(p.Outputs) != 2 {
					t.Errorf("%s: publication %+v", id, p)
				}
				delete(got, PublicationFile)
				if a, b := fmt.Sprint(listDir(t, store)), fmt.Sprint(got); a != b {
					t.Errorf("history of %s differs from its store:\n%s\n%s", id, a, b)
				}
			}
			before := readPublicationFile(t, filepath.Join(out, HistoryDir, "rel-b")).PublishedAt
			if _, err := Publish(ctx, storeA, out, FileNames(filesA), nil); err != nil {
				t.Fatal(err)
			}
			if a := readPublicationFile(t, filepath.Join(out, HistoryDir, "rel-a")).PublishedAt; !a.After(before) {
				t.Errorf("re-published rel-a at %v, not after rel-b's %v", a, before)
			}
			if a, b := fmt.Sprint(listDir(t, storeA)), fmt.Sprint(listDir(t, out)); a != b {
				t.Errorf("top of the folder is not the re-published release")
			}
		})
	}
}

// TestPublishWarnsWhenATableShrinks: a table that loses more than half of
// its rows against the release it replaces is reported; one that loses
// less, or the same release re-published, is not.
func TestPublishWarnsWhenATableShrinks(t *testing.T) {
	ctx := context.Background()
	store, files := writeStoreID(t, FormatCSV, "rel-new")
	for _, tc := range []struct {
		name    string
		oldRows int64
		oldID   string
		want    string
	}{
		{"loses most rows", 11, "rel-old", "table campaign_weekly goes from 11 rows (release rel-old) to 5: it loses 55% of its rows"},
		{"loses half", 10, "rel-old", ""},
		{"same release", 100, "rel-new", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			b, err := os.ReadFile(filepath.Join(store, "campaign_weekly"+ManifestSuffix))
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			m["rows"], m["release_id"] = tc.oldRows, tc.oldID
			if b, err = json.Marshal(m); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(out, "campaign_weekly"+ManifestSuffix), b, 0o644); err != nil {
				t.Fatal(err)
			}
			shrunk, err := Publish(ctx, store, out, FileNames(files), nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range shrunk {
				got = append(got, s.String())
			}
			if tc.want == "" && len(got) > 0 || tc.want != "" && (len(got) != 1 || !strings.HasPrefix(got[0], tc.want)) {
				t.Errorf("shrinks %q, want %q", got, tc.want)
			}
		})
	}
}
