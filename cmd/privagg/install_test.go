package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privagg/privagg/internal/duckarrow"
)

// A plain `go build` (no duckdb_arrow tag, as `go install ...@latest` does)
// compiles, and the binary names the tag and the install line instead of
// running a command it cannot run.
func TestPlainBuildNamesTheTag(t *testing.T) {
	if testing.Short() {
		t.Skip("builds privagg without tags; skipped in -short")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH")
	}
	bin := filepath.Join(t.TempDir(), "privagg")
	build := exec.Command(gobin, "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("plain go build: %v\n%s", err, out)
	}
	run := func(args ...string) (int, string, string) {
		cmd := exec.Command(bin, args...)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, out.String(), errb.String()
	}
	for _, args := range [][]string{{"run", "job.yaml"}, {"budget", "show", "d"}, {"validate", "job.yaml"}} {
		code, _, stderr := run(args...)
		if code != 1 || !strings.Contains(stderr, "duckdb_arrow build tag") || !strings.Contains(stderr, duckarrow.InstallLine) {
			t.Errorf("privagg %v: exit %d, stderr %q; want exit 1 naming the tag and %q", args, code, stderr, duckarrow.InstallLine)
		}
	}
	code, stdout, _ := run("version")
	if code != 0 || !strings.Contains(stdout, "without the duckdb_arrow build tag") {
		t.Errorf("privagg version: exit %d, stdout %q; want 0 and a note on the missing tag", code, stdout)
	}
}
