package job

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

// TestDigestAndFingerprintFollowOverrides: an override of what the job
// releases changes its digest and its default release id; an override of
// how it runs changes neither; without overrides the release id is the one
// earlier versions made (file and inputs only).
func TestDigestAndFingerprintFollowOverrides(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(path, []byte(minimalJob), 0o644); err != nil {
		t.Fatal(err)
	}
	load := func() (digest, id string) {
		t.Helper()
		j, err := LoadJob(path)
		if err != nil {
			t.Fatal(err)
		}
		if digest, err = Digest(j); err != nil {
			t.Fatal(err)
		}
		if id, err = Fingerprint(j); err != nil {
			t.Fatal(err)
		}
		return digest, id
	}
	baseDigest, baseID := load()
	// No input file exists, so earlier versions hashed the job file alone.
	sum := sha256.Sum256([]byte(minimalJob))
	if want := "minimal-" + hex.EncodeToString(sum[:])[:12]; baseID != want {
		t.Errorf("release id without overrides %s, want %s as before", baseID, want)
	}
	for _, tc := range []struct {
		env, value string
		changes    bool
	}{
		{"PRIVAGG_PURPOSE", "analytics", true},
		{"PRIVAGG_PRIVACY_EPSILON", "0.5", true},
		{"PRIVAGG_OUTPUT_DIR", "elsewhere", true},
		{"PRIVAGG_PRIVACY_THREADS", "1", false},
		{"PRIVAGG_LEDGER", "other-ledger.duckdb", false},
	} {
		t.Run(tc.env, func(t *testing.T) {
			t.Setenv(tc.env, tc.value)
			digest, id := load()
			if (digest != baseDigest) != tc.changes || (id != baseID) != tc.changes {
				t.Errorf("%s=%s: digest changed %v, id changed %v; want %v", tc.env, tc.value, digest != baseDigest, id != baseID, tc.changes)
			}
		})
	}
}
