package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/privagg/privagg/privacy"
)

// The role tests follow docs/deployment.md "Roles and permissions": the
// pipeline account (here root) writes the ledger folder (group officers,
// mode 2750) and the published folder (group analysts, mode 2750); a privacy
// officer (uid 65534 in group officers) reads the ledger without writing; an
// analyst (uid 65534 in group analysts) reads the published folder only.
const (
	officersGID = 61001
	analystsGID = 61002
)

// roleDir makes folder name in parent, owned by root and group gid, with
// mode 2750 (setgid: files made in it belong to gid).
func roleDir(t *testing.T, parent, name string, gid int) string {
	t.Helper()
	dir := filepath.Join(parent, name)
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 0, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o750|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	return dir
}

// checkRoleModes checks that every file under dir is readable by its group
// and writable by nobody but its owner, and every folder searchable by its
// group.
func checkRoleModes(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		m := info.Mode().Perm()
		switch {
		case m&0o022 != 0:
			t.Errorf("%s: mode %v is writable by group or others", path, m)
		case d.IsDir() && m&0o050 != 0o050:
			t.Errorf("%s: folder mode %v: its group cannot list it", path, m)
		case !d.IsDir() && m&0o040 == 0:
			t.Errorf("%s: mode %v: its group cannot read it", path, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// listTree lists the paths under dir with their sizes, to see that a
// read-only command changed nothing.
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil {
			info, _ := d.Info()
			out = append(out, fmt.Sprintf("%s %d %v %v", path, info.Size(), info.Mode(), info.ModTime()))
		}
		return nil
	})
	return out
}

func wantPermissionDenied(t *testing.T, what string, code int, stderr, need string) {
	t.Helper()
	if code != 1 || !strings.Contains(stderr, "permission denied on ") || !strings.Contains(stderr, "this command needs "+need+" access to") ||
		strings.Contains(stderr, "backup") {
		t.Errorf("%s: exit %d, stderr %q; want exit 1 and \"permission denied on X: this command needs %s access to Y\" without the restore hint",
			what, code, stderr, need)
	}
}

func TestRoleOfficerReadsLedgerReadOnly(t *testing.T) {
	needRoot(t)
	base := sharedTempDir(t)
	ledgerDir := roleDir(t, base, "ledger", officersGID)
	ledger := publishTwoIn(t, ledgerDir, "")
	checkRoleModes(t, ledgerDir)
	journal, err := os.ReadFile(ledger + privacy.JournalSuffix)
	if err != nil {
		t.Fatal(err)
	}
	before := listTree(t, ledgerDir)

	officer := cliRun{user: &cliUser{groups: []uint32{officersGID}}}
	for _, args := range [][]string{
		{"budget", "show", "--format", "json"},
		{"budget", "show", "cmd_events"},
		{"budget", "history", "cmd_events", "--format", "json"},
		{"budget", "verify"},
		{"releases", "list", "--format", "json"},
		{"releases", "show", "r1"},
		{"query", "SELECT count(*) AS n FROM by_channel"},
	} {
		code, stdout, stderr := officer.privagg(t, append([]string{"--ledger", ledger}, args...)...)
		if code != 0 {
			t.Errorf("officer %v: exit %d\n%s%s", args, code, stdout, stderr)
			continue
		}
		switch args[0] + " " + args[1] {
		case "budget show":
			if args[2] == "--format" {
				var sts []map[string]any
				if err := json.Unmarshal([]byte(stdout), &sts); err != nil || len(sts) != 1 || sts[0]["dataset"] != "cmd_events" {
					t.Errorf("officer budget show --format json: %v\n%s", err, stdout)
				}
			}
		case "releases list":
			var rels []map[string]any
			if err := json.Unmarshal([]byte(stdout), &rels); err != nil || len(rels) != 2 || rels[0]["problem"] != nil {
				t.Errorf("officer releases list: %v\n%s", err, stdout)
			}
		case "budget verify":
			if !strings.Contains(stdout, "ledger OK") {
				t.Errorf("officer budget verify: %s", stdout)
			}
		}
	}
	after, err := os.ReadFile(ledger + privacy.JournalSuffix)
	if err != nil || !bytes.Equal(journal, after) {
		t.Errorf("the officer's read-only commands changed the journal (%v)", err)
	}
	if got := listTree(t, ledgerDir); !slices.Equal(before, got) {
		t.Errorf("the officer's read-only commands changed the ledger folder:\nbefore %v\nafter  %v", before, got)
	}

	// Setting a budget needs write access to the ledger.
	code, _, stderr := officer.privagg(t, "--ledger", ledger, "budget", "set", "cmd_events", "--epsilon", "8", "--reason", "more campaigns")
	wantPermissionDenied(t, "officer budget set", code, stderr, "write")

	// Someone outside the group reads nothing, and is told so.
	outsider := cliRun{user: &cliUser{}}
	for _, args := range [][]string{
		{"budget", "show"},
		{"budget", "verify"},
		{"releases", "list"},
		{"query", "SELECT 1"},
	} {
		code, _, stderr := outsider.privagg(t, append([]string{"--ledger", ledger}, args...)...)
		wantPermissionDenied(t, "outsider "+strings.Join(args, " "), code, stderr, "read")
	}
}

func TestRoleOfficerPermissionErrorNamesTheFile(t *testing.T) {
	needRoot(t)
	base := sharedTempDir(t)
	ledgerDir := roleDir(t, base, "ledger", officersGID)
	ledger := publishTwoIn(t, ledgerDir, "")
	// A journal that only its owner may read (as privagg made it before).
	if err := os.Chmod(ledger+privacy.JournalSuffix, 0o600); err != nil {
		t.Fatal(err)
	}
	officer := cliRun{user: &cliUser{groups: []uint32{officersGID}}}
	code, _, stderr := officer.privagg(t, "--ledger", ledger, "budget", "show")
	wantPermissionDenied(t, "officer budget show, journal 0600", code, stderr, "read")
	if !strings.Contains(stderr, "permission denied on "+ledger+privacy.JournalSuffix) {
		t.Errorf("the message does not name the journal: %s", stderr)
	}
}
