package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Markers delimiting the generated part of RESULTS.md; text outside them is kept.
const (
	beginMarker = "<!-- bench:begin -->"
	endMarker   = "<!-- bench:end -->"
)

type machineInfo struct {
	cpus     int
	cpuModel string
	memory   string
	kernel   string
	goVer    string
	duckdb   string
	privagg  string
	// load averages (1 min) at the start and the end of the benchmark: other
	// work on the machine makes timings meaningless, so the report says so.
	loadStart, loadEnd string
	// loadMax is the highest load average seen before a timed run.
	loadMax string
}

// loadAverage returns the 1-minute load average from a /proc/loadavg file.
func loadAverage(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "unknown"
	}
	return f[0]
}

// readMachine reads the CPU model, total memory and kernel release from the
// given /proc files; missing files leave "unknown".
func readMachine(cpuinfo, meminfo, osrelease string) machineInfo {
	m := machineInfo{cpus: runtime.NumCPU(), cpuModel: "unknown", memory: "unknown", kernel: "unknown", goVer: runtime.Version()}
	if v, ok := procField(cpuinfo, "model name"); ok {
		m.cpuModel = v
	}
	if v, ok := procField(meminfo, "MemTotal"); ok {
		var kb int64
		if _, err := fmt.Sscanf(v, "%d kB", &kb); err == nil {
			m.memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	if b, err := os.ReadFile(osrelease); err == nil {
		m.kernel = strings.TrimSpace(string(b))
	}
	return m
}

// procField returns the value of the first "key: value" line of a /proc file.
func procField(path, key string) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// sizeResult holds the timed measurements of one event count of one job
// shape.
type sizeResult struct {
	shape   string
	events  int64
	groups  int64 // partitions of the plain query
	plain   []measurement
	private []measurement
}

func medianWall(ms []measurement) time.Duration {
	if len(ms) == 0 {
		return 0
	}
	w := make([]time.Duration, len(ms))
	for i, m := range ms {
		w[i] = m.wall
	}
	slices.Sort(w)
	if len(w)%2 == 1 {
		return w[len(w)/2]
	}
	return (w[len(w)/2-1] + w[len(w)/2]) / 2
}

func peakRSS(ms []measurement) int64 {
	var p int64
	for _, m := range ms {
		p = max(p, m.peakRSS)
	}
	return p
}

func eventsPerSecond(n int64, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fM", float64(n)/d.Seconds()/1e6)
}

func seconds(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

// ratio is median private / median plain wall time.
func (r sizeResult) ratio() string {
	a, b := medianWall(r.plain), medianWall(r.private)
	if a <= 0 || b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", b.Seconds()/a.Seconds())
}

// spread is the range of the per-repetition ratios: each timed run of
// privagg over the plain run it alternated with.
func (r sizeResult) spread() string {
	n := min(len(r.plain), len(r.private))
	if n == 0 {
		return "-"
	}
	lo, hi := 0.0, 0.0
	for i := range n {
		q := r.private[i].wall.Seconds() / r.plain[i].wall.Seconds()
		if i == 0 || q < lo {
			lo = q
		}
		if i == 0 || q > hi {
			hi = q
		}
	}
	return fmt.Sprintf("%.2f-%.2f", lo, hi)
}

func (r sizeResult) row() string {
	a, b := medianWall(r.plain), medianWall(r.private)
	rss := func(ms []measurement) string {
		if len(ms) == 0 {
			return "-"
		}
		return mib(peakRSS(ms))
	}
	return fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |",
		orUnknown(r.shape), label(r.events), seconds(a), rss(r.plain), eventsPerSecond(r.events, a),
		seconds(b), rss(r.private), eventsPerSecond(r.events, b), r.ratio(), r.spread())
}

// line is the one-line progress summary of a size.
func (r sizeResult) line() string {
	return fmt.Sprintf("%s, %s events (%d partitions before selection): plain %s, private %s, ratio %s (per repetition %s)",
		orUnknown(r.shape), label(r.events), r.groups, seconds(medianWall(r.plain)), seconds(medianWall(r.private)), r.ratio(), r.spread())
}

// renderReport is the generated part of RESULTS.md, markers included.
func renderReport(m machineInfo, c config, rs []sizeResult, now time.Time) string {
	var b strings.Builder
	fmt.Fprintln(&b, beginMarker)
	fmt.Fprintf(&b, "Measured %s with `%s`.\n\n", now.UTC().Format("2006-01-02 15:04 UTC"), commandLine(c))
	fmt.Fprintf(&b, "- Machine: %d CPUs (%s), %s memory, Linux %s\n", m.cpus, m.cpuModel, m.memory, m.kernel)
	fmt.Fprintf(&b, "- Load average (1 min) at start / end: %s / %s, highest before a timed run %s (should be well below the CPU count)\n",
		orUnknown(m.loadStart), orUnknown(m.loadEnd), orUnknown(m.loadMax))
	fmt.Fprintf(&b, "- Versions: %s; DuckDB %s; harness built with %s\n", orUnknown(m.privagg), orUnknown(m.duckdb), m.goVer)
	threads := "all cores"
	if c.threads > 0 {
		threads = fmt.Sprint(c.threads)
	}
	memory := "DuckDB default"
	if c.memoryLimit != "" {
		memory = c.memoryLimit
	}
	fmt.Fprintf(&b, "- Settings: threads %s, memory limit %s, %d timed + %d warm-up runs of each side, alternating; "+
		"data `privagg gen --seed %d`, users = events / %d\n\n", threads, memory, c.reps, c.warmup, c.seed, c.eventsPerUser)
	fmt.Fprintln(&b, "Jobs: parquet is benchmarks/job.yaml on Parquet; csv is benchmarks/job_csv.yaml on CSV (plainquery --shape type_country_weekly reads it with read_csv's defaults). The ratio is of the medians; per repetition, each privagg run over the plain run it alternated with.")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| job | events | plain: median wall | plain: peak RSS | plain: events/s | privagg run: median wall | privagg run: peak RSS | privagg run: events/s | ratio run/plain | ratio per repetition |")
	fmt.Fprintln(&b, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rs {
		fmt.Fprintln(&b, r.row())
	}
	if lines := scalingLines(rs); len(lines) > 0 {
		fmt.Fprintln(&b)
		for _, l := range lines {
			fmt.Fprintln(&b, l)
		}
	}
	if c.plainOnly {
		fmt.Fprintln(&b, "\n(`--plain-only`: privagg run was not measured.)")
	}
	fmt.Fprintln(&b, endMarker)
	return b.String()
}

// scalingReference is the size the larger sizes' time per event is compared
// with (the goal: at most 1.2x at 100M).
const scalingReference = 10_000_000

// scalingLines compares, for each size above scalingReference, the median
// time per event of both sides with that at scalingReference.
func scalingLines(rs []sizeResult) []string {
	var out []string
	var shapes []string
	for _, r := range rs {
		if !slices.Contains(shapes, r.shape) {
			shapes = append(shapes, r.shape)
		}
	}
	for _, sh := range shapes {
		var of []sizeResult
		for _, r := range rs {
			if r.shape == sh {
				of = append(of, r)
			}
		}
		out = append(out, shapeScaling(of)...)
	}
	return out
}

// shapeScaling is scalingLines for the sizes of one job shape.
func shapeScaling(rs []sizeResult) []string {
	var ref *sizeResult
	for i := range rs {
		if rs[i].events == scalingReference {
			ref = &rs[i]
		}
	}
	if ref == nil {
		return nil
	}
	name := ""
	if ref.shape != "" {
		name = ref.shape + ": "
	}
	perEvent := func(ms []measurement, events int64) float64 {
		d := medianWall(ms)
		if d <= 0 {
			return 0
		}
		return d.Seconds() / float64(events)
	}
	factor := func(ms, refMs []measurement, events int64) string {
		a, b := perEvent(refMs, ref.events), perEvent(ms, events)
		if a <= 0 || b <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.2fx", b/a)
	}
	var out []string
	for _, r := range rs {
		if r.events <= scalingReference {
			continue
		}
		out = append(out, fmt.Sprintf("- %sTime per event at %s, relative to %s: privagg run %s, plain %s (linear scaling is 1.00x)",
			name, label(r.events), label(ref.events), factor(r.private, ref.private, r.events), factor(r.plain, ref.plain, r.events)))
	}
	return out
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// commandLine reproduces the run for the report.
func commandLine(c config) string {
	sizes := make([]string, len(c.sizes))
	for i, n := range c.sizes {
		sizes[i] = label(n)
	}
	names := make([]string, len(c.shapes))
	for i, sh := range c.shapes {
		names[i] = sh.name
	}
	s := fmt.Sprintf("bench --shapes %s --sizes %s --reps %d", strings.Join(names, ","), strings.Join(sizes, ","), c.reps)
	if c.threads > 0 {
		s += fmt.Sprintf(" --threads %d", c.threads)
	}
	if c.memoryLimit != "" {
		s += " --memory-limit " + c.memoryLimit
	}
	if c.plainOnly {
		s += " --plain-only"
	}
	return s
}

// updateResults replaces the marked section of path with report, or appends
// it (creating the file with a title) if there is none. The file is replaced
// atomically.
func updateResults(path, report string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	text := spliceReport(string(old), report)
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(text); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func spliceReport(old, report string) string {
	i := strings.Index(old, beginMarker)
	j := strings.Index(old, endMarker)
	if i >= 0 && j > i {
		rest := old[j+len(endMarker):]
		rest = strings.TrimPrefix(rest, "\n")
		return old[:i] + report + rest
	}
	if strings.TrimSpace(old) == "" {
		return "# Benchmark results\n\nGenerated by `make bench` (see README.md in this folder); the part between the markers is rewritten on every run.\n\n" + report
	}
	return strings.TrimRight(old, "\n") + "\n\n" + report
}
