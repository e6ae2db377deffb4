package release

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestReadManifest(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("testdata", "sinks", "csv", "campaign_weekly.manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("golden", func(t *testing.T) {
		m, err := ReadManifest(bytes.NewReader(golden))
		if err != nil {
			t.Fatal(err)
		}
		if m.ReleaseID != testMeta.ID || m.Rows != 5 || m.File != "campaign_weekly.csv" || len(m.Columns) != 8 || len(m.Metrics) != 2 {
			t.Errorf("unexpected manifest %+v", m)
		}
		var buf bytes.Buffer
		if err := m.encode(&buf); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), golden) {
			t.Errorf("re-encoding changes the manifest:\n%s", buf.Bytes())
		}
	})
	tests := []struct{ name, in, want string }{
		{"unknown field", strings.Replace(string(golden), `"rows"`, `"true_rows": 1, "rows"`, 1), `unknown field "true_rows"`},
		{"version", strings.Replace(string(golden), `"manifest_version": 1`, `"manifest_version": 2`, 1), "manifest_version 2 is not supported"},
		{"not json", "rows: 5", "read manifest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadManifest(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestManifestCarriesNoData checks that a manifest holds no value of the
// released rows: only names, types and privacy parameters.
func TestManifestCarriesNoData(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "sinks", "csv", "by_channel.manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"email", "search", "social", "101", "250"} {
		if bytes.Contains(b, []byte(v)) {
			t.Errorf("manifest contains the released value %q", v)
		}
	}
}

func FuzzReadManifest(f *testing.F) {
	for _, p := range []string{"csv/campaign_weekly.manifest.json", "duckdb/by_channel.manifest.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", "sinks", p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ReadManifest(bytes.NewReader(b))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := m.encode(&buf); err != nil {
			t.Fatalf("decoded manifest does not encode: %v", err)
		}
		if _, err := ReadManifest(&buf); err != nil {
			t.Fatalf("re-encoded manifest does not decode: %v", err)
		}
	})
}

// TestManifestStatesKTruthfully: k is a promise about every row only when
// the keys came from DP partition selection. An output with public
// partitions releases every listed key, on any number of people (zero
// included), so its manifest, its Parquet metadata and its DuckDB comment
// must not claim k.
func TestManifestStatesKTruthfully(t *testing.T) {
	withVersion(t, "test")
	for _, format := range formats {
		t.Run(format, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			tables := testTables(t, mem) // campaign_weekly: selected with k 10; by_channel: public
			defer freeTables(tables)
			dir := t.TempDir()
			if _, err := writeRelease(context.Background(), testSink(t, format, mem), tables, testMeta, dir, defaultFSOps); err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				output, partitions string
				k                  int64
				note               string
			}{
				{"campaign_weekly", "selected", 10, "rows standing on fewer than k people"},
				{"by_channel", "public", 0, "may stand on fewer people"},
			} {
				f, err := os.Open(filepath.Join(dir, tc.output+ManifestSuffix))
				if err != nil {
					t.Fatal(err)
				}
				m, err := ReadManifest(f)
				f.Close()
				if err != nil {
					t.Fatal(err)
				}
				if m.K != tc.k || m.Partitions != tc.partitions || !strings.Contains(m.Note, tc.note) {
					t.Errorf("%s: k %d, partitions %q, note %q; want k %d, partitions %q, a note saying %q",
						tc.output, m.K, m.Partitions, m.Note, tc.k, tc.partitions, tc.note)
				}
			}
		})
	}
}
