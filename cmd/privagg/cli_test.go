package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// The CLI tests run privagg as a separate process: this test binary,
// re-executed with cliChildEnv set, is privagg (TestMain calls run as main
// does). Role tests run it as another user (uid 65534) with chosen groups.

const cliChildEnv = "PRIVAGG_TEST_CLI_CHILD"

// cliBinDir holds a copy of the test binary that every user may execute
// (the go tool's own build folder is private to its user).
var cliBinDir string

func TestMain(m *testing.M) {
	if os.Getenv(cliChildEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	// No test picks up a privagg.yaml of the folder the tests run in (a
	// developer's `make demo` writes one at the repository root); tests of
	// the project file set PRIVAGG_PROJECT themselves.
	os.Setenv("PRIVAGG_PROJECT", "none")
	code := m.Run()
	if cliBinDir != "" {
		os.RemoveAll(cliBinDir)
	}
	os.Exit(code)
}

// cliBinary returns the path of a world-executable copy of this test binary.
func cliBinary(t *testing.T) string {
	t.Helper()
	if cliBinDir == "" {
		dir, err := os.MkdirTemp("", "privagg-cli-")
		if err != nil {
			t.Fatal(err)
		}
		cliBinDir = dir
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		src, err := os.Open(os.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		dst, err := os.OpenFile(filepath.Join(dir, "privagg"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(dst, src); err != nil {
			t.Fatal(err)
		}
		if err := dst.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(cliBinDir, "privagg")
}

// cliUser is who runs privagg in a CLI test: nil is this process's user;
// otherwise uid 65534 (nobody) with primary group 65534 and the given
// supplementary groups.
type cliUser struct{ groups []uint32 }

// cliRun describes one run of the privagg process.
type cliRun struct {
	dir  string   // working folder; "" is the test's
	env  []string // added to the environment
	user *cliUser
}

// privagg runs the privagg process with args and returns its exit code,
// stdout and stderr.
func (c cliRun) privagg(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(cliBinary(t), args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), cliChildEnv+"=1")
	cmd.Env = append(cmd.Env, c.env...)
	if c.user != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: c.user.groups}}
		// nobody's home does not exist; DuckDB needs no home for what privagg does.
		cmd.Env = append(cmd.Env, "HOME=/nonexistent")
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String(), errb.String()
	case err != nil:
		t.Fatalf("run privagg %v: %v", args, err)
	}
	return 0, out.String(), errb.String()
}

// cli runs privagg as this process's user in the current folder.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return cliRun{}.privagg(t, args...)
}

// needRoot skips role tests unless this process can switch users.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("role tests run privagg as uid 65534 and need root to switch users; skipped (not root)")
	}
}

// sharedTempDir is a temporary folder other users can enter (t.TempDir's
// parent is private to this user). Removed when the test ends.
func sharedTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "privagg-roles-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
