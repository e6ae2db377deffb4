package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// setupRolesScript is docs/deployment.md's roles-and-permissions recipe.
var setupRolesScript = filepath.Join("..", "..", "examples", "setup-roles.sh")

// asAccount runs name args as another account through setpriv: spec is
// setpriv's user and group flags (e.g. --reuid=65534 --regid=65534
// --clear-groups). It returns the exit code and the combined output.
func asAccount(t *testing.T, dir string, env []string, spec []string, name string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command("setpriv", append(append(spec, "--"), append([]string{name}, args...)...)...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "HOME=/nonexistent"), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String()
	case err != nil:
		t.Fatalf("setpriv %v %s %v: %v", spec, name, args, err)
	}
	return 0, out.String()
}

// TestSetupRolesScript (audit 2, L8): the roles-and-permissions recipe of
// docs/deployment.md is examples/setup-roles.sh, and it works as written:
// run twice as root, it makes the accounts and folders the docs describe;
// the pipeline account sets a budget through the project file; nobody
// (uid 65534) without the groups reads none of the raw input, ledger or
// published folders; with the officers' group it reads the ledger (budget
// show) and not the published folders; with the analysts' group the
// reverse.
func TestSetupRolesScript(t *testing.T) {
	needRoot(t)
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv (util-linux) is not installed; skipped")
	}
	root := filepath.Join(sharedTempDir(t), "srv")
	suffix := fmt.Sprintf("%d", os.Getpid()%100000)
	pipeline, officers, analysts := "pgp"+suffix, "pgo"+suffix, "pga"+suffix
	t.Cleanup(func() {
		_ = exec.Command("userdel", pipeline).Run()
		_ = exec.Command("groupdel", officers).Run()
		_ = exec.Command("groupdel", analysts).Run()
	})
	env := []string{"PRIVAGG_ROOT=" + root, "PRIVAGG_PIPELINE_USER=" + pipeline,
		"PRIVAGG_OFFICERS_GROUP=" + officers, "PRIVAGG_ANALYSTS_GROUP=" + analysts}
	for run := 1; run <= 2; run++ {
		cmd := exec.Command("sh", setupRolesScript)
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("run %d of %s: %v\n%s", run, setupRolesScript, err, out)
		}
	}

	pu, err := user.Lookup(pipeline)
	if err != nil {
		t.Fatalf("pipeline account: %v", err)
	}
	og, err := user.LookupGroup(officers)
	if err != nil {
		t.Fatal(err)
	}
	ag, err := user.LookupGroup(analysts)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		path  string
		mode  os.FileMode
		owner string
		group string
	}{
		{"raw", 0o700, pu.Uid, og.Gid},
		{"ledger", 0o750 | os.ModeSetgid, pu.Uid, og.Gid},
		{"published", 0o750 | os.ModeSetgid, pu.Uid, ag.Gid},
		{"published/marketing", 0o750 | os.ModeSetgid, pu.Uid, ag.Gid},
		{"privagg.yaml", 0o644, "0", "0"},
	} {
		info, err := os.Stat(filepath.Join(root, want.path))
		if err != nil {
			t.Errorf("%s: %v", want.path, err)
			continue
		}
		st := info.Sys().(*syscall.Stat_t)
		mode := info.Mode() & (os.ModePerm | os.ModeSetgid)
		if mode != want.mode || fmt.Sprint(st.Uid) != want.owner || fmt.Sprint(st.Gid) != want.group {
			t.Errorf("%s: mode %v owner %d group %d, want %v %s %s", want.path, mode, st.Uid, st.Gid, want.mode, want.owner, want.group)
		}
	}

	bin := cliBinary(t)
	cliEnv := []string{cliChildEnv + "=1", "PRIVAGG_PROJECT=" + filepath.Join(root, "privagg.yaml")}
	asPipeline := []string{"--reuid=" + pu.Uid, "--regid=" + og.Gid, "--init-groups"}
	// With the umask the docs ask of the pipeline.
	if code, out := asAccount(t, root, cliEnv, asPipeline, "sh", "-c", `umask 027 && exec "$0" "$@"`, bin,
		"budget", "set", "web_events", "--epsilon", "10", "--delta", "1e-6", "--reason", "roles test"); code != 0 {
		t.Fatalf("budget set as the pipeline account: exit %d\n%s", code, out)
	}
	if code, out := asAccount(t, root, nil, asPipeline, "touch", "raw/events.csv", "published/marketing/t.csv"); code != 0 {
		t.Errorf("the pipeline account cannot write its folders: exit %d\n%s", code, out)
	}

	nobody := []string{"--reuid=65534", "--regid=65534", "--clear-groups"}
	officer := []string{"--reuid=65534", "--regid=65534", "--groups=" + og.Gid}
	analyst := []string{"--reuid=65534", "--regid=65534", "--groups=" + ag.Gid}
	for _, c := range []struct {
		who  string
		spec []string
		dir  string
		ok   bool
	}{
		{"nobody", nobody, "raw", false}, {"nobody", nobody, "ledger", false}, {"nobody", nobody, "published/marketing", false},
		{"officer", officer, "raw", false}, {"officer", officer, "ledger", true}, {"officer", officer, "published/marketing", false},
		{"analyst", analyst, "raw", false}, {"analyst", analyst, "ledger", false}, {"analyst", analyst, "published/marketing", true},
	} {
		code, out := asAccount(t, root, nil, c.spec, "ls", c.dir)
		if (code == 0) != c.ok {
			t.Errorf("%s lists %s: exit %d, want it to succeed: %v\n%s", c.who, c.dir, code, c.ok, out)
		}
	}
	code, out := asAccount(t, root, cliEnv, officer, bin, "budget", "show", "web_events")
	if code != 0 || !strings.Contains(out, "web_events") {
		t.Errorf("budget show as an officer: exit %d\n%s", code, out)
	}
	if code, out := asAccount(t, root, cliEnv, nobody, bin, "budget", "show", "web_events"); code == 0 || !strings.Contains(out, "permission denied") {
		t.Errorf("budget show as nobody: exit %d, want a permission error\n%s", code, out)
	}
}
