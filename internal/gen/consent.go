package gen

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/privagg/privagg/internal/progress"
)

// Consent purposes written by GenerateConsentTable. Their latest records agree
// with the consent_marketing and consent_analytics event columns.
const (
	PurposeMarketing = "marketing"
	PurposeAnalytics = "analytics"
)

// DefaultRecordsPerUser is the default maximum number of consent records per
// (user, purpose).
const DefaultRecordsPerUser = 4

// ConsentOptions configure GenerateConsentTable. Users, Seed, ConsentRate,
// Start and Weeks must equal the Options of the events the table goes with.
type ConsentOptions struct {
	Users       int64    // required, in [1, MaxUsers]
	Seed        uint64   // as in Options
	Out         string   // required; written atomically
	Format      string   // csv (default from the extension), parquet or json
	ConsentRate *float64 // as in Options; nil means DefaultConsentRate
	// RecordsPerUser is the maximum number of records per (user, purpose);
	// each has 1..RecordsPerUser. Optional; 0 means DefaultRecordsPerUser; at
	// most 100.
	RecordsPerUser int
	Start          time.Time // as in Options; zero means DefaultStart
	Weeks          int       // as in Options; 0 means DefaultWeeks

	Threads     int
	MemoryLimit string
	TempDir     string

	// Progress is told the phase. Optional; nil discards.
	Progress progress.Reporter
}

// GenerateConsentTable writes consent records (user_id VARCHAR, purpose
// VARCHAR, granted BOOLEAN, updated_at TIMESTAMP) for the users of the events
// Generate writes with the same Users, Seed and ConsentRate.
//
// For each user and each of the purposes marketing and analytics there are
// 1..RecordsPerUser records at distinct times with random earlier grants and
// withdrawals; the latest one equals the user's consent_marketing
// (consent_analytics) column. Half of the users without consent have no record
// at all for the purpose instead. Rows are shuffled, so file order says
// nothing about time: the table exercises the "latest record per (unit,
// purpose) wins; no record means excluded" rule, and a job using it must
// count exactly the people a job using the consent column counts.
func GenerateConsentTable(ctx context.Context, opt ConsentOptions) (Stats, error) {
	ev := Options{
		Events: 1, Users: opt.Users, Seed: opt.Seed, Out: opt.Out, Format: opt.Format,
		ConsentRate: opt.ConsentRate, Start: opt.Start, Weeks: opt.Weeks,
		Threads: opt.Threads, MemoryLimit: opt.MemoryLimit, TempDir: opt.TempDir,
	}
	p, err := ev.resolve()
	records := opt.RecordsPerUser
	if records == 0 {
		records = DefaultRecordsPerUser
	}
	if records < 1 || records > 100 {
		rerr := fmt.Errorf("gen: %w: records_per_user: %d must be in [1, 100]", ErrInvalidOptions, records)
		err = errors.Join(err, rerr)
	}
	if err != nil {
		return Stats{}, err
	}
	query := consentSQL(p, records)
	return write(ctx, engineSettings{opt.Threads, opt.MemoryLimit, opt.TempDir}, query, p.out, p.format, opt.Users, opt.Progress, 0)
}

// consentSQL is the SELECT producing the consent records.
func consentSQL(p params, records int) string {
	s := p.seed
	span := int64(p.weeks) * 7 * 86400
	step := span / int64(records)
	key := fmt.Sprintf("(k * %d + j)", records) // one number per record
	return fmt.Sprintf(`WITH up AS (
  SELECT u, pi, purpose, u * 2 + pi AS k,
    CASE pi WHEN 0 THEN %[1]s < %[2]s ELSE %[3]s < %[4]s END AS final
  FROM range(%[5]d) t(u) CROSS JOIN (VALUES (0, '%[6]s'), (1, '%[7]s')) v(pi, purpose)
), n AS (
  SELECT *, CASE WHEN NOT final AND %[8]s < 0.5 THEN 0 ELSE 1 + floor(%[9]s * %[10]d)::BIGINT END AS n
  FROM up
)
SELECT
  'u' || lpad(u::VARCHAR, %[11]d, '0') AS user_id,
  purpose,
  CASE WHEN j = n - 1 THEN final ELSE %[12]s < 0.5 END AS granted,
  %[13]s + to_seconds((j * %[14]d + floor(%[15]s * %[14]d))::BIGINT) AS updated_at
FROM n CROSS JOIN range(%[10]d) r(j)
WHERE j < n
ORDER BY %[16]s`,
		uniformExpr("u", s, streamMarketing), strconv.FormatFloat(p.consentRate, 'g', -1, 64),
		uniformExpr("u", s, streamAnalytics), strconv.FormatFloat(AnalyticsConsentRate, 'g', -1, 64),
		p.users, PurposeMarketing, PurposeAnalytics,
		uniformExpr("k", s, streamNoRecs), uniformExpr("k", s, streamRecords), records,
		idWidth(p.users),
		uniformExpr(key, s, streamGranted),
		timestampLiteral(p.start), step, uniformExpr(key, s, streamAt),
		hashExpr(key, s, streamOrder),
	)
}
