// Package gen writes synthetic marketing events (and consent records) for
// demos, tests and benchmarks.
//
// All row-level work happens in one DuckDB statement,
// COPY (SELECT ... FROM range(N)) TO 'file', so generation streams, runs on
// every core and needs no Go loop per row. Randomness is hash-based: every
// random draw is DuckDB's 64-bit hash of the row (or user) number XORed with a
// constant derived from the seed and the draw's purpose, mapped to [0, 1).
// The same Options therefore give the same rows in the same order, whatever
// the thread count (with the pinned DuckDB version; hash values may change
// between DuckDB releases).
//
// The data is synthetic: no real person is described, but the columns look
// like personal data on purpose (email, phone, ip, user_id) so that tests can
// check that privagg never reads or releases them.
package gen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/privagg/privagg/internal/progress"
	"github.com/privagg/privagg/job"
)

// ErrInvalidOptions is wrapped by every error about the Options themselves
// (as opposed to I/O or engine failures).
var ErrInvalidOptions = errors.New("invalid options")

// Output formats.
const (
	FormatParquet = "parquet"
	FormatCSV     = "csv"
	FormatJSON    = "json" // newline-delimited JSON
)

// Defaults of the optional Options fields.
const (
	DefaultConsentRate = 0.85
	DefaultSkew        = 3.0
	DefaultCampaigns   = 20
	DefaultWeeks       = 12
)

// DefaultStart is the first instant of generated timestamps: Monday 2026-01-05
// 00:00 (UTC, stored as TIMESTAMP without time zone).
var DefaultStart = time.Date(2026, time.January, 5, 0, 0, 0, 0, time.UTC)

// Limits keep every intermediate value of the generator's SQL inside BIGINT.
const (
	MaxEvents    = int64(1) << 40
	MaxUsers     = int64(1_000_000_000)
	MaxCampaigns = 1000
	MaxWeeks     = 520
	MaxZipf      = 4.0
)

// AnalyticsConsentRate is the share of users with consent_analytics = true.
const AnalyticsConsentRate = 0.95

// Options configure Generate.
type Options struct {
	// Events is the number of rows. Required, in [1, MaxEvents].
	Events int64
	// Users is the number of distinct user ids events are drawn from.
	// Required, in [1, MaxUsers]. Activity is heavy-tailed, so some users
	// have no events and a few have very many.
	Users int64
	// Seed selects the data set; the same Options give the same rows.
	Seed uint64
	// Out is the file to write. Required. It is written atomically: a
	// temporary file in the same folder is renamed to Out on success.
	Out string
	// Format is parquet, csv or json (newline-delimited). Optional; default
	// from the extension of Out (.parquet, .csv, .json, .jsonl, .ndjson).
	Format string
	// ConsentRate is the share of users with consent_marketing = true, in
	// [0, 1]. Optional; nil means DefaultConsentRate.
	ConsentRate *float64
	// Skew shapes user activity: the user of an event is floor(Users * x^Skew)
	// for x uniform in [0, 1) (then permuted), so the top 1% of users hold
	// about 0.01^(1/Skew) of all events (21.5% for 3). Optional; 0 means
	// DefaultSkew; otherwise in [1, 10] (1 = uniform). Ignored with Zipf.
	Skew float64
	// Zipf, if set, draws user activity from Zipf's law instead: the user of
	// activity rank r (1 to Users, then permuted over the id space) has a
	// share of events proportional to r^-Zipf (a continuous power law on
	// [1, Users+1), floored). Skew k is the same law with Zipf = 1 - 1/k
	// (below 1); Zipf can also be 1 or more, where a few users hold a fixed
	// share of all events whatever the number of users (for 1.2 the top
	// user about 14%, the top 1% of 100,000 users about 60%). Optional; 0
	// means Skew; otherwise in (0, MaxZipf].
	Zipf float64
	// Campaigns is the number of campaigns cmp_000 .. (skewed towards low
	// numbers). Optional; 0 means DefaultCampaigns; at most MaxCampaigns.
	Campaigns int
	// Start is the first instant of the ts column. Optional; zero means
	// DefaultStart. Weeks is the time span. Optional; 0 means DefaultWeeks.
	Start time.Time
	Weeks int

	// Engine settings, passed to DuckDB. Optional.
	Threads     int    // 0 = DuckDB's default (all cores)
	MemoryLimit string // e.g. "4GB"; empty = DuckDB's default
	TempDir     string // spill folder; empty = DuckDB's default

	// Progress is told the phase and the rows to write. Optional; nil
	// discards.
	Progress progress.Reporter
}

// Stats describe a generated file.
type Stats struct {
	Path    string
	Format  string
	Rows    int64 // rows written (events or consent records)
	Users   int64 // size of the user id space
	Bytes   int64 // file size
	Elapsed time.Duration
}

// String is the one-line summary the CLI prints.
func (s Stats) String() string {
	return fmt.Sprintf("wrote %d rows (%d user ids) to %s (%s, %s) in %s",
		s.Rows, s.Users, s.Path, s.Format, humanBytes(s.Bytes), s.Elapsed.Round(time.Millisecond))
}

// Generate writes opt.Events synthetic marketing events to opt.Out.
//
// Columns, in order: email, phone, ip, user_id VARCHAR; ts TIMESTAMP;
// event_type, campaign, channel, country, zip VARCHAR; age INTEGER; revenue
// DOUBLE; consent_marketing, consent_analytics BOOLEAN. Per-user attributes
// (phone, ip, country, zip, age and both consent flags) are the same on every
// event of a user; email is too after trimming and lower-casing (a few events
// carry upper-case or surrounding blanks, like real form input).
func Generate(ctx context.Context, opt Options) (Stats, error) {
	p, err := opt.resolve()
	if err != nil {
		return Stats{}, err
	}
	query := eventsSQL(p)
	return write(ctx, engineSettings{opt.Threads, opt.MemoryLimit, opt.TempDir}, query, p.out, p.format, opt.Users, opt.Progress, p.events)
}

// params are validated Options with defaults applied.
type params struct {
	events, users int64
	seed          uint64
	out, format   string
	consentRate   float64
	skew          float64
	zipf          float64
	campaigns     int
	start         time.Time
	weeks         int
}

func (o Options) resolve() (params, error) {
	p := params{
		events: o.Events, users: o.Users, seed: o.Seed, out: o.Out,
		consentRate: DefaultConsentRate, skew: o.Skew, zipf: o.Zipf, campaigns: o.Campaigns,
		start: o.Start, weeks: o.Weeks,
	}
	var errs []error
	bad := func(field string, value any, rule string) {
		errs = append(errs, fmt.Errorf("%s: %v %s", field, value, rule))
	}
	if o.Events < 1 || o.Events > MaxEvents {
		bad("events", o.Events, fmt.Sprintf("must be in [1, %d]", MaxEvents))
	}
	if o.Users < 1 || o.Users > MaxUsers {
		bad("users", o.Users, fmt.Sprintf("must be in [1, %d]", MaxUsers))
	}
	format, ferr := resolveFormat(o.Out, o.Format)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	p.format = format
	if o.ConsentRate != nil {
		p.consentRate = *o.ConsentRate
		if !(p.consentRate >= 0 && p.consentRate <= 1) { // also rejects NaN
			bad("consent_rate", p.consentRate, "must be in [0, 1]")
		}
	}
	if p.skew == 0 {
		p.skew = DefaultSkew
	} else if !(p.skew >= 1 && p.skew <= 10) {
		bad("skew", p.skew, "must be in [1, 10]")
	}
	if !(p.zipf >= 0 && p.zipf <= MaxZipf) { // also rejects NaN
		bad("zipf", p.zipf, fmt.Sprintf("must be in (0, %g], or 0 for skew", MaxZipf))
	}
	if p.campaigns == 0 {
		p.campaigns = DefaultCampaigns
	} else if p.campaigns < 1 || p.campaigns > MaxCampaigns {
		bad("campaigns", p.campaigns, fmt.Sprintf("must be in [1, %d]", MaxCampaigns))
	}
	if p.start.IsZero() {
		p.start = DefaultStart
	}
	if p.weeks == 0 {
		p.weeks = DefaultWeeks
	} else if p.weeks < 1 || p.weeks > MaxWeeks {
		bad("weeks", p.weeks, fmt.Sprintf("must be in [1, %d]", MaxWeeks))
	}
	errs = append(errs, validateEngine(o.Threads, o.MemoryLimit)...)
	if len(errs) > 0 {
		return params{}, fmt.Errorf("gen: %w: %w", ErrInvalidOptions, errors.Join(errs...))
	}
	return p, nil
}

func validateEngine(threads int, memoryLimit string) []error {
	var errs []error
	if threads < 0 || threads > 1024 {
		errs = append(errs, fmt.Errorf("threads: %d must be in [0, 1024]", threads))
	}
	if memoryLimit != "" {
		if err := job.CheckMemoryLimit(memoryLimit); err != nil {
			errs = append(errs, fmt.Errorf("memory_limit: %q %w", memoryLimit, err))
		}
	}
	return errs
}

// resolveFormat returns the explicit format or the one the extension of out names.
func resolveFormat(out, format string) (string, error) {
	if out == "" {
		return "", errors.New("out: must be set")
	}
	if format != "" {
		switch f := strings.ToLower(format); f {
		case FormatParquet, FormatCSV, FormatJSON:
			return f, nil
		default:
			return "", fmt.Errorf("format: %q must be parquet, csv or json", format)
		}
	}
	switch ext := strings.ToLower(filepath.Ext(out)); ext {
	case ".parquet":
		return FormatParquet, nil
	case ".csv":
		return FormatCSV, nil
	case ".json", ".jsonl", ".ndjson":
		return FormatJSON, nil
	default:
		return "", fmt.Errorf("out: extension %q does not name a format (parquet, csv, json); set format", ext)
	}
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	exp := int(math.Log(float64(n)) / math.Log(unit))
	if exp > 4 {
		exp = 4
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/math.Pow(unit, float64(exp)), "KMGT"[exp-1])
}

// fileSize is os.Stat(path).Size() with a wrapped error.
func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("gen: stat output: %w", err)
	}
	return fi.Size(), nil
}
