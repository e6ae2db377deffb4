// Command verify runs privagg's verification suite and prints its
// summary table: the DP audit with its epsilon lower bounds, the power tests
// against broken mechanisms, the crash soak, the bad-input corpus, the leak
// scan, the pseudonymization tests and the fuzz targets.
//
//	go run ./internal/verify/cmd/verify -full -fuzztime 30s
//
// It runs `go test` (so it needs the go tool and GOFLAGS with the
// duckdb_arrow tag, as the Makefile sets) from the module root, and exits 1
// if any check fails.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/privagg/privagg/internal/verify"
)

func main() {
	full := flag.Bool("full", false, "large mode (PRIVAGG_VERIFY=full): 10^5 audit trials, 200 kills")
	fuzztime := flag.Duration("fuzztime", 0, "run each fuzz target this long (0: seeds only)")
	flag.Parse()
	code, err := run(*full, *fuzztime, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "verify: %v\n", err)
	}
	os.Exit(code)
}

func run(full bool, fuzztime time.Duration, stdout, stderr io.Writer) (int, error) {
	summary, err := os.CreateTemp("", "privagg-verify-*.jsonl")
	if err != nil {
		return 1, err
	}
	summary.Close()
	defer os.Remove(summary.Name())
	mode := "fast"
	if full {
		mode = "full"
	}
	env := append(os.Environ(), verify.SummaryEnv+"="+summary.Name(), verify.ModeEnv+"="+mode)
	start := time.Now()
	failed := false
	var extra []verify.Record

	// The suite: DP audit (packages pipeline and engine/duckdb) and the
	// end-to-end checks (internal/verify), including the consent and
	// person-id corpus on the embedded engine.
	if err := goTest(env, stderr, "-count=1", "-timeout=3h", "-run=^TestVerify", "./pipeline", "./engine/duckdb", "./internal/verify"); err != nil {
		failed = true
	}
	// The same consent and person-id corpus on the Beam engine (its own Go
	// module in beam/), which records its summary line itself.
	if err := goTestIn("beam", env, stderr, "-count=1", "-timeout=1h", "-run=^TestIntegrityCorpus$", "./beamengine"); err != nil {
		failed = true
	}
	// Pseudonymization: the transforms package's own tests (RFC 4231,
	// dictionary of 10^5 hashes, disjoint key versions, key never printed).
	pseudo := []string{"TestHMACKnownAnswersRFC4231", "TestDictionaryAttackFindsNothing", "TestKeyVersionsDisjoint", "TestPseudonymizerNeverPrintsKey"}
	err = goTest(env, stderr, "-count=1", "-run=^("+strings.Join(pseudo, "|")+")$", "./transforms")
	failed = failed || err != nil
	extra = append(extra, verify.Record{Section: "pseudonym", Check: strings.Join(pseudo, ", "), Path: "transforms", Trials: len(pseudo), Pass: err == nil})
	// Fuzz targets.
	if fuzztime > 0 {
		for _, ft := range []struct{ name, pkg string }{{"FuzzLoadJobBytes", "./job"}, {"FuzzReadInput", "./internal/verify"}} {
			var out bytes.Buffer
			err := goTest(env, io.MultiWriter(stderr, &out), "-run=^$", "-fuzz=^"+ft.name+"$", "-fuzztime="+fuzztime.String(), ft.pkg)
			failed = failed || err != nil
			extra = append(extra, verify.Record{Section: "fuzz", Check: ft.name, Path: ft.pkg, Trials: lastExecs(out.String()), Pass: err == nil,
				Note: "for " + fuzztime.String()})
		}
	}

	recs, err := readRecords(summary.Name())
	if err != nil {
		return 1, err
	}
	recs = append(recs, extra...)
	for _, r := range recs {
		failed = failed || !r.Pass
	}
	printTable(stdout, recs, mode, time.Since(start))
	if failed {
		return 1, errors.New("some checks failed (see above)")
	}
	return 0, nil
}

func goTest(env []string, out io.Writer, args ...string) error {
	return goTestIn("", env, out, args...)
}

// goTestIn runs go test in folder dir ("" for the current one).
func goTestIn(dir string, env []string, out io.Writer, args ...string) error {
	cmd := exec.Command("go", append([]string{"test"}, args...)...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = out, out
	if dir != "" {
		fmt.Fprintf(out, "$ (cd %s && go test %s)\n", dir, strings.Join(args, " "))
	} else {
		fmt.Fprintf(out, "$ go test %s\n", strings.Join(args, " "))
	}
	return cmd.Run()
}

var execsRE = regexp.MustCompile(`execs: (\d+)`)

// lastExecs reads the fuzzer's last "execs: N" progress figure.
func lastExecs(out string) int {
	m := execsRE.FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(m[len(m)-1][1]) // the pattern matched digits only
	return n
}

func readRecords(path string) ([]verify.Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var recs []verify.Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r verify.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("summary %s: %w", path, err)
		}
		recs = append(recs, r)
	}
	return recs, sc.Err()
}

func printTable(w io.Writer, recs []verify.Record, mode string, took time.Duration) {
	fmt.Fprintf(w, "\nprivagg verification summary (mode %s, %s)\n\n", mode, took.Round(time.Second))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "section\tcheck\tpath\ttrials\teps_lb\tclaimed\tresult")
	counts := map[string]int{}
	for _, r := range recs {
		lb, cl := "", ""
		if r.Section == "dp-audit" || r.Section == "power" {
			lb, cl = fmt.Sprintf("%.3f", r.EpsLB), fmt.Sprintf("%.3g", r.Claimed)
		}
		res := "ok"
		if !r.Pass {
			res = "FAIL"
		}
		if r.Section == "power" && r.Pass {
			res = "ok (caught)"
		}
		check := r.Check
		if r.Note != "" {
			check += " [" + r.Note + "]"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.Section, check, r.Path, r.Trials, lb, cl, res)
		counts[r.Section] += r.Trials
	}
	tw.Flush()
	fmt.Fprintf(w, "\nchecks: %d; audit runs (D and D'): %d; broken mechanisms caught: %d of %d; crashes survived: %d; bad inputs tried: %d; fuzz inputs: %d\n",
		len(recs), 2*(counts["dp-audit"]+counts["power"]), countPass(recs, "power"), countAll(recs, "power"), counts["crash"], counts["bad-input"], counts["fuzz"])
}

func countPass(recs []verify.Record, section string) int {
	n := 0
	for _, r := range recs {
		if r.Section == section && r.Pass {
			n++
		}
	}
	return n
}

func countAll(recs []verify.Record, section string) int {
	n := 0
	for _, r := range recs {
		if r.Section == section {
			n++
		}
	}
	return n
}
