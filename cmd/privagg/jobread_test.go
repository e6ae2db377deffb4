//go:build linux

package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"unsafe"
)

// TestRunOpensJobFileOnce runs privagg run as a process and counts, with
// inotify, how often the job file is opened: once, by the loader. The
// release id, the ledger's job_sha256, the stored job.yaml and the release
// report derive from those bytes (job.Job.Source), so a job file edited
// during a run cannot make them describe different files. A re-publication
// reads it once too.
func TestRunOpensJobFileOnce(t *testing.T) {
	dir := t.TempDir()
	jobFile := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(jobFile, []byte(runJob), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "events.csv"), []byte("email,user_id,campaign,ok\nx@y.z,u1,a,true\nw@y.z,u2,b,true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runBudget(t, "--ledger", filepath.Join(dir, "ledger.duckdb"), "budget", "set", "cli_events",
		"--epsilon", "5", "--delta", "5e-6", "--reason", "test"); code != 0 {
		t.Fatalf("budget set: %s", errs)
	}
	for _, pass := range []string{"published", "re-published"} {
		opens := countOpens(t, jobFile, func() {
			if code, out, errs := cli(t, "run", jobFile); code != 0 {
				t.Fatalf("%s run: exit %d\n%s%s", pass, code, out, errs)
			}
		})
		if opens != 1 {
			t.Errorf("%s run opened the job file %d times, want 1", pass, opens)
		}
	}
}

// countOpens returns how many times path was opened, by any process,
// while do ran.
func countOpens(t *testing.T, path string, do func()) int {
	t.Helper()
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		t.Skipf("inotify: %v", err)
	}
	defer syscall.Close(fd)
	if _, err := syscall.InotifyAddWatch(fd, path, syscall.IN_OPEN); err != nil {
		t.Fatalf("inotify watch %s: %v", path, err)
	}
	do()
	opens := 0
	buf := make([]byte, 64*1024)
	for {
		n, err := syscall.Read(fd, buf)
		if err == syscall.EAGAIN {
			return opens // no event left
		}
		if err != nil {
			t.Fatalf("read inotify events: %v", err)
		}
		for off := 0; off+syscall.SizeofInotifyEvent <= n; {
			ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
			if ev.Mask&syscall.IN_Q_OVERFLOW != 0 {
				t.Fatal("inotify queue overflowed")
			}
			if ev.Mask&syscall.IN_OPEN != 0 {
				opens++
			}
			off += syscall.SizeofInotifyEvent + int(ev.Len)
		}
	}
}
