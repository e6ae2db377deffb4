package pipeline

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/privagg/privagg/pipeline/engine"
	"github.com/privagg/privagg/privacy"
)

// RunOptions configures Run. The zero value is what `privagg run` uses
// without flags.
type RunOptions struct {
	// ReleaseID names the release. Optional; defaults to Fingerprint(job):
	// the same job file on the same input files is the same release, which is
	// re-published, never re-noised.
	ReleaseID string
	// Ledger overrides the job's ledger path. Optional.
	Ledger string
	// MemoryLimit and TempDir override privacy.memory_limit and
	// privacy.temp_dir. Optional.
	MemoryLimit string
	TempDir     string
	// Logger receives progress and stage messages. Optional; nil discards.
	// Nothing identifying is ever logged.
	Logger *slog.Logger
	// Engine computes the release. Optional; nil means the embedded DuckDB
	// engine. Another engine (e.g. Apache Beam) plugs in here and keeps the
	// whole release protocol: ledger, store, publish, report.
	Engine Engine
}

// Engine computes a job's release for Run. Run calls Prepare, then (after
// the reject check and the budget reservation) Release, then Published once
// the release is published, and Close in every case.
type Engine interface {
	// Prepare reads and checks the input and returns its row counts. It must
	// draw no noise and need no budget.
	Prepare(ctx context.Context) (InputCounts, error)
	// Release computes the noisy tables under the reservation.
	Release(ctx context.Context, plan *privacy.Plan, res *privacy.Reservation) (*privacy.Release, map[string]privacy.OutputStats, error)
	// Published is called after the release is published (e.g. to move a
	// staging file into place).
	Published() error
	Close() error
}

// InputCounts are the exact row counts of an input (internal, not private).
type InputCounts struct {
	Read     int64 // rows read, malformed ones included
	Rejected int64 // malformed rows
	Excluded int64 // well-formed rows of people without consent for the purpose
}

// RunResult describes a finished run.
type RunResult struct {
	ReleaseID   string
	Republished bool     // the release was already stored; nothing was charged or noised
	OutputDir   string   // where the tables were published
	Files       []string // published file names in OutputDir
	Report      RunReport
}

// RunReport is the internal report of one run. Its counts are true, not
// noisy: it is for the data owner and privacy officers, never for marketing,
// and is written beside the ledger, never into output.dir.
type RunReport struct {
	Note                  string                         `json:"note"`
	ReleaseID             string                         `json:"release_id"`
	Job                   string                         `json:"job"`
	Dataset               string                         `json:"dataset"`
	Purpose               string                         `json:"purpose"`
	Status                string                         `json:"status"` // published | republished | failed
	Error                 string                         `json:"error,omitempty"`
	RowsRead              int64                          `json:"rows_read"`
	RowsRejected          int64                          `json:"rows_rejected"`
	RowsExcludedByConsent int64                          `json:"rows_excluded_by_consent"`
	Outputs               map[string]privacy.OutputStats `json:"outputs,omitempty"`
	Started               time.Time                      `json:"started"`
	Finished              time.Time                      `json:"finished"`
	Seconds               float64                        `json:"seconds"`
}

// stepHook, when set (only by tests), is called after each step of the
// release protocol so crash tests can kill the process there.
var stepHook func(step string)

func step(name string) {
	if stepHook != nil {
		stepHook(name)
	}
}

// Protocol steps, in order, passed to stepHook.
const (
	StepScanned   = "scanned"   // input read and checked; nothing charged
	StepReserved  = "reserved"  // budget charged in the ledger; no noise drawn yet
	StepReleased  = "released"  // noise drawn, tables in memory only
	StepStored    = "stored"    // tables in the release store, ledger says stored
	StepPublished = "published" // tables copied to output.dir, ledger not yet marked
	StepMarked    = "marked"    // ledger says published
)

const reportNote = "INTERNAL - NOT FOR MARKETING: these counts are exact, not differentially private."

// Run executes a job end to end: read, consent, derive, bound, aggregate,
// reserve budget, release with noise, store, publish, mark published. A
// failed run publishes nothing and leaves no file in output.dir.
func Run(ctx context.Context, job *Job, opts RunOptions) (res *RunResult, err error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	start := time.Now()
	report := RunReport{Note: reportNote, Job: job.Name, Dataset: job.Dataset, Purpose: job.Purpose, Started: start.UTC()}
	ledgerPath := job.Ledger
	if opts.Ledger != "" {
		ledgerPath = opts.Ledger
	}
	id := opts.ReleaseID
	if id == "" {
		if id, err = Fingerprint(job); err != nil {
			return nil, err
		}
	}
	if err := checkReleaseID(id); err != nil {
		return nil, err
	}
	report.ReleaseID = id
	defer func() {
		report.Finished = time.Now().UTC()
		report.Seconds = time.Since(start).Seconds()
		if err != nil {
			report.Status = "failed"
			report.Error = err.Error()
		}
		if werr := writeRunReport(ledgerPath, report); werr != nil {
			log.Warn("could not write the internal run report", "err", werr)
		}
		if res != nil {
			res.Report = report
		}
	}()

	led, err := privacy.OpenLedger(ledgerPath)
	if err != nil {
		return nil, err
	}
	rec, err := led.Lookup(ctx, id)
	if err != nil {
		return nil, err
	}
	if rec != nil && rec.Dataset != job.Dataset {
		return nil, &ConfigError{File: job.File, Problems: []Problem{{Key: "--release-id", Value: id, Rule: fmt.Sprintf("belongs to dataset %q, not %q", rec.Dataset, job.Dataset)}}}
	}
	if rec != nil && (rec.State == privacy.StateStored || rec.State == privacy.StatePublished) {
		files, err := republish(ctx, led, id, job.Output.Dir)
		if err != nil {
			return nil, err
		}
		report.Status = "republished"
		log.Info("release already stored: re-published without new noise or charge", "release", id, "files", len(files))
		return &RunResult{ReleaseID: id, Republished: true, OutputDir: job.Output.Dir, Files: files}, nil
	}

	plan, err := privacy.NewPlan(job.PrivacySpec())
	if err != nil {
		return nil, &ConfigError{File: job.File, Problems: []Problem{{Key: "privacy", Rule: err.Error()}}}
	}
	if rec == nil {
		// Refuse early, before reading any data. Reserve checks again atomically.
		if _, err := led.Check(ctx, job.Dataset, plan.Total.Epsilon, plan.Total.Delta); err != nil {
			return nil, err
		}
	}
	computer := opts.Engine
	if computer == nil {
		if computer, err = newDuckDBEngine(job, opts, id, log); err != nil {
			return nil, err
		}
	} else if job.Staging != nil {
		return nil, &ConfigError{File: job.File, Problems: []Problem{{Key: "staging", Rule: "is written by the duckdb engine only; run the staging job with --engine duckdb"}}}
	}
	defer computer.Close()

	log.Info("reading input", "format", job.Input.Format)
	scanStart := time.Now()
	counts, err := computer.Prepare(ctx)
	if err != nil {
		return nil, err
	}
	report.RowsRead, report.RowsRejected, report.RowsExcludedByConsent = counts.Read, counts.Rejected, counts.Excluded
	secs := time.Since(scanStart).Seconds()
	log.Info("input scanned", "rows", counts.Read, "seconds", round(secs), "rows_per_second", int64(float64(counts.Read)/max(secs, 1e-9)))
	if counts.Read > 0 && float64(counts.Rejected) > job.Input.MaxRejectFraction*float64(counts.Read) {
		return nil, &InputError{
			Reason:   fmt.Sprintf("malformed rows exceed input.max_reject_fraction %v", job.Input.MaxRejectFraction),
			Read:     counts.Read,
			Rejected: counts.Rejected,
		}
	}
	step(StepScanned)

	reservation, err := led.Reserve(ctx, privacy.ReserveRequest{
		ReleaseID: id,
		Dataset:   job.Dataset,
		Job:       job.Name,
		Purpose:   job.Purpose,
		Epsilon:   plan.Total.Epsilon,
		Delta:     plan.Total.Delta,
		Outputs:   outputNames(job),
		OutputDir: job.Output.Dir,
		JobSHA256: fileSHA256(job.File),
	})
	if err != nil {
		return nil, err
	}
	log.Info("budget reserved", "release", id, "epsilon", plan.Total.Epsilon, "delta", plan.Total.Delta)
	step(StepReserved)

	rel, stats, err := computer.Release(ctx, plan, reservation)
	if err != nil {
		return nil, fmt.Errorf("release %s (budget stays charged): %w", id, err)
	}
	defer rel.Free()
	report.Outputs = stats
	step(StepReleased)

	files, err := store(ctx, led, id, job, rel, report)
	if err != nil {
		return nil, fmt.Errorf("release %s (budget stays charged): %w", id, err)
	}
	step(StepStored)
	if err := Publish(ctx, led.StoreDir(id), job.Output.Dir, files); err != nil {
		return nil, fmt.Errorf("publish release %s (stored; re-run to publish): %w", id, err)
	}
	step(StepPublished)
	if err := led.MarkPublished(ctx, id); err != nil {
		return nil, fmt.Errorf("mark release %s published: %w", id, err)
	}
	step(StepMarked)
	if err := computer.Published(); err != nil {
		return nil, err
	}
	report.Status = "published"
	log.Info("release published", "release", id, "dir", job.Output.Dir, "files", len(files))
	return &RunResult{ReleaseID: id, OutputDir: job.Output.Dir, Files: files}, nil
}

// release runs the aggregate queries and hands them to a Releaser.
func release(ctx context.Context, eng *engine.Engine, qp *queryPlan, plan *privacy.Plan, res *privacy.Reservation, log *slog.Logger) (*privacy.Release, map[string]privacy.OutputStats, error) {
	job := qp.job
	r, err := privacy.NewReleaser(plan, res, privacy.Metadata{
		Job: job.Name, Dataset: job.Dataset, Purpose: job.Purpose, Created: time.Now().UTC(),
	}, privacy.ReleaserOptions{})
	if err != nil {
		return nil, nil, err
	}
	for o, out := range job.Outputs {
		outStart := time.Now()
		if err := prepareOutput(ctx, eng, qp, o); err != nil {
			return nil, nil, err
		}
		agg, err := eng.QueryArrow(ctx, qp.releaseSQL(o, statsTable(o)))
		if err != nil {
			return nil, nil, fmt.Errorf("output %q: aggregate: %w", out.Name, scrub(err))
		}
		var qs privacy.QuantileSource
		if qp.hasQuantiles(o) {
			// The bounded rows again: the L0 choice is a function of the data
			// and the seed, so this read keeps the same partitions.
			qsql := qp.quantileSQL(o, "("+qp.boundedSQL(o)+")")
			qs = func(ctx context.Context) (array.RecordReader, error) { return eng.QueryArrow(ctx, qsql) }
		}
		err = r.ReleaseOutput(ctx, out.Name, agg, qs)
		agg.Release()
		if err != nil {
			return nil, nil, err
		}
		for _, t := range []string{statsTable(o), dictTable(o)} {
			if err := eng.Exec(ctx, "DROP TABLE IF EXISTS "+t); err != nil {
				return nil, nil, err
			}
		}
		delete(qp.prepared, o)
		log.Info("output released", "output", out.Name, "seconds", round(time.Since(outStart).Seconds()))
	}
	rel, err := r.Finish()
	if err != nil {
		return nil, nil, err
	}
	return rel, r.Stats(), nil
}

// publishedList is the file in the release store naming the files to publish.
const publishedList = "published-files.json"

// store writes the release into the release store and marks it stored.
func store(ctx context.Context, led *privacy.Ledger, id string, job *Job, rel *privacy.Release, report RunReport) ([]string, error) {
	dir := led.StoreDir(id)
	// A reserved release being recomputed may have left partial files.
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	sink, err := NewSink(job.Output.Format)
	if err != nil {
		return nil, err
	}
	written, err := sink.Write(ctx, rel, dir)
	if err != nil {
		return nil, err
	}
	files := FileNames(written)
	if jobBytes, err := os.ReadFile(job.File); err == nil {
		if err := writeFileAtomic(filepath.Join(dir, "job.yaml"), jobBytes); err != nil {
			return nil, err
		}
	}
	list, err := json.MarshalIndent(files, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(dir, publishedList), list); err != nil {
		return nil, err
	}
	// Release report (report.go): part of the stored release, so written before MarkStored.
	if err := writeReleaseReport(ctx, led, id, job, rel, report); err != nil {
		return nil, err
	}
	if err := led.MarkStored(ctx, id); err != nil {
		return nil, err
	}
	return files, nil
}

// republish copies a stored release to outDir again, byte for byte.
func republish(ctx context.Context, led *privacy.Ledger, id, outDir string) ([]string, error) {
	dir := led.StoreDir(id)
	data, err := os.ReadFile(filepath.Join(dir, publishedList))
	if err != nil {
		return nil, &privacy.LedgerError{Path: dir, Reason: "release store is missing the stored release", Hint: "restore the release store from backup", Err: err}
	}
	var files []string
	if err := json.Unmarshal(data, &files); err != nil {
		return nil, &privacy.LedgerError{Path: dir, Reason: "release store is damaged", Hint: "restore the release store from backup", Err: err}
	}
	if err := Publish(ctx, dir, outDir, files); err != nil {
		return nil, err
	}
	rec, err := led.Lookup(ctx, id)
	if err != nil {
		return nil, err
	}
	if rec.State != privacy.StatePublished {
		if err := led.MarkPublished(ctx, id); err != nil {
			return nil, err
		}
	}
	return files, nil
}

type rowCounts struct{ read, rejected, excluded int64 }

// prepareInput checks the input files and columns and creates the views.
func prepareInput(ctx context.Context, eng *engine.Engine, qp *queryPlan) error {
	job := qp.job
	matches, err := filepath.Glob(job.Input.Path)
	if err != nil {
		return &ConfigError{File: job.File, Problems: []Problem{{Key: "input.path", Value: job.Input.Path, Rule: "is not a valid glob"}}}
	}
	if len(matches) == 0 {
		return &InputError{Reason: fmt.Sprintf("input.path %s matches no file", job.Input.Path)}
	}
	for _, m := range matches {
		f, err := os.Open(m)
		if err != nil {
			return &InputError{Reason: "cannot open an input file", Err: err}
		}
		f.Close()
	}
	// Which columns does the input have? Only names are read here.
	rows, err := eng.QueryRows(ctx, fmt.Sprintf("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM %s)", qp.readerSQL()))
	if err != nil {
		return &InputError{Reason: "cannot read the input's columns", Err: scrub(err)}
	}
	have := map[string]bool{}
	qp.types = map[string]string{}
	for _, r := range rows {
		name, _ := r[0].(string)
		typ, _ := r[1].(string)
		have[name] = true
		qp.types[name] = typ
	}
	var problems []Problem
	for _, c := range job.InputColumns() {
		if !have[c] {
			problems = append(problems, Problem{Key: "input.path", Value: job.Input.Path, Rule: fmt.Sprintf("has no column %q that the job uses", c)})
		}
	}
	if len(problems) > 0 {
		return &ConfigError{File: job.File, Problems: problems}
	}
	if s := qp.consentSQL(); s != "" {
		if err := eng.Exec(ctx, s); err != nil {
			return &InputError{Reason: "cannot read consent.table", Err: scrub(err)}
		}
	}
	for _, s := range qp.viewsSQL() {
		if err := eng.Exec(ctx, s); err != nil {
			return fmt.Errorf("prepare query: %w", scrub(err))
		}
	}
	return nil
}

// prepareOutput creates output o's public-partition tables, its partition
// dictionary and its per-partition statistics table (bounding and
// aggregation in one query over the input), once. If two units shared a
// bounding key (see unitKey), the statistics are computed again with the
// unit itself as key. No noise is drawn here; release reads the tables and
// drops them.
func prepareOutput(ctx context.Context, eng *engine.Engine, qp *queryPlan, o int) error {
	if qp.prepared[o] {
		return nil
	}
	fail := func(err error) error {
		return &InputError{Reason: fmt.Sprintf("cannot read the input for output %q", qp.job.Outputs[o].Name), Err: scrub(err)}
	}
	for _, s := range append(qp.publicSQL(o), qp.dictSQL(o)) {
		if err := eng.Exec(ctx, s); err != nil {
			return fail(err)
		}
	}
	rows, err := eng.QueryRows(ctx, partitionsSQL(o))
	if err != nil {
		return fail(err)
	}
	qp.partitions[o] = toInt64(rows[0][0])
	if err := eng.Exec(ctx, qp.preparedStatsSQL(o)); err != nil {
		return fail(err)
	}
	if _, check := qp.unitKey(o); check {
		rows, err := eng.QueryRows(ctx, collisionSQL(o))
		if err != nil {
			return fail(err)
		}
		if collided, _ := rows[0][0].(bool); collided {
			qp.unitExact[o] = true
			if err := eng.Exec(ctx, qp.preparedStatsSQL(o)); err != nil {
				return fail(err)
			}
		}
	}
	qp.prepared[o] = true
	return nil
}

// countRows reads the input once, into the first output's dictionary, and counts
// rows read, rejected and excluded by consent for the run report and the
// reject check.
func countRows(ctx context.Context, eng *engine.Engine, qp *queryPlan) (rowCounts, error) {
	if err := prepareOutput(ctx, eng, qp, 0); err != nil {
		return rowCounts{}, err
	}
	rows, err := eng.QueryRows(ctx, countsSQL())
	if err != nil {
		return rowCounts{}, &InputError{Reason: "cannot read the input", Err: scrub(err)}
	}
	c := rowCounts{read: toInt64(rows[0][0]), rejected: toInt64(rows[0][1]), excluded: toInt64(rows[0][2])}
	if qp.job.Input.Format == "csv" {
		// Lines the CSV reader itself rejected (wrong column count, values
		// that do not fit the column type) never reach the views. Every
		// scan of the input records them again; a line counts once.
		rej, err := eng.QueryRows(ctx, fmt.Sprintf("SELECT count(DISTINCT (file_id, line))::BIGINT FROM %s", tabRejects))
		if err == nil && len(rej) == 1 {
			n := toInt64(rej[0][0])
			c.read += n
			c.rejected += n
		}
	}
	return c, nil
}

func toInt64(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	case uint64:
		return int64(x)
	}
	return 0
}

// scrub keeps DuckDB errors but drops what could quote raw values: DuckDB's
// conversion errors cite the offending value, so only their first line's
// error class is kept.
func scrub(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for i, c := range msg {
		if c == ':' && i > 0 {
			class := msg[:i]
			if len(class) < 40 {
				return errors.New(class + " (details withheld: they may quote input values)")
			}
			break
		}
	}
	return errors.New("engine error (details withheld: they may quote input values)")
}

// Fingerprint is the default release id: the job name and a hash of the job
// file and of the input files' paths, sizes and modification times.
func Fingerprint(job *Job) (string, error) {
	h := sha256.New()
	data, err := os.ReadFile(job.File)
	if err != nil {
		return "", fmt.Errorf("fingerprint: %w", err)
	}
	h.Write(data)
	paths, _ := filepath.Glob(job.Input.Path)
	for _, extra := range job.referencedFiles() {
		paths = append(paths, extra)
	}
	slices.Sort(paths)
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			fmt.Fprintf(h, "%s\x00missing\x00", p)
			continue
		}
		fmt.Fprintf(h, "%s\x00%d\x00%d\x00", p, st.Size(), st.ModTime().UnixNano())
	}
	return job.Name + "-" + hex.EncodeToString(h.Sum(nil))[:12], nil
}

// referencedFiles are the files besides the input that change a release.
func (j *Job) referencedFiles() []string {
	var out []string
	if j.Consent.Table != nil {
		out = append(out, j.Consent.Table.Path)
	}
	for _, c := range j.Columns {
		if c.Map != nil {
			out = append(out, c.Map.File)
		}
	}
	for _, o := range j.Outputs {
		for _, pp := range o.PublicPartitions {
			if pp.File != "" {
				out = append(out, pp.File)
			}
		}
	}
	return out
}

func checkReleaseID(id string) error {
	ok := len(id) > 0 && len(id) <= 128
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			ok = false
		}
	}
	if !ok || id[0] == '.' {
		return &ConfigError{Problems: []Problem{{Key: "--release-id", Value: id, Rule: "must be 1-128 characters of letters, digits, '-', '_' or '.', not starting with '.'"}}}
	}
	return nil
}

// secretSeed is the per-run secret that keys the random choice of L0
// partitions per unit. It comes from crypto/rand and is never stored or logged.
func secretSeed() uint64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // crypto/rand.Read never fails on supported platforms
	}
	return binary.LittleEndian.Uint64(b[:])
}

// writeRunReport writes the internal report beside the ledger.
func writeRunReport(ledgerPath string, r RunReport) error {
	dir := filepath.Join(filepath.Dir(ledgerPath), "privagg-runs")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	name := fmt.Sprintf("%s.%s.json", r.ReleaseID, r.Started.Format("20060102T150405.000Z"))
	return writeFileAtomic(filepath.Join(dir, name), data)
}

// writeFileAtomic writes data to path through a temp file in the same folder,
// fsync and rename.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

func outputNames(job *Job) []string {
	out := make([]string, len(job.Outputs))
	for i, o := range job.Outputs {
		out[i] = o.Name
	}
	return out
}

// fileSHA256 is the hex SHA-256 of the file at path, or "" if it cannot be read.
func fileSHA256(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func round(f float64) float64 { return float64(int64(f*1000)) / 1000 }

// duckDBEngine is the embedded engine: DuckDB does the row-scale work.
type duckDBEngine struct {
	job     *Job
	opts    RunOptions
	id      string
	log     *slog.Logger
	eng     *engine.Engine
	qp      *queryPlan
	pseudo  *pseudonymizer
	staging *stagedFile
}

var _ Engine = (*duckDBEngine)(nil)

func newDuckDBEngine(job *Job, opts RunOptions, id string, log *slog.Logger) (*duckDBEngine, error) {
	d := &duckDBEngine{job: job, opts: opts, id: id, log: log}
	if job.Staging != nil {
		// Check the key before reading any data.
		var err error
		if d.pseudo, err = newPseudonymizer(job); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func (d *duckDBEngine) Prepare(ctx context.Context) (InputCounts, error) {
	qp, err := newQueryPlan(d.job, secretSeed())
	if err != nil {
		return InputCounts{}, err
	}
	memLimit, tempDir := d.job.Privacy.MemoryLimit, d.job.Privacy.TempDir
	if d.opts.MemoryLimit != "" {
		memLimit = d.opts.MemoryLimit
	}
	if d.opts.TempDir != "" {
		tempDir = d.opts.TempDir
	}
	eng, err := engine.Open(ctx, engine.Options{MemoryLimit: memLimit, TempDir: tempDir, Threads: d.job.Privacy.Threads})
	if err != nil {
		return InputCounts{}, err
	}
	d.eng, d.qp = eng, qp
	if err := prepareInput(ctx, eng, qp); err != nil {
		return InputCounts{}, err
	}
	c, err := countRows(ctx, eng, qp)
	if err != nil {
		return InputCounts{}, err
	}
	counts := InputCounts{Read: c.read, Rejected: c.rejected, Excluded: c.excluded}
	// Read the input for every output now, before any budget is reserved:
	// after the reservation only noise is drawn and files are written, so an
	// input the engine cannot read fails the job without a charge.
	for o := range d.job.Outputs {
		if err := prepareOutput(ctx, eng, qp, o); err != nil {
			return counts, err
		}
	}
	if d.pseudo != nil && !(c.read > 0 && float64(c.rejected) > d.job.Input.MaxRejectFraction*float64(c.read)) {
		// Staging is written under a temp name now and moved into place only
		// once the release is published.
		if d.staging, err = writeStaging(ctx, eng, qp, d.pseudo, d.id); err != nil {
			return counts, err
		}
	}
	return counts, nil
}

func (d *duckDBEngine) Release(ctx context.Context, plan *privacy.Plan, res *privacy.Reservation) (*privacy.Release, map[string]privacy.OutputStats, error) {
	return release(ctx, d.eng, d.qp, plan, res, d.log)
}

func (d *duckDBEngine) Published() error {
	if d.staging == nil {
		return nil
	}
	if err := d.staging.commit(); err != nil {
		return fmt.Errorf("staging: %w", err)
	}
	return nil
}

func (d *duckDBEngine) Close() error {
	if d.staging != nil {
		d.staging.discard()
	}
	if d.eng != nil {
		return d.eng.Close()
	}
	return nil
}
