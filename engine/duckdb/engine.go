package duckdb

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/privagg/privagg/engine"
	"github.com/privagg/privagg/internal/progress"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
)

// release runs the aggregate queries and hands them to a Releaser.
func release(ctx context.Context, eng *DB, qp *queryPlan, plan *privacy.Plan, res *privacy.Reservation, log *slog.Logger, prog progress.Reporter) (*privacy.Release, map[string]privacy.OutputStats, error) {
	job := qp.job
	r, err := privacy.NewReleaser(plan, res, job.ReleaseMetadata(time.Now().UTC()), privacy.ReleaserOptions{})
	if err != nil {
		return nil, nil, err
	}
	for o, out := range job.Outputs {
		outStart := time.Now()
		at := func(phase string) { outputPhase(prog, phase, o, len(job.Outputs)) }
		at(progress.PhaseBounding)
		if err := prepareOutput(ctx, eng, qp, o); err != nil {
			return nil, nil, err
		}
		if qp.estimates() {
			at(progress.PhaseBounds)
			if err := estimateBounds(ctx, eng, qp, r, o); err != nil {
				return nil, nil, err
			}
		}
		stats, bounded := statsTable(o), qp.boundedSQL(o)
		if qp.twoPhase(o) {
			at(progress.PhaseSelecting)
			if err := selectPartitions(ctx, eng, qp, r, o); err != nil {
				return nil, nil, err
			}
			stats, bounded = qp.selectedStats(o), qp.withKeys(o, qp.reboundSQL(o, qp.rebound[o]))
		}
		if qp.estimates() {
			at(progress.PhaseBounds)
			if err := estimateDropped(ctx, eng, qp, r, o); err != nil {
				return nil, nil, err
			}
		}
		at(progress.PhaseNoising)
		agg, err := queryScrubbed(ctx, eng, qp.releaseSQL(o, stats))
		if err != nil {
			return nil, nil, fmt.Errorf("output %q: aggregate: %w", out.Name, err)
		}
		var qs privacy.QuantileSource
		if qp.hasStreams(o) {
			// The bounded rows again: the L0 choice is a function of the data,
			// the seed (and the selection), so this read keeps the same
			// partitions.
			qsql := qp.streamSQL(o, "("+bounded+")")
			qs = func(ctx context.Context) (array.RecordReader, error) { return queryScrubbed(ctx, eng, qsql) }
		}
		err = r.ReleaseOutput(ctx, out.Name, agg, qs)
		agg.Release()
		if err != nil {
			return nil, nil, err
		}
		for _, t := range outputTables(o) {
			if err := eng.Exec(ctx, "DROP TABLE IF EXISTS "+t); err != nil {
				return nil, nil, err
			}
		}
		delete(qp.prepared, o)
		delete(qp.rebound, o)
		log.Info("output released", "output", out.Name, "seconds", round(time.Since(outStart).Seconds()))
	}
	rel, err := r.Finish()
	if err != nil {
		return nil, nil, err
	}
	return rel, r.Stats(), nil
}

// selectPartitions runs phase 1's DP partition selection of two-phase
// output o on its phase-1 statistics, writes the selected partition ids to
// selectedTable, and prepares phase 2: if some unit kept a partition that
// was not selected, the units affected are bounded again among the
// selected partitions (selectedStatsTable).
func selectPartitions(ctx context.Context, eng *DB, qp *queryPlan, r *privacy.Releaser, o int) error {
	name := qp.job.Outputs[o].Name
	units, err := queryScrubbed(ctx, eng, qp.selectionSQL(o))
	if err != nil {
		return fmt.Errorf("output %q: partitions: %w", name, err)
	}
	sel, err := r.SelectPartitions(ctx, name, units)
	units.Release()
	if err != nil {
		return err
	}
	if err := writeSelection(ctx, eng, qp, o, sel); err != nil {
		return fmt.Errorf("output %q: selected partitions: %w", name, err)
	}
	fail := func(err error) error {
		return fmt.Errorf("output %q: bound among the selected partitions: %w", name, scrub(err))
	}
	// Nothing to bound again when no partition with data was suppressed.
	rows, err := eng.QueryRows(ctx, fmt.Sprintf("SELECT count(*)::BIGINT FROM %s WHERE %s > 0", statsTable(o), q(privacy.UnitsColumn)))
	if err != nil {
		return fail(err)
	}
	if toInt64(rows[0][0]) == int64(sel.Len()) {
		return nil
	}
	if err := eng.Exec(ctx, qp.affectedSQL(o)); err != nil {
		return fail(err)
	}
	rows, err = eng.QueryRows(ctx, fmt.Sprintf("SELECT count(*) > 0 FROM %s", affectedTable(o)))
	if err != nil {
		return fail(err)
	}
	if affected, _ := rows[0][0].(bool); !affected {
		return nil
	}
	qp.rebound[o] = true
	if err := eng.Exec(ctx, qp.selectedStatsSQL(o)); err != nil {
		return fail(err)
	}
	return nil
}

// writeSelection writes the partition ids of the selected keys of output o
// to selectedTable and checks that every key found its partition.
func writeSelection(ctx context.Context, eng *DB, qp *queryPlan, o int, sel *privacy.Selection) error {
	if sel.Len() == 0 {
		return eng.Exec(ctx, emptySelectedSQL(o))
	}
	rec := sel.Keys(nil)
	defer rec.Release()
	rr, err := array.NewRecordReader(rec.Schema(), []arrow.RecordBatch{rec})
	if err != nil {
		return err
	}
	defer rr.Release()
	view := selectionView(o)
	free, err := eng.RegisterArrow(rr, view)
	if err != nil {
		return err
	}
	defer free()
	// An Arrow view can be scanned once: the table is what phase 2 reads.
	err = eng.Exec(ctx, qp.selectedSQL(o, view))
	if derr := eng.Exec(ctx, "DROP VIEW IF EXISTS "+view); err == nil {
		err = derr
	}
	if err != nil {
		return scrub(err)
	}
	rows, err := eng.QueryRows(ctx, fmt.Sprintf("SELECT count(*)::BIGINT, count(DISTINCT %s)::BIGINT FROM %s", colPid, selectedTable(o)))
	if err != nil {
		return scrub(err)
	}
	if n, d := toInt64(rows[0][0]), toInt64(rows[0][1]); n != int64(sel.Len()) || d != n {
		return fmt.Errorf("%d selected keys matched %d partitions (%d distinct)", sel.Len(), n, d)
	}
	return nil
}

type rowCounts struct {
	read, rejected, excluded, consentRead, consentRejected int64
	rejects                                                *engine.Rejects
}

// prepareInput checks the input files and columns and creates the views.
func prepareInput(ctx context.Context, eng *DB, qp *queryPlan) error {
	consentNames, err := describeInput(ctx, eng, qp)
	if err != nil {
		return err
	}
	if qp.job.Consent.Table != nil {
		qp.in.consentNames = consentNames
		for _, s := range qp.consentSQL(consentNames) {
			if err := eng.Exec(ctx, s); err != nil {
				return &engine.InputError{Reason: "cannot read consent.table", Err: scrub(err)}
			}
		}
	}
	if s := qp.materializeSQL(); s != "" {
		if err := eng.Exec(ctx, s); err != nil {
			return &engine.InputError{Reason: "cannot read the input", Err: scrub(err)}
		}
		qp.in.materialized = true
	}
	if err := eng.Exec(ctx, qp.sourceSQL()); err != nil {
		return fmt.Errorf("prepare query: %w", scrub(err))
	}
	if s := qp.refusedSQL(); s != "" {
		if err := eng.Exec(ctx, s); err != nil {
			return &engine.InputError{Reason: "cannot read the input's consent column", Err: scrub(err)}
		}
		rows, err := eng.QueryRows(ctx, refusedCountSQL())
		if err != nil {
			return fmt.Errorf("prepare query: %w", scrub(err))
		}
		qp.in.refusals = toInt64(rows[0][0]) > 0
	}
	return createViews(ctx, eng, qp)
}

// createViews creates (or replaces) __events and __clean.
func createViews(ctx context.Context, eng *DB, qp *queryPlan) error {
	for _, s := range qp.viewsSQL() {
		if err := eng.Exec(ctx, s); err != nil {
			return fmt.Errorf("prepare query: %w", scrub(err))
		}
	}
	return nil
}

// readIdsAsIs asks the counted output's dictionary whether every person id
// is canonical as read (idsCanonicalSQL); if so, the views read the ids as
// they are from now on.
func readIdsAsIs(ctx context.Context, eng *DB, qp *queryPlan) error {
	rows, err := eng.QueryRows(ctx, idsCanonicalSQL())
	if err != nil {
		return fmt.Errorf("prepare query: %w", scrub(err))
	}
	if canonical, _ := rows[0][0].(bool); !canonical {
		return nil
	}
	qp.in.idsCanonical = true
	if err := eng.Exec(ctx, qp.sourceSQL()); err != nil {
		return fmt.Errorf("prepare query: %w", scrub(err))
	}
	return createViews(ctx, eng, qp)
}

// prepareOutput creates output o's public-partition tables, its partition
// dictionary and its per-partition statistics table (bounding and
// aggregation in one query over the input), once. If two units shared a
// bounding key (see unitKey), the statistics are computed again with the
// unit itself as key. No noise is drawn here; release reads the tables and
// drops them.
func prepareOutput(ctx context.Context, eng *DB, qp *queryPlan, o int) error {
	if qp.prepared[o] {
		return nil
	}
	fail := func(err error) error {
		return &engine.InputError{Reason: fmt.Sprintf("cannot read the input for output %q", qp.job.Outputs[o].Name), Err: scrub(err)}
	}
	for _, s := range append(qp.publicSQL(o), qp.dictSQL(o)) {
		if err := eng.Exec(ctx, s); err != nil {
			return fail(err)
		}
	}
	if counted(o) && qp.checksIds() {
		if err := readIdsAsIs(ctx, eng, qp); err != nil {
			return err
		}
	}
	rows, err := eng.QueryRows(ctx, partitionsSQL(o))
	if err != nil {
		return fail(err)
	}
	qp.partitions[o] = toInt64(rows[0][0])
	if qp.estimates() {
		// The statistics wait for the bounds (estimateBounds, in release).
		qp.prepared[o] = true
		return nil
	}
	stats := func() error {
		for _, s := range qp.preparedStatsSQL(o) {
			if err := eng.Exec(ctx, s); err != nil {
				return fail(err)
			}
		}
		return nil
	}
	if err := stats(); err != nil {
		return err
	}
	if _, check := qp.unitKey(o); check {
		rows, err := eng.QueryRows(ctx, collisionSQL(o))
		if err != nil {
			return fail(err)
		}
		if collided, _ := rows[0][0].(bool); collided {
			qp.unitExact[o] = true
			if err := stats(); err != nil {
				return err
			}
		}
	}
	if qp.foldsConsent() {
		// The statistics of the people who refused: counted, then dropped.
		if counted(o) {
			rows, err := eng.QueryRows(ctx, excludedSQL())
			if err != nil {
				return fail(err)
			}
			qp.excluded = toInt64(rows[0][0])
		}
		if err := eng.Exec(ctx, dropExcludedSQL(o)); err != nil {
			return fail(err)
		}
	}
	qp.prepared[o] = true
	return nil
}

// countRows reads the input once, into the first output's dictionary, and counts
// rows read, rejected and excluded by consent for the run report and the
// reject check.
func countRows(ctx context.Context, eng *DB, qp *queryPlan) (rowCounts, error) {
	if err := prepareOutput(ctx, eng, qp, 0); err != nil {
		return rowCounts{}, err
	}
	rows, err := eng.QueryRows(ctx, qp.countsSQL())
	if err != nil {
		return rowCounts{}, &engine.InputError{Reason: "cannot read the input", Err: scrub(err)}
	}
	c := rowCounts{read: toInt64(rows[0][0]), rejected: toInt64(rows[0][1]), excluded: toInt64(rows[0][2]) + qp.excluded}
	if qp.job.Consent.Table != nil {
		rows, err := eng.QueryRows(ctx, consentCountsSQL())
		if err != nil {
			return rowCounts{}, &engine.InputError{Reason: "cannot read consent.table", Err: scrub(err)}
		}
		c.consentRead, c.consentRejected = toInt64(rows[0][0]), toInt64(rows[0][1])
	}
	if qp.job.Input.Format == job.InputCSV {
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
	// Only a dirty input (or consent table) pays for the listing. A
	// listing that fails leaves the counts standing.
	list := func(scan rejectScan) *engine.Rejects {
		r, err := listRejects(ctx, eng, scan)
		if err != nil {
			return &engine.Rejects{Unavailable: "the rejected rows could not be listed: " + err.Error()}
		}
		return r
	}
	if c.rejected > 0 {
		c.rejects = list(qp.inputRejects())
	}
	if c.consentRejected > 0 {
		if c.rejects == nil {
			c.rejects = &engine.Rejects{}
		}
		c.rejects.ConsentTable = list(qp.consentRejects())
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

// queryScrubbed is DB.QueryArrow for readers handed to the privacy layer:
// DuckDB runs the query as the reader is read, so errors (a CSV line the
// reader cannot read, quoted in full) also come from the reader's Err,
// which is scrubbed like the query's own error.
func queryScrubbed(ctx context.Context, eng *DB, query string) (array.RecordReader, error) {
	rr, err := eng.QueryArrow(ctx, query)
	if err != nil {
		return nil, scrub(err)
	}
	return scrubbedReader{rr}, nil
}

// scrubbedReader is a RecordReader whose Err is scrubbed.
type scrubbedReader struct{ array.RecordReader }

func (r scrubbedReader) Err() error { return scrub(r.RecordReader.Err()) }

// secretSeed is the per-run secret that keys the random choice of L0
// partitions per unit. It comes from crypto/rand and is never stored or logged.
func secretSeed() uint64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // crypto/rand.Read never fails on supported platforms
	}
	return binary.LittleEndian.Uint64(b[:])
}

func round(f float64) float64 { return float64(int64(f*1000)) / 1000 }

// Options configures the embedded engine. The zero value uses the job's
// privacy.memory_limit, privacy.temp_dir and privacy.threads.
type Options struct {
	// ReleaseID names the release the engine computes (staging files carry
	// it). Required when the job has staging.
	ReleaseID string
	// MemoryLimit and TempDir override the job's privacy.memory_limit and
	// privacy.temp_dir. Optional.
	MemoryLimit string
	TempDir     string
	// Logger receives progress messages. Optional; nil discards.
	Logger *slog.Logger
	// Progress is told the engine's phases. Optional; nil discards.
	Progress progress.Reporter
}

// Engine is the embedded engine: DuckDB does the row-scale work.
type Engine struct {
	job     *job.Job
	opts    Options
	log     *slog.Logger
	db      *DB
	qp      *queryPlan
	pseudo  *pseudonymizer
	staging *stagedFile
}

var _ engine.Engine = (*Engine)(nil)

// New checks what can be checked before reading any data (the staging key)
// and returns the engine for j. It opens no database until Prepare.
func New(j *job.Job, opts Options) (*Engine, error) {
	if opts.MemoryLimit != "" {
		if err := job.CheckMemoryLimit(opts.MemoryLimit); err != nil {
			return nil, job.FlagError("--memory-limit", opts.MemoryLimit, err)
		}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Engine{job: j, opts: opts, log: log}
	if j.Staging != nil {
		var err error
		if d.pseudo, err = newPseudonymizer(j); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func (d *Engine) prepare(ctx context.Context) (engine.InputCounts, error) {
	qp, err := newQueryPlan(d.job, secretSeed())
	if err != nil {
		return engine.InputCounts{}, err
	}
	memLimit, tempDir := d.job.Privacy.MemoryLimit, d.job.Privacy.TempDir
	if d.opts.MemoryLimit != "" {
		memLimit = d.opts.MemoryLimit
	}
	if d.opts.TempDir != "" {
		tempDir = d.opts.TempDir
	}
	eng, err := OpenDB(ctx, DBOptions{MemoryLimit: memLimit, TempDir: tempDir, Threads: d.job.Privacy.Threads})
	if err != nil {
		return engine.InputCounts{}, err
	}
	d.db, d.qp = eng, qp
	prog := d.progress()
	prog.Phase(progress.PhaseReading)
	if err := prepareInput(ctx, eng, qp); err != nil {
		return engine.InputCounts{}, err
	}
	c, err := countRows(ctx, eng, qp)
	if err != nil {
		return engine.InputCounts{}, err
	}
	prog.Rows(progress.RowCount{Done: c.read})
	counts := engine.InputCounts{Read: c.read, Rejected: c.rejected, Excluded: c.excluded, ConsentRead: c.consentRead, ConsentRejected: c.consentRejected, Rejects: c.rejects}
	// Read the input for every output now, before any budget is reserved,
	// so an input the engine cannot read fails the job without a charge.
	// After the reservation the input is read again only where a release
	// needs the same rows once more (quantile values, and the people phase
	// 2 bounds again among the selected partitions).
	for o := range d.job.Outputs {
		if o > 0 { // output 0 was bounded as the rows were counted
			outputPhase(prog, progress.PhaseBounding, o, len(d.job.Outputs))
		}
		if err := prepareOutput(ctx, eng, qp, o); err != nil {
			return counts, err
		}
	}
	if d.pseudo != nil && engine.RejectCheck(d.job.Input.MaxRejectFraction, counts) == nil {
		// Staging is written under a temp name now and moved into place only
		// once the release is published.
		prog.Phase(progress.PhaseStaging)
		if d.staging, err = writeStaging(ctx, eng, qp, d.pseudo, d.opts.ReleaseID); err != nil {
			return counts, err
		}
	}
	return counts, nil
}

func (d *Engine) Release(ctx context.Context, plan *privacy.Plan, res *privacy.Reservation) (*privacy.Release, map[string]privacy.OutputStats, error) {
	return release(ctx, d.db, d.qp, plan, res, d.log, d.progress())
}

func (d *Engine) Published() error {
	if d.staging == nil {
		return nil
	}
	if err := d.staging.commit(); err != nil {
		return fmt.Errorf("staging: %w", err)
	}
	return nil
}

func (d *Engine) Close() error {
	if d.staging != nil {
		d.staging.discard()
	}
	if d.db != nil {
		return d.db.Close()
	}
	return nil
}
