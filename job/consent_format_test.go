package job

import "testing"

// TestConsentFormat: a consent table's format is its extension's, as for
// the input (compressed files looked through), and CSV when the extension
// says nothing.
func TestConsentFormat(t *testing.T) {
	for path, want := range map[string]InputFormat{
		"c.csv": InputCSV, "c.tsv": InputCSV, "c.txt": InputCSV, "c": InputCSV,
		"c.parquet": InputParquet, "C.PARQUET": InputParquet,
		"c.json": InputJSON, "c.jsonl": InputJSON, "c.ndjson": InputJSON, "c.json.gz": InputJSON, "c.csv.zst": InputCSV,
	} {
		if got := ConsentFormat(path); got != want {
			t.Errorf("ConsentFormat(%q) = %q, want %q", path, got, want)
		}
	}
}
