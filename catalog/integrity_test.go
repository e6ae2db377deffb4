package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privagg/privagg/privacy"
	"github.com/privagg/privagg/release"
)

// plantRawInput makes dir look like the release store of a csv release whose
// by_channel table is the raw input: the data file is a copy of the input
// and the manifest, edited to match it, declares the input's columns.
func plantRawInput(t *testing.T, dir, input string) {
	t.Helper()
	raw, err := os.ReadFile(input)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "by_channel.csv"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "by_channel"+release.ManifestSuffix)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m release.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	m.SHA256, m.Bytes = hex.EncodeToString(sum[:]), int64(len(raw))
	m.GroupBy = []string{"email", "user_id", "campaign", "channel", "revenue", "consent_marketing"}
	m.Columns = nil
	for _, c := range m.GroupBy {
		m.Columns = append(m.Columns, release.ManifestColumn{Name: c, Type: "VARCHAR"})
	}
	m.Metrics = nil
	out, err := json.Marshal(&m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestQueryRefusesChangedStore: `privagg query` reads a release only if every
// file of its release store has the hash the ledger recorded and none of
// them (nor the store folder) is a symlink. A raw input planted in the store
// with a matching manifest, directly or through a symlinked folder, is
// refused with a *release.IntegrityError naming the file, and no raw value
// is ever returned.
func TestQueryRefusesChangedStore(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, f *fixture, store string)
	}{
		{"raw input planted in the store", func(t *testing.T, f *fixture, store string) {
			plantRawInput(t, store, f.input)
		}},
		{"store folder a symlink to a planted copy", func(t *testing.T, f *fixture, store string) {
			planted := filepath.Join(t.TempDir(), "planted")
			if err := os.Rename(store, planted); err != nil {
				t.Fatal(err)
			}
			plantRawInput(t, planted, f.input)
			if err := os.Symlink(planted, store); err != nil {
				t.Fatal(err)
			}
		}},
		{"data file a symlink to the same bytes", func(t *testing.T, _ *fixture, store string) {
			path := filepath.Join(store, "by_channel.csv")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			elsewhere := filepath.Join(t.TempDir(), "by_channel.csv")
			if err := os.WriteFile(elsewhere, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(elsewhere, path); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, t.TempDir())
			f.release(t, "csv", false, "rel-1")
			led, err := privacy.OpenLedger(f.ledger)
			if err != nil {
				t.Fatal(err)
			}
			tc.tamper(t, f, led.StoreDir("rel-1"))
			c, err := Load(context.Background(), led)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			db, err := OpenDB(context.Background(), c)
			if err == nil {
				defer db.Close()
				out, qerr := db.eng.QueryRows(context.Background(), "SELECT * FROM by_channel")
				t.Fatalf("OpenDB of a changed store succeeded; by_channel returns %v (err %v)", out, qerr)
			}
			var ie *release.IntegrityError
			if !errors.As(err, &ie) {
				t.Fatalf("OpenDB: %v, want a *release.IntegrityError", err)
			}
			if !strings.Contains(err.Error(), led.StoreDir("rel-1")) {
				t.Errorf("error %q does not name the file", err)
			}
			if strings.Contains(err.Error(), "example.com") {
				t.Errorf("error %q quotes raw values", err)
			}
		})
	}
}
