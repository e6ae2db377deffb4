package verify

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privagg/privagg/engine/duckdb"
	"github.com/privagg/privagg/internal/testfixture"
	"github.com/privagg/privagg/internal/testnoise"
	"github.com/privagg/privagg/pipeline"
	"github.com/privagg/privagg/privacy"
)

// corpusSecrets are the identifier values of the corpus under testdata/badinput:
// emails, phones, ips and person ids. No run may publish or log any of them.
func corpusSecrets() []string {
	var s []string
	for _, i := range []int{1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 14, 21, 22, 31, 32, 41, 42, 43, 44, 51, 61, 62, 63} {
		s = append(s, fmt.Sprintf("uid-%04d-k9q", i), fmt.Sprintf("person%d.verify@example.com", i), fmt.Sprintf("+1-555-01%02d", i), fmt.Sprintf("203.0.113.%d,", i))
	}
	return s
}

type inputCase struct {
	name       string
	format     string
	file       string // under testdata/badinput; "" with gen
	gen        func(t *testing.T) []byte
	rejectFrac float64
	wantExit   int
	// With wantExit 0: the internal report's counts, and the accepted rows
	// (consented, well-formed), which the noiseless release must total.
	read, rejected, excluded int64
	// bug, when set, names a known bug the case reproduces: the case is
	// skipped (set PRIVAGG_VERIFY_BUGS=1 to run it).
	bug string
}

// huge is a CSV whose one line is longer than the CSV reader's line limit,
// and one whose revenue field is a 100 kB number.
func hugeLine(t *testing.T) []byte {
	good, err := os.ReadFile(filepath.Join("testdata", "badinput", "good.csv"))
	if err != nil {
		t.Fatal(err)
	}
	return append(good, []byte("uid-0071-k9q,"+strings.Repeat("x", 3<<20)+",+1-555-0171,203.0.113.71,c1,5,true\n")...)
}

func hugeNumber(t *testing.T) []byte {
	good, err := os.ReadFile(filepath.Join("testdata", "badinput", "good.csv"))
	if err != nil {
		t.Fatal(err)
	}
	return append(good, []byte("uid-0072-k9q,p72.verify@example.com,+1-555-0172,203.0.113.72,c1,"+strings.Repeat("9", 100000)+",true\n")...)
}

func inputCases() []inputCase {
	return []inputCase{
		{name: "good csv", format: "csv", file: "good.csv", read: 7, excluded: 1},
		{name: "NaN and Inf and text in a measure", format: "csv", file: "nan_inf.csv", rejectFrac: 0.5, read: 11, rejected: 4, excluded: 1},
		{name: "NaN and Inf above max_reject_fraction", format: "csv", file: "nan_inf.csv", rejectFrac: 0.2, wantExit: pipeline.ExitInput},
		{name: "null and blank person ids", format: "csv", file: "null_person.csv", rejectFrac: 0.5, read: 9, rejected: 2, excluded: 1},
		{name: "wrong arity", format: "csv", file: "wrong_arity.csv", rejectFrac: 0.5, read: 9, rejected: 2, excluded: 1},
		{name: "negative and overflowing values", format: "csv", file: "negative_overflow.csv", rejectFrac: 0.5, read: 11, rejected: 2, excluded: 1},
		// DuckDB 1.5.5's CSV reader cannot skip a line with invalid UTF-8
		// while it records rejects (an internal error): privagg refuses the
		// input (exit 4) before any budget is reserved.
		{name: "bad utf-8", format: "csv", file: "bad_utf8.csv", rejectFrac: 0.5, wantExit: pipeline.ExitInput},
		{name: "header only", format: "csv", file: "header_only.csv"},
		{name: "empty csv", format: "csv", file: "empty.csv", wantExit: pipeline.ExitConfig},
		{name: "line beyond the reader's limit", format: "csv", gen: hugeLine, rejectFrac: 0.5, wantExit: pipeline.ExitInput},
		{name: "100 kB number", format: "csv", gen: hugeNumber, rejectFrac: 0.5, read: 8, rejected: 1, excluded: 1},
		{name: "good json", format: "json", file: "good.jsonl", read: 7, excluded: 1},
		{name: "malformed json lines", format: "json", file: "bad_lines.jsonl", rejectFrac: 0.5, read: 11, rejected: 4, excluded: 1},
		{name: "empty json", format: "json", file: "empty.jsonl", wantExit: pipeline.ExitConfig},
		{name: "garbage parquet", format: "parquet", file: "garbage.parquet", wantExit: pipeline.ExitInput},
		{name: "truncated parquet", format: "parquet", file: "truncated.parquet", wantExit: pipeline.ExitInput},
		{name: "missing file", format: "csv", wantExit: pipeline.ExitInput},
	}
}

// TestVerifyBadInput runs the corpus through pipeline.Run: each case ends
// with the documented exit code; on success read = accepted + rejected +
// excluded by consent, and the noiseless release totals exactly the accepted
// rows; on failure nothing is published; nothing identifying is published or
// logged either way.
func TestVerifyBadInput(t *testing.T) {
	cases := inputCases()
	tried := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.bug != "" && os.Getenv("PRIVAGG_VERIFY_BUGS") == "" {
				t.Skip("known bug: " + tc.bug)
			}
			var input []byte
			switch {
			case tc.gen != nil:
				input = tc.gen(t)
			case tc.file != "":
				var err error
				if input, err = os.ReadFile(filepath.Join("testdata", "badinput", tc.file)); err != nil {
					t.Fatal(err)
				}
			}
			job := newJob(t, jobSetup{format: tc.format, input: input, rejectFrac: tc.rejectFrac})
			var logs logBuffer
			restore := testfixture.WithNoise(t, testnoise.None{})
			res, err := pipeline.Run(context.Background(), job, pipeline.RunOptions{NewEngine: duckdb.Factory(duckdb.Options{}), Logger: logs.logger()})
			restore()
			tried++
			if got := exitCode(err); got != tc.wantExit {
				t.Fatalf("exit code %d (err %v), want %d", got, err, tc.wantExit)
			}
			leakScan(t, job, append(logs.Bytes(), []byte(fmt.Sprint(err))...), corpusSecrets())
			if err != nil {
				if files := outputFiles(t, job.Output.Dir); len(files) > 0 {
					t.Errorf("failed run left files in output.dir: %v", files)
				}
				// Input problems are found before the reservation: no charge.
				if led, lerr := privacy.OpenLedger(job.Ledger); lerr == nil {
					if st, serr := led.Status(context.Background(), job.Dataset); serr == nil && !st.EpsilonSpent.IsZero() {
						t.Errorf("failed run charged epsilon %s", st.EpsilonSpent)
					}
				}
				return
			}
			r := res.Report
			if r.RowsRead != tc.read || r.RowsRejected != tc.rejected || r.RowsExcludedByConsent != tc.excluded {
				t.Errorf("report read=%d rejected=%d excluded=%d, want %d, %d, %d", r.RowsRead, r.RowsRejected, r.RowsExcludedByConsent, tc.read, tc.rejected, tc.excluded)
			}
			accepted := tc.read - tc.rejected - tc.excluded
			if events, _ := releasedTotals(t, job); events != accepted {
				t.Errorf("released events total %d, want the %d accepted rows (read %d = accepted + rejected %d + excluded %d)", events, accepted, tc.read, tc.rejected, tc.excluded)
			}
		})
	}
	t.Run("unreadable file", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("running as root: chmod 000 does not stop root from reading, so an unreadable file cannot be made here")
		}
		good, _ := os.ReadFile(filepath.Join("testdata", "badinput", "good.csv"))
		job := newJob(t, jobSetup{format: "csv", input: good})
		if err := os.Chmod(job.Input.Path, 0); err != nil {
			t.Fatal(err)
		}
		_, err := pipeline.Run(context.Background(), job, pipeline.RunOptions{NewEngine: duckdb.Factory(duckdb.Options{})})
		tried++
		if got := exitCode(err); got != pipeline.ExitInput {
			t.Fatalf("exit code %d (err %v), want %d", got, err, pipeline.ExitInput)
		}
	})
	if err := Write(Record{Section: "bad-input", Check: "malformed CSV/JSON/Parquet corpus, exit codes, counts", Path: "pipeline.Run", Trials: tried, Pass: !t.Failed()}); err != nil {
		t.Error(err)
	}
}
