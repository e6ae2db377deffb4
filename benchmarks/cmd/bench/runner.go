package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Budget given to the fresh ledger of each size: far more than the runs spend.
const (
	benchDataset = "bench_events"
	benchEpsilon = "1000000"
	benchDelta   = "0.001"
)

type runner struct {
	cfg            config
	stdout, stderr io.Writer
	duckdb         string // version reported by plainquery
	loadMax        string // the highest 1-minute load average seen before a timed run
	loadMaxValue   float64
}

// sampleLoad records the load average before a timed run.
func (r *runner) sampleLoad() {
	l := loadAverage("/proc/loadavg")
	if v, err := strconv.ParseFloat(l, 64); err == nil && v >= r.loadMaxValue {
		r.loadMax, r.loadMaxValue = l, v
	}
}

// measurement is one child process run.
type measurement struct {
	wall    time.Duration
	peakRSS int64 // bytes
}

// child runs name with args and env added to the environment, and measures
// its wall time and peak RSS. A failure returns an error carrying the exit
// status and the tail of the child's stderr.
func (r *runner) child(ctx context.Context, what string, env []string, name string, args ...string) (measurement, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return measurement{}, nil, fmt.Errorf("%s failed: %s %s: %w\n%s", what, filepath.Base(name),
			strings.Join(args, " "), err, tail(errb.String(), 30))
	}
	m := measurement{wall: wall}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.peakRSS = ru.Maxrss * 1024 // Linux reports KiB
	}
	return m, out.Bytes(), nil
}

// tail returns the last n lines of s, indented.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return "  | " + strings.Join(lines, "\n  | ")
}

// dataFile returns the cached events file for n events in format, generating
// it with privagg gen if it is missing.
func (r *runner) dataFile(ctx context.Context, n int64, format string) (string, error) {
	users := max(1, n/r.cfg.eventsPerUser)
	path := filepath.Join(r.cfg.dataDir, fmt.Sprintf("events_%s_u%d_s%d.%s", label(n), users, r.cfg.seed, format))
	if _, err := os.Stat(path); err == nil {
		fmt.Fprintf(r.stderr, "using cached %s\n", path)
		return path, nil
	}
	fmt.Fprintf(r.stderr, "generating %s ...\n", path)
	args := []string{"gen", "--events", fmt.Sprint(n), "--users", fmt.Sprint(users),
		"--seed", fmt.Sprint(r.cfg.seed), "--out", path}
	args = append(args, r.engineFlags()...)
	m, out, err := r.child(ctx, "privagg gen", nil, r.cfg.privagg, args...)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(r.stderr, "%s(%s wall, %s peak RSS)\n", out, m.wall.Round(time.Millisecond), mib(m.peakRSS))
	return path, nil
}

// engineFlags are the DuckDB settings both sides get.
func (r *runner) engineFlags() []string {
	var f []string
	if r.cfg.threads > 0 {
		f = append(f, "--threads", fmt.Sprint(r.cfg.threads))
	}
	if r.cfg.memoryLimit != "" {
		f = append(f, "--memory-limit", r.cfg.memoryLimit)
	}
	if r.cfg.tempDir != "" {
		f = append(f, "--temp-dir", r.cfg.tempDir)
	}
	return f
}

// size benchmarks one event count of one job shape.
func (r *runner) size(ctx context.Context, sh shape, n int64) (sizeResult, error) {
	res := sizeResult{shape: sh.name, events: n}
	data, err := r.dataFile(ctx, n, sh.format)
	if err != nil {
		return res, err
	}
	stamp := time.Now().UTC().Format("20060102T150405")
	work := filepath.Join(r.cfg.dataDir, "runs", sh.name+"-"+label(n)+"-"+stamp)
	ledger := filepath.Join(work, "ledger.duckdb")
	outDir := filepath.Join(work, "out")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return res, err
	}
	defer os.RemoveAll(work) // released tables of a benchmark are not kept

	plain := func() (measurement, error) {
		args := append([]string{"--input", data, "--shape", sh.plain}, r.engineFlags()...)
		m, out, err := r.child(ctx, "plain query", nil, r.cfg.plainquery, args...)
		if err != nil {
			return m, err
		}
		var pq struct {
			Groups int64  `json:"groups"`
			DuckDB string `json:"duckdb"`
		}
		if err := json.Unmarshal(out, &pq); err != nil {
			return m, fmt.Errorf("plain query: bad output %q: %w", out, err)
		}
		res.groups = pq.Groups
		r.duckdb = pq.DuckDB
		return m, nil
	}
	if !r.cfg.plainOnly {
		// The budget is weak privacy on purpose (--allow-weak-privacy);
		// binaries from before that flag are asked again without it.
		args := []string{"budget", "set", benchDataset, "--epsilon", benchEpsilon, "--delta", benchDelta,
			"--period", "none", "--reason", "benchmark setup", "--ledger", ledger, "--allow-weak-privacy"}
		_, _, err := r.child(ctx, "privagg budget set", nil, r.cfg.privagg, args...)
		if err != nil && strings.Contains(err.Error(), "unknown flag: --allow-weak-privacy") {
			_, _, err = r.child(ctx, "privagg budget set", nil, r.cfg.privagg, args[:len(args)-1]...)
		}
		if err != nil {
			return res, err
		}
	}
	env := []string{"PRIVAGG_INPUT_PATH=" + data, "PRIVAGG_OUTPUT_DIR=" + outDir}
	if r.cfg.threads > 0 {
		env = append(env, fmt.Sprintf("PRIVAGG_PRIVACY_THREADS=%d", r.cfg.threads))
	}
	private := func(rep int) (measurement, error) {
		args := []string{"run", sh.job, "--ledger", ledger, "--quiet",
			"--release-id", fmt.Sprintf("bench-%s-%s-%s-%d", sh.name, label(n), stamp, rep)}
		if r.cfg.memoryLimit != "" {
			args = append(args, "--memory-limit", r.cfg.memoryLimit)
		}
		if r.cfg.tempDir != "" {
			args = append(args, "--temp-dir", r.cfg.tempDir)
		}
		m, _, err := r.child(ctx, fmt.Sprintf("privagg run (%s, %s events, repetition %d)", sh.name, label(n), rep), env, r.cfg.privagg, args...)
		return m, err
	}

	// Alternate the sides, and their order, so drift of the machine (other
	// load, file cache, thermal) hits both alike.
	for rep := range r.cfg.warmup + r.cfg.reps {
		timed := rep >= r.cfg.warmup
		sides := []string{"plain", "private"}
		if rep%2 == 1 {
			sides[0], sides[1] = sides[1], sides[0]
		}
		for _, side := range sides {
			var (
				m   measurement
				err error
			)
			if timed {
				r.sampleLoad()
			}
			switch {
			case side == "plain":
				m, err = plain()
			case r.cfg.plainOnly:
				continue
			default:
				m, err = private(rep)
			}
			if err != nil {
				return res, err
			}
			tag := "warm-up"
			if timed {
				tag = "timed"
				if side == "plain" {
					res.plain = append(res.plain, m)
				} else {
					res.private = append(res.private, m)
				}
			}
			fmt.Fprintf(r.stderr, "%s %s %-7s %s: %s wall, %s peak RSS\n", sh.name, label(n), side, tag,
				m.wall.Round(time.Millisecond), mib(m.peakRSS))
		}
	}
	return res, nil
}

// machine describes the machine and the versions measured.
func (r *runner) machine(ctx context.Context) (machineInfo, error) {
	m := readMachine("/proc/cpuinfo", "/proc/meminfo", "/proc/sys/kernel/osrelease")
	_, out, err := r.child(ctx, "privagg version", nil, r.cfg.privagg, "version")
	if err != nil {
		return m, err
	}
	m.privagg = strings.TrimSpace(string(out))
	return m, nil
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
