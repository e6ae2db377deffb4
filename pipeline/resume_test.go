package pipeline

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

	"github.com/privagg/privagg/internal/testfixture"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
	"github.com/privagg/privagg/release"
)

// TestEnvOverrideChangesTheRelease: a PRIVAGG_* override that changes what
// the job releases makes another release (a new id, new noise, a new
// charge), never a re-publication of the release made without it; an
// override of how the job runs (threads) re-publishes. The override's
// release id cannot be forced onto the earlier release either.
func TestEnvOverrideChangesTheRelease(t *testing.T) {
	for _, tc := range []struct {
		env, value  string
		republished bool
	}{
		{"PRIVAGG_PURPOSE", "analytics", false},
		{"PRIVAGG_PRIVACY_EPSILON", "0.5", false},
		{"PRIVAGG_OUTPUT_FORMAT", "parquet", false},
		{"PRIVAGG_PRIVACY_THREADS", "1", true},
	} {
		t.Run(tc.env, func(t *testing.T) {
			j := testfixture.CSVJob(t, goldenJob, eventsCSV, 10)
			ctx := context.Background()
			first, err := Run(ctx, j, RunOptions{NewEngine: embedded})
			if err != nil {
				t.Fatal(err)
			}
			t.Setenv(tc.env, tc.value)
			j2, err := job.LoadJob(j.File)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.republished {
				// The earlier release's id, forced: refused before anything
				// is read, published or charged.
				if err := os.RemoveAll(j.Output.Dir); err != nil {
					t.Fatal(err)
				}
				_, err := Run(ctx, j2, RunOptions{NewEngine: embedded, ReleaseID: first.ReleaseID})
				var ce *job.ConfigError
				if !errors.As(err, &ce) || ExitCode(err) != ExitConfig || !strings.Contains(err.Error(), "different job") {
					t.Fatalf("forced release id of another job: err %v (exit %d), want a config error (exit 2) saying it is a different job", err, ExitCode(err))
				}
				if _, err := os.Stat(j.Output.Dir); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("refused run left output.dir (stat: %v)", err)
				}
			}
			second, err := Run(ctx, j2, RunOptions{NewEngine: embedded})
			if err != nil {
				t.Fatal(err)
			}
			if second.Republished != tc.republished || (second.ReleaseID == first.ReleaseID) != tc.republished {
				t.Errorf("with %s=%s: republished %v, id %s (first %s); want republished %v", tc.env, tc.value,
					second.Republished, second.ReleaseID, first.ReleaseID, tc.republished)
			}
		})
	}
}

// TestOtherJobCannotCompleteReservation: a release reserved by one job (an
// interrupted run) cannot be completed by another job under the same
// release id; the job that reserved it can.
func TestOtherJobCannotCompleteReservation(t *testing.T) {
	ctx := context.Background()
	j := testfixture.CSVJob(t, goldenJob, eventsCSV, 10)
	plan, err := privacy.NewPlan(j.PrivacySpec())
	if err != nil {
		t.Fatal(err)
	}
	led, err := privacy.OpenLedger(j.Ledger)
	if err != nil {
		t.Fatal(err)
	}
	const id = "interrupted-1"
	identity, err := jobIdentity(j)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := led.Reserve(ctx, reserveRequest(j, id, plan, identity)); err != nil {
		t.Fatal(err)
	}
	eps, del := jobCharge(t, j)

	t.Setenv("PRIVAGG_PURPOSE", "analytics") // same dataset, epsilon and delta: only the job differs
	other, err := job.LoadJob(j.File)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Run(ctx, other, RunOptions{NewEngine: embedded, ReleaseID: id})
	if ExitCode(err) != ExitConfig || !strings.Contains(err.Error(), "different job") {
		t.Fatalf("another job completing the reservation: err %v (exit %d), want exit 2 naming a different job", err, ExitCode(err))
	}
	checkLedger(t, j, id, eps, del, privacy.StateReserved)
	if _, err := os.Stat(led.StoreDir(id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused run wrote the release store (stat: %v)", err)
	}

	os.Unsetenv("PRIVAGG_PURPOSE")
	res, err := Run(ctx, j, RunOptions{NewEngine: embedded, ReleaseID: id})
	if err != nil || res.Republished {
		t.Fatalf("the reserving job resumes: err %v", err)
	}
	checkLedger(t, j, id, eps, del, privacy.StatePublished)
}

// publishedRelease runs the golden job and returns it, its release id and
// the release store folder; output.dir is removed again, so that a re-run
// must re-publish.
func publishedRelease(t *testing.T) (*job.Job, string, string) {
	t.Helper()
	j := testfixture.CSVJob(t, goldenJob, eventsCSV, 10)
	res, err := Run(context.Background(), j, RunOptions{NewEngine: embedded})
	if err != nil {
		t.Fatal(err)
	}
	led, err := privacy.OpenLedger(j.Ledger)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(j.Output.Dir); err != nil {
		t.Fatal(err)
	}
	return j, res.ReleaseID, led.StoreDir(res.ReleaseID)
}

// storedDataFile is the first data file the release store publishes.
func storedDataFile(t *testing.T, store string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(store, release.PublishedList))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	if err := json.Unmarshal(data, &files); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !strings.HasSuffix(f, release.ManifestSuffix) {
			return f
		}
	}
	t.Fatal("no data file in the release store")
	return ""
}

// rewriteManifest sets the sha256 its manifest records for the data file
// name to sum, as someone who edits the data file would.
func rewriteManifest(t *testing.T, store, name, sum string) {
	t.Helper()
	path := filepath.Join(store, strings.TrimSuffix(name, filepath.Ext(name))+release.ManifestSuffix)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	m["sha256"] = sum
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRepublishRefusesChangedStore: re-publishing checks every file against
// the hashes the ledger recorded when the release was stored and refuses
// symlinks, with exit 1 and a message naming the file but not its content.
func TestRepublishRefusesChangedStore(t *testing.T) {
	const planted = "planted@example.com,u99"
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, store, data string)
	}{
		{"data and manifest edited", func(t *testing.T, store, data string) {
			content := []byte("campaign,channel\n" + planted + "\n")
			if err := os.WriteFile(filepath.Join(store, data), content, 0o644); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(content)
			rewriteManifest(t, store, data, hex.EncodeToString(sum[:]))
		}},
		{"data file a symlink to the same bytes", func(t *testing.T, store, data string) {
			path := filepath.Join(store, data)
			content, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			elsewhere := filepath.Join(t.TempDir(), data)
			if err := os.WriteFile(elsewhere, content, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(elsewhere, path); err != nil {
				t.Fatal(err)
			}
		}},
		{"manifest edited", func(t *testing.T, store, data string) {
			path := filepath.Join(store, strings.TrimSuffix(data, filepath.Ext(data))+release.ManifestSuffix)
			content, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// One more byte: still a valid manifest, no longer the stored one.
			if err := os.WriteFile(path, append(content, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"release store folder a symlink", func(t *testing.T, store, _ string) {
			moved := filepath.Join(t.TempDir(), "moved")
			if err := os.Rename(store, moved); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(moved, store); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, id, store := publishedRelease(t)
			data := storedDataFile(t, store)
			tc.tamper(t, store, data)
			_, err := Run(context.Background(), j, RunOptions{NewEngine: embedded, ReleaseID: id})
			var ie *release.IntegrityError
			if !errors.As(err, &ie) || ExitCode(err) != ExitRuntime {
				t.Fatalf("re-publish of a changed store: err %v (exit %d), want a *release.IntegrityError (exit 1)", err, ExitCode(err))
			}
			if !strings.Contains(err.Error(), store) {
				t.Errorf("error %q does not name the file", err)
			}
			if strings.Contains(err.Error(), "planted") {
				t.Errorf("error %q quotes the file's content", err)
			}
			if _, err := os.Stat(j.Output.Dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused re-publication left output.dir (stat: %v)", err)
			}
		})
	}
}
