// Package beamengine runs a privagg job on Apache Beam through Privacy on
// Beam (pbeam), for inputs that outgrow one machine. It compiles the same
// job file to a Beam pipeline: Beam IO for the input (textio for CSV and
// NDJSON, fileio + pqarrow for Parquet), consent, derived columns (the
// transforms package's Go twins of the embedded engine's SQL), one
// pbeam.MakePrivate per output on the privacy unit, and pbeam aggregations
// with the budget split of privacy.NewPlan. The released tables, manifest,
// ledger charge and atomic publish are the embedded engine's: results come
// back to the driver already noised and go through privacy.Releaser's
// AddNoisedOutput, pipeline's sinks and pipeline.Publish.
//
// The run has two Beam pipelines, like the embedded engine's two scans: the
// first only counts rows read, rejected and excluded by consent (internal,
// for the reject check and the run report); the budget is reserved after it,
// so a rejected input costs nothing; the second draws all noise.
package beamengine

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/fileio"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/textio"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"
	"github.com/google/differential-privacy/privacy-on-beam/v3/pbeam"

	"github.com/privagg/privagg/pipeline"
	"github.com/privagg/privagg/privacy"
)

// Options configures Run. The zero value runs on Beam's local direct runner.
type Options struct {
	// Runner is the Beam runner: direct (default), dataflow, flink, spark,
	// universal. Runner-specific settings come from Beam's own flags.
	Runner string
	// ResultsDir receives the engine's intermediate files: row counts and
	// the already-noised per-partition statistics (differentially private,
	// but not a release until published). Must be readable by the driver and
	// writable by the workers (e.g. gs://bucket/privagg-tmp on Dataflow).
	// Optional; defaults to a new local temp folder, removed afterwards.
	ResultsDir string
	// ReleaseID and Ledger as in pipeline.RunOptions.
	ReleaseID string
	Ledger    string
	// Logger receives stage messages. Optional; nil discards.
	Logger *slog.Logger

	// testMode switches pbeam's noise off; set only by this package's tests.
	testMode pbeam.TestMode
}

// Run executes job on Beam: reserve budget, run the DP pipeline, store,
// publish, mark published, with the embedded engine's release protocol. A
// stored or published release id is re-published without a new charge.
func Run(ctx context.Context, job *pipeline.Job, opts Options) (res *pipeline.RunResult, err error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	start := time.Now()
	report := pipeline.RunReport{
		Note: "INTERNAL - NOT FOR MARKETING: these counts are exact, not differentially private.",
		Job:  job.Name, Dataset: job.Dataset, Purpose: job.Purpose, Started: start.UTC(),
	}
	ledgerPath := job.Ledger
	if opts.Ledger != "" {
		ledgerPath = opts.Ledger
	}
	id := opts.ReleaseID
	if id == "" {
		if id, err = pipeline.Fingerprint(job); err != nil {
			return nil, err
		}
	}
	report.ReleaseID = id
	defer func() {
		report.Finished = time.Now().UTC()
		report.Seconds = time.Since(start).Seconds()
		if err != nil {
			report.Status, report.Error = "failed", err.Error()
		}
		if werr := writeRunReport(ledgerPath, report); werr != nil {
			log.Warn("could not write the internal run report", "err", werr)
		}
		if res != nil {
			res.Report = report
		}
	}()
	if job.Staging != nil {
		return nil, &pipeline.ConfigError{File: job.File, Problems: []pipeline.Problem{{Key: "staging",
			Rule: "is not supported by --engine beam; run the staging job with the duckdb engine"}}}
	}
	runner, err := checkRunner(opts.Runner)
	if err != nil {
		return nil, err
	}

	led, err := privacy.OpenLedger(ledgerPath)
	if err != nil {
		return nil, err
	}
	rec, err := led.Lookup(ctx, id)
	if err != nil {
		return nil, err
	}
	if rec != nil && rec.Dataset != job.Dataset {
		return nil, &pipeline.ConfigError{File: job.File, Problems: []pipeline.Problem{{Key: "--release-id", Value: id,
			Rule: fmt.Sprintf("belongs to dataset %q, not %q", rec.Dataset, job.Dataset)}}}
	}
	if rec != nil && (rec.State == privacy.StateStored || rec.State == privacy.StatePublished) {
		files, err := republish(ctx, led, id, job.Output.Dir)
		if err != nil {
			return nil, err
		}
		report.Status = "republished"
		return &pipeline.RunResult{ReleaseID: id, Republished: true, OutputDir: job.Output.Dir, Files: files}, nil
	}
	plan, err := privacy.NewPlan(job.PrivacySpec())
	if err != nil {
		return nil, &pipeline.ConfigError{File: job.File, Problems: []pipeline.Problem{{Key: "privacy", Rule: err.Error()}}}
	}
	if rec == nil {
		if _, err := led.Check(ctx, job.Dataset, plan.Total.Epsilon, plan.Total.Delta); err != nil {
			return nil, err
		}
	}
	c, err := compile(job, plan)
	if err != nil {
		return nil, err
	}
	dir := opts.ResultsDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "privagg-beam-*"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
	}
	dir = strings.TrimRight(dir, "/") + "/" + id + "-" + randomUnit()[:8]

	// Pass 1: row counts (internal), then the reject check.
	log.Info("counting input rows", "runner", runner)
	countsFile := dir + "/counts.jsonl"
	p, s := beam.NewPipelineWithRoot()
	events := c.events(s)
	tags := beam.ParDo(s, statusTag, events)
	textio.Write(s, countsFile, beam.ParDo(s, formatCount, stats.Count(s, tags)))
	if _, err := beam.Run(ctx, runner, p); err != nil {
		return nil, &pipeline.InputError{Reason: "beam pipeline (row counts) failed", Err: err}
	}
	counts, err := readCounts(ctx, countsFile)
	if err != nil {
		return nil, err
	}
	report.RowsRead, report.RowsRejected, report.RowsExcludedByConsent = counts["read"], counts["rejected"], counts["excluded"]
	if counts["read"] > 0 && float64(counts["rejected"]) > job.Input.MaxRejectFraction*float64(counts["read"]) {
		return nil, &pipeline.InputError{
			Reason:   fmt.Sprintf("malformed rows exceed input.max_reject_fraction %v", job.Input.MaxRejectFraction),
			Read:     counts["read"],
			Rejected: counts["rejected"],
		}
	}

	reservation, err := led.Reserve(ctx, privacy.ReserveRequest{
		ReleaseID: id, Dataset: job.Dataset, Job: job.Name, Purpose: job.Purpose,
		Epsilon: plan.Total.Epsilon, Delta: plan.Total.Delta,
		Outputs: outputNames(job), OutputDir: job.Output.Dir, JobSHA256: fileSHA256(job.File),
	})
	if err != nil {
		return nil, err
	}
	log.Info("budget reserved", "release", id, "epsilon", plan.Total.Epsilon, "delta", plan.Total.Delta)

	// Pass 2: all noise is drawn here, by pbeam.
	resultsFile := dir + "/results.jsonl"
	p, s = beam.NewPipelineWithRoot()
	events = c.events(s)
	var all []beam.PCollection
	for o := range plan.Outputs {
		lines, err := buildOutput(s, o, &plan.Outputs[o], c.outs[o], events, c.noiseKind, c.public[o], opts.testMode)
		if err != nil {
			return nil, err
		}
		all = append(all, lines)
	}
	textio.Write(s, resultsFile, beam.Flatten(s, all...))
	if _, err := beam.Run(ctx, runner, p); err != nil {
		return nil, fmt.Errorf("release %s (budget stays charged): beam pipeline failed: %w", id, err)
	}
	rel, stats, err := collect(ctx, resultsFile, plan, reservation, job)
	if err != nil {
		return nil, fmt.Errorf("release %s (budget stays charged): %w", id, err)
	}
	defer rel.Free()
	report.Outputs = stats

	files, err := store(ctx, led, id, job, rel)
	if err != nil {
		return nil, fmt.Errorf("release %s (budget stays charged): %w", id, err)
	}
	if err := pipeline.Publish(ctx, led.StoreDir(id), job.Output.Dir, files); err != nil {
		return nil, fmt.Errorf("publish release %s (stored; re-run to publish): %w", id, err)
	}
	if err := led.MarkPublished(ctx, id); err != nil {
		return nil, fmt.Errorf("mark release %s published: %w", id, err)
	}
	report.Status = "published"
	log.Info("release published", "release", id, "dir", job.Output.Dir, "files", len(files))
	return &pipeline.RunResult{ReleaseID: id, OutputDir: job.Output.Dir, Files: files}, nil
}

// Runners are the Beam runners the privagg-beam binary links.
var Runners = []string{"direct", "dataflow", "flink", "spark", "universal"}

func checkRunner(r string) (string, error) {
	if r == "" {
		r = "direct"
	}
	if !slices.Contains(Runners, r) {
		return "", &pipeline.ConfigError{Problems: []pipeline.Problem{{Key: "--runner", Value: r,
			Rule: "must be one of " + strings.Join(Runners, ", ")}}}
	}
	return r, nil
}

func statusTag(ev event, emit func(string)) {
	emit("read")
	switch ev.Status {
	case statusRejected:
		emit("rejected")
	case statusNoConsent:
		emit("excluded")
	}
}

func formatCount(tag string, n int) string { return fmt.Sprintf(`{"tag":%q,"n":%d}`, tag, n) }

// readLines reads a file written by textio.Write through Beam's filesystem
// (so gs:// and other schemes work too).
func readLines(ctx context.Context, path string, fn func([]byte) error) error {
	fs, err := filesystem.New(ctx, path)
	if err != nil {
		return err
	}
	defer fs.Close()
	r, err := fs.OpenRead(ctx, path)
	if err != nil {
		return err
	}
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		if err := fn(sc.Bytes()); err != nil {
			return err
		}
	}
	return sc.Err()
}

func readCounts(ctx context.Context, path string) (map[string]int64, error) {
	counts := map[string]int64{}
	err := readLines(ctx, path, func(b []byte) error {
		var c struct {
			Tag string `json:"tag"`
			N   int64  `json:"n"`
		}
		if err := json.Unmarshal(b, &c); err != nil {
			return err
		}
		counts[c.Tag] = c.N
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read row counts: %w", err)
	}
	return counts, nil
}

// collect reads the noised statistics and builds the Release.
func collect(ctx context.Context, path string, plan *privacy.Plan, res *privacy.Reservation, job *pipeline.Job) (*privacy.Release, map[string]privacy.OutputStats, error) {
	parts := make([]map[string]*privacy.NoisedPartition, len(plan.Outputs))
	seen := make([]map[string]map[string]bool, len(plan.Outputs)) // output -> part -> "metric/stat"
	for o := range parts {
		parts[o], seen[o] = map[string]*privacy.NoisedPartition{}, map[string]map[string]bool{}
	}
	err := readLines(ctx, path, func(b []byte) error {
		var l resultLine
		if err := json.Unmarshal(b, &l); err != nil {
			return err
		}
		if l.Output < 0 || l.Output >= len(plan.Outputs) || l.Metric < 0 || l.Metric >= len(plan.Outputs[l.Output].Metrics) {
			return fmt.Errorf("result for unknown output %d metric %d", l.Output, l.Metric)
		}
		p := parts[l.Output][l.Part]
		if p == nil {
			keys, null, err := decodePartKey(l.Part)
			if err != nil {
				return fmt.Errorf("partition key: %w", err)
			}
			p = &privacy.NoisedPartition{Key: keys, Null: null, Metrics: make([]privacy.NoisedMetric, len(plan.Outputs[l.Output].Metrics))}
			parts[l.Output][l.Part] = p
			seen[l.Output][l.Part] = map[string]bool{}
		}
		seen[l.Output][l.Part][fmt.Sprintf("%d/%s", l.Metric, l.Stat)] = true
		m := &p.Metrics[l.Metric]
		switch l.Stat {
		case privacy.StatN:
			m.N = l.Int
		case privacy.StatSum:
			m.Sum = l.Float
		case privacy.StatSumSq:
			m.SumSq = l.Float
		case privacy.StatValue:
			m.Quantiles = l.Floats
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read results: %w", err)
	}
	r, err := privacy.NewReleaser(plan, res, privacy.Metadata{
		Job: job.Name, Dataset: job.Dataset, Purpose: job.Purpose, Created: time.Now().UTC(),
	}, privacy.ReleaserOptions{})
	if err != nil {
		return nil, nil, err
	}
	for o, op := range plan.Outputs {
		want := expectedStats(op)
		list := make([]privacy.NoisedPartition, 0, len(parts[o]))
		for k, p := range parts[o] {
			if len(seen[o][k]) != want {
				return nil, nil, fmt.Errorf("output %q: a partition lacks some of its %d statistics", op.Spec.Name, want)
			}
			list = append(list, *p)
		}
		st := privacy.OutputStats{Partitions: int64(len(list)), Released: int64(len(list))}
		if err := r.AddNoisedOutput(op.Spec.Name, list, st); err != nil {
			return nil, nil, err
		}
	}
	rel, err := r.Finish()
	if err != nil {
		return nil, nil, err
	}
	return rel, r.Stats(), nil
}

// expectedStats is the number of noised statistics per partition of op.
func expectedStats(op privacy.OutputPlan) int {
	n := 0
	for _, mp := range op.Metrics {
		switch mp.Spec.Kind {
		case privacy.Mean:
			n += 2
		case privacy.Variance:
			n += 3
		default:
			n++
		}
	}
	return n
}

// compiled is the job compiled for Beam.
type compiled struct {
	job       *pipeline.Job
	src       source
	ev        eventSpec
	consent   *source // consent table reader, or nil
	purpose   string
	outs      []outSpec
	public    [][]string // per output: encoded public keys, or nil
	noiseKind pbeam.NoiseKind
}

// events adds the input, consent and derived columns to s.
func (c *compiled) events(s beam.Scope) beam.PCollection {
	s = s.Scope("events")
	var events beam.PCollection
	if c.src.Format == "parquet" {
		files := fileio.ReadMatches(s, fileio.MatchFiles(s, c.job.Input.Path))
		events = beam.ParDo(s, &eventFileFn{Src: c.src, Ev: c.ev}, files)
	} else {
		events = beam.ParDo(s, &eventLineFn{Src: c.src, Ev: c.ev}, textio.Read(s, c.job.Input.Path))
	}
	if c.consent == nil {
		return events
	}
	cs := s.Scope("consent")
	var recs beam.PCollection
	spec := consentSpec{Purpose: c.purpose}
	if c.consent.Format == "parquet" {
		files := fileio.ReadMatches(cs, fileio.MatchFiles(cs, c.job.Consent.Table.Path))
		recs = beam.ParDo(cs, &consentFileFn{Src: *c.consent, C: spec}, files)
	} else {
		recs = beam.ParDo(cs, &consentLineFn{Src: *c.consent, C: spec}, textio.Read(cs, c.job.Consent.Table.Path))
	}
	latest := beam.CombinePerKey(cs, &latestConsentFn{}, recs)
	joined := beam.CoGroupByKey(cs, beam.ParDo(cs, keyByUnit, events), latest)
	return beam.ParDo(cs, applyConsentFn, joined)
}

func outputNames(job *pipeline.Job) []string {
	out := make([]string, len(job.Outputs))
	for i, o := range job.Outputs {
		out[i] = o.Name
	}
	return out
}

var errNoInput = errors.New("input.path matches no file")

func fileExists(path string) bool { _, err := os.Stat(path); return err == nil }

func localGlob(path string) ([]string, error) {
	if strings.Contains(path, "://") {
		return nil, nil // remote: Beam's filesystem resolves it on the workers
	}
	m, err := filepath.Glob(path)
	if err == nil && len(m) == 0 {
		return nil, errNoInput
	}
	return m, err
}
