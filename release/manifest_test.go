package release

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
