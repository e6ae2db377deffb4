// Package beamengine runs a privagg job on Apache Beam through Privacy on
// Beam (pbeam), for inputs that outgrow one machine. It compiles the same
// job file to a Beam pipeline: Beam IO for the input (textio for CSV and
// NDJSON, fileio + pqarrow for Parquet), consent, derived columns (the
// transforms package's Go twins of the embedded engine's SQL), one
// pbeam.MakePrivate per output on the privacy unit, and pbeam aggregations
// with the budget split of privacy.NewPlan.
//
// Engine implements engine.Engine, so the release protocol is pipeline.Run's
// own: ledger check and reservation, release store, report, atomic publish,
// mark published, internal run report and re-publication of a stored
// release. The noised results come back to the driver and become a
// privacy.Release through privacy.Releaser.AddNoisedOutput.
//
// A run has two Beam pipelines, like the embedded engine's two scans:
// Prepare's only counts rows read, rejected and excluded by consent
// (internal, for the reject check and the run report); pipeline.Run reserves
// the budget after it, so a rejected input costs nothing; Release's draws
// all noise.
package beamengine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/job"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/fileio"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/textio"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"
	"github.com/google/differential-privacy/privacy-on-beam/v3/pbeam"

	"github.com/privagg/privagg/privacy"
)

// Options configures an Engine. The zero value runs on Beam's local direct
// runner with a local temp folder for the intermediate results.
type Options struct {
	// Runner is the Beam runner: direct (default), dataflow, flink, spark,
	// universal. Runner-specific settings come from Beam's own flags.
	Runner string
	// ResultsDir receives the engine's intermediate files, in one folder per
	// run: exact row counts, where rejected rows are, and the already-noised
	// per-partition statistics (differentially private, but not a release
	// until published). Must be readable by the driver and writable by the
	// workers (e.g. gs://bucket/privagg-tmp on Dataflow); a local run folder
	// is 0700 with files 0600, so local workers must run as the driver's
	// account. The run folder is removed after Release and by Close.
	// Optional; defaults to a new local temp folder, removed by Close.
	ResultsDir string
	// Logger receives stage messages. Optional; nil discards.
	Logger *slog.Logger
}

// Runners are the Beam runners the privagg-beam binary links.
var Runners = []string{"direct", "prism", "dataflow", "flink", "spark", "universal"}

// Engine computes a job's release on Beam for pipeline.Run. Use it once:
//
//	eng, err := beamengine.New(job, opts)
//	...
//	defer eng.Close()
//	res, err := pipeline.Run(ctx, job, pipeline.RunOptions{Engine: eng, ...})
type Engine struct {
	job     *job.Job
	runner  string
	results string // Options.ResultsDir, or "" for a temp folder
	log     *slog.Logger
	params  pbeam.PrivacySpecParams // budget fields are set per output

	c       *compiled // set by Prepare
	work    workDir   // this run's folder for intermediate files, set by Prepare
	tempDir string    // local temp folder to remove in Close, or ""
}

var _ engine.Engine = (*Engine)(nil)
var _ engine.BoundsEstimator = (*Engine)(nil)

// New validates opts and returns an engine for job. It reads no data.
func New(j *job.Job, opts Options) (*Engine, error) {
	if j == nil {
		return nil, errors.New("beam engine: j is required")
	}
	runner := opts.Runner
	if runner == "" {
		runner = "direct"
	}
	if !slices.Contains(Runners, runner) {
		return nil, &job.ConfigError{Problems: []job.Problem{{Key: "--runner", Value: runner,
			Rule: "must be one of " + strings.Join(Runners, ", ")}}}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Engine{job: j, runner: runner, results: opts.ResultsDir, log: log, params: baseSpecParams}, nil
}

// Prepare compiles the job and runs pass 1, which counts rows read, rejected
// and excluded by consent. It draws no noise and needs no budget.
func (e *Engine) Prepare(ctx context.Context) (engine.InputCounts, error) {
	if e.c != nil {
		return engine.InputCounts{}, errors.New("beam engine: Prepare called twice")
	}
	c, err := compile(ctx, e.job)
	if err != nil {
		return engine.InputCounts{}, err
	}
	dir := e.results
	if dir == "" {
		if e.tempDir, err = os.MkdirTemp("", "privagg-beam-*"); err != nil {
			return engine.InputCounts{}, fmt.Errorf("beam engine: results folder: %w", err)
		}
		dir = e.tempDir
	}
	if e.work, err = newWorkDir(dir, e.job.Name+"-"+randomUnit()[:12]); err != nil {
		return engine.InputCounts{}, err
	}
	e.c = c

	e.log.Info("counting input rows on beam", "runner", e.runner)
	countsPath, listingPath := e.work.file(countsFile), e.work.file(listingFile)
	p, s := beam.NewPipelineWithRoot()
	in := c.events(s)
	tags := beam.ParDo(s, statusTag, in.events)
	if in.consentRecs.IsValid() {
		tags = beam.Flatten(s, tags, beam.ParDo(s, consentTag, in.consentRecs))
	}
	textio.Write(s, countsPath, beam.ParDo(s, formatCount, stats.Count(s, tags)))
	writeListing(s, listingPath, in.rejects, in.ranges)
	if _, err := beam.Run(ctx, e.runner, p); err != nil {
		return engine.InputCounts{}, &engine.InputError{Reason: "beam pipeline (row counts) failed", Err: err}
	}
	if err := e.work.private(); err != nil {
		return engine.InputCounts{}, err
	}
	counts, err := readCounts(ctx, countsPath)
	if err != nil {
		return counts, err
	}
	listRejects(ctx, listingPath, e.job.Input.Path, &counts)
	return counts, nil
}

// Release runs pass 2, where pbeam draws all noise with the plan's budget,
// and turns the noised statistics into a Release under the reservation. It
// removes the run folder before it returns, whatever the outcome: the
// noised statistics then exist only in the Release.
func (e *Engine) Release(ctx context.Context, plan *privacy.Plan, res *privacy.Reservation) (rel *privacy.Release, st map[string]privacy.OutputStats, err error) {
	if e.c == nil {
		return nil, nil, errors.New("beam engine: Release called before Prepare")
	}
	defer func() {
		// A context cancelled by a signal must not stop the removal.
		if rerr := e.work.remove(context.WithoutCancel(ctx)); rerr != nil {
			if err == nil {
				rel, st = nil, nil
			}
			err = errors.Join(err, rerr)
		}
	}()
	if len(plan.Outputs) != len(e.c.outs) {
		return nil, nil, fmt.Errorf("beam engine: plan has %d outputs, job %d", len(plan.Outputs), len(e.c.outs))
	}
	noiseKind := pbeam.NoiseKind(pbeam.LaplaceNoise{})
	if plan.Spec.Noise == privacy.Gaussian {
		noiseKind = pbeam.GaussianNoise{}
	}
	r, err := privacy.NewReleaser(plan, res, e.job.ReleaseMetadata(time.Now().UTC()), privacy.ReleaserOptions{})
	if err != nil {
		return nil, nil, err
	}
	// With a bounds share, two passes estimate the bounds first (bounds.go)
	// and the release uses the plan with them.
	seed := newSeed()
	if plan.Bounds != nil {
		if err := e.estimateBounds(ctx, r, seed); err != nil {
			return nil, nil, err
		}
		plan = r.Plan()
	}
	resultsPath, droppedPath := e.work.file(resultsFile), e.work.file(droppedEstFile)
	p, s := beam.NewPipelineWithRoot()
	events := e.c.events(s).events
	lines := make([]beam.PCollection, len(plan.Outputs))
	var dropped []beam.PCollection
	for o := range plan.Outputs {
		op := &plan.Outputs[o]
		var est *estSpec
		if op.Bounds != nil {
			caps, err := r.DroppedCaps(op.Spec.Name)
			if err != nil {
				return nil, nil, err
			}
			es := newEstSpec(o, op.Spec, seed)
			es.L0, es.Caps = caps.L0, caps
			est = &es
		}
		var d beam.PCollection
		if lines[o], d, err = buildOutput(s, o, op, e.c.outs[o], events, noiseKind, e.params, est); err != nil {
			return nil, nil, err
		}
		if est != nil {
			dropped = append(dropped, d)
		}
	}
	textio.Write(s, resultsPath, beam.Flatten(s, lines...))
	if len(dropped) > 0 {
		textio.Write(s, droppedPath, beam.Flatten(s, dropped...))
	}
	e.log.Info("releasing on beam", "runner", e.runner, "outputs", len(plan.Outputs))
	if _, err := beam.Run(ctx, e.runner, p); err != nil {
		return nil, nil, fmt.Errorf("beam pipeline failed: %w", err)
	}
	if err := e.work.private(); err != nil {
		return nil, nil, err
	}
	return collect(ctx, resultsPath, droppedPath, r)
}

// WritesNoise reports true: Release writes the noised statistics to the
// results file in the work folder (engine.NoiseWriter).
func (e *Engine) WritesNoise() bool { return true }

// EstimatesBounds reports true: Release makes the bound estimates of a job
// with a bounds share (engine.BoundsEstimator).
func (e *Engine) EstimatesBounds() bool { return true }

// Published does nothing: the Beam engine writes no staging file.
func (e *Engine) Published() error { return nil }

// Close removes the run folder (of a run that stopped before Release) and
// the default local results folder. It may be called more than once.
func (e *Engine) Close() error {
	err := e.work.remove(context.Background())
	e.work = workDir{}
	if e.tempDir != "" {
		err = errors.Join(err, os.RemoveAll(e.tempDir))
		e.tempDir = ""
	}
	return err
}

// compiled is the job compiled for Beam.
type compiled struct {
	job     *job.Job
	src     source
	ev      eventSpec
	consent *source // consent table reader, or nil
	purpose string
	outs    []outSpec
}

// inputStage is what the input stage adds to a pipeline.
type inputStage struct {
	// events are the input's rows after consent and derived columns.
	events beam.PCollection
	// consentRecs are the consent table's records that count, keyed by
	// canonical unit (for the row counts); invalid without a consent table.
	consentRecs beam.PCollection
	// rejects locate the rejected rows and consent records (rejectAt);
	// ranges are the line counts of the files read by lines (rangeLines),
	// invalid when none is. Pass 1 lists them (writeListing).
	rejects, ranges beam.PCollection
}

// events adds the input, consent and derived columns to s.
func (c *compiled) events(s beam.Scope) inputStage {
	s = s.Scope("events")
	var st inputStage
	var rejects, ranges []beam.PCollection
	if c.src.Format == job.InputParquet {
		var rej beam.PCollection
		st.events, rej = beam.ParDo2(s, &eventFileFn{Src: c.src, Ev: c.ev}, matchFiles(s, c.job.Input.Path))
		rejects = append(rejects, rej)
	} else {
		fn := &eventLineFn{lineRanges: lineRanges{SplitBytes: lineSplitBytes, Format: c.src.Format, Delim: c.src.Delim}, Src: c.src, Ev: c.ev}
		var rej, rng beam.PCollection
		st.events, rej, rng = beam.ParDo3(s, fn, matchFiles(s, c.job.Input.Path))
		rejects, ranges = append(rejects, rej), append(ranges, rng)
	}
	switch {
	case c.job.Consent.Column != "" && c.ev.Unit != "":
		// Consent per person: one refusing or malformed value excludes all
		// of the person's rows.
		cs := s.Scope("consent")
		refused := beam.CombinePerKey(cs, orBool, beam.ParDo(cs, refusalOf, st.events))
		joined := beam.CoGroupByKey(cs, beam.ParDo(cs, keyByUnit, st.events), refused)
		st.events = beam.ParDo(cs, applyRefusalsFn, joined)
	case c.consent != nil:
		cs := s.Scope("consent")
		t := c.job.Consent.Table
		spec := consentSpec{Purpose: c.purpose, FoldCase: c.ev.FoldCase, Columns: [4]string{t.Unit, t.Purpose, t.Granted, t.At}}
		var rej beam.PCollection
		if c.consent.Format == job.InputParquet {
			st.consentRecs, rej = beam.ParDo2(cs, &consentFileFn{Src: *c.consent, C: spec}, matchFiles(cs, t.Path))
		} else {
			fn := &consentLineFn{lineRanges: lineRanges{SplitBytes: lineSplitBytes, Format: c.consent.Format, Delim: c.consent.Delim}, Src: *c.consent, C: spec}
			var rng beam.PCollection
			st.consentRecs, rej, rng = beam.ParDo3(cs, fn, matchFiles(cs, t.Path))
			ranges = append(ranges, rng)
		}
		rejects = append(rejects, rej)
		latest := beam.CombinePerKey(cs, &latestConsentFn{}, st.consentRecs)
		joined := beam.CoGroupByKey(cs, beam.ParDo(cs, keyByUnit, st.events), latest)
		st.events = beam.ParDo(cs, applyConsentFn, joined)
	}
	st.rejects = beam.Flatten(s, rejects...)
	if len(ranges) > 0 {
		st.ranges = beam.Flatten(s, ranges...)
	}
	return st
}

// matchFiles lists the files glob matches, ready to read, as textio.Read
// does (a glob that matches nothing reads nothing here; compile checks
// local inputs).
func matchFiles(s beam.Scope, glob string) beam.PCollection {
	filesystem.ValidateScheme(glob)
	return fileio.ReadMatches(s, fileio.MatchAll(s, beam.Create(s, glob), fileio.MatchEmptyAllow()))
}
