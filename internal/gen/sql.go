package gen

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Random streams. Each draw of the generator has its own stream number; the
// constant XORed into the row (or user) number before hashing is derived from
// the seed and the stream, so draws of different streams are unrelated.
const (
	// per event, keyed by the row number
	streamUser     = 1
	streamTS       = 2
	streamType     = 3
	streamCampaign = 4
	streamChannel  = 5
	streamRevenue  = 6
	streamEmail    = 7
	// per user, keyed by the user number
	streamCountry   = 11
	streamZip       = 12
	streamAge       = 13
	streamMarketing = 14
	streamAnalytics = 15
	streamPhone     = 16
	streamIP        = 17
	streamPermute   = 20
	// per consent record
	streamRecords = 30
	streamNoRecs  = 31
	streamGranted = 32
	streamAt      = 33
	streamOrder   = 34
)

// splitmix64 is the SplitMix64 output function (Steele et al. 2014): a
// bijective 64-bit mixer.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// streamKey is the constant of one stream for one seed.
func streamKey(seed uint64, stream int) uint64 {
	return splitmix64(splitmix64(seed) ^ uint64(stream)*0xd1b54a32d192ed03)
}

// hashExpr is a SQL UBIGINT expression: DuckDB's hash of x XOR the stream key.
func hashExpr(x string, seed uint64, stream int) string {
	return fmt.Sprintf("hash(xor((%s)::UBIGINT, %d::UBIGINT))", x, streamKey(seed, stream))
}

// uniformExpr is a SQL DOUBLE expression uniform in [0, 1): the top 53 bits
// of hashExpr, so every value is exact and 1.0 is impossible.
func uniformExpr(x string, seed uint64, stream int) string {
	return fmt.Sprintf("((%s >> 11)::DOUBLE / 9007199254740992.0)", hashExpr(x, seed, stream))
}

// choice is one value of a categorical column and its relative weight.
type choice struct {
	value  string
	weight float64
}

var (
	eventTypes = []choice{{"view", 70}, {"click", 22}, {"signup", 5}, {"purchase", 3}}
	channels   = []choice{{"search", 30}, {"email", 25}, {"social", 20}, {"display", 15}, {"affiliate", 10}}
	countries  = []choice{
		{"US", 30}, {"GB", 12}, {"DE", 10}, {"FR", 8}, {"CA", 6}, {"ES", 5}, {"IT", 5}, {"NL", 4},
		{"AU", 4}, {"BR", 4}, {"JP", 3}, {"IN", 3}, {"MX", 2}, {"SE", 2}, {"PL", 2},
	}
)

// pickExpr maps the uniform SQL expression r (a column, evaluated once per
// WHEN) to one of cs with probability proportional to the weights.
func pickExpr(r string, cs []choice) string {
	var total float64
	for _, c := range cs {
		total += c.weight
	}
	var b strings.Builder
	b.WriteString("CASE")
	var cum float64
	for _, c := range cs[:len(cs)-1] {
		cum += c.weight
		fmt.Fprintf(&b, " WHEN %s < %s THEN '%s'", r, strconv.FormatFloat(cum/total, 'g', -1, 64), c.value)
	}
	fmt.Fprintf(&b, " ELSE '%s' END", cs[len(cs)-1].value)
	return b.String()
}

// lastShare is the probability of the last choice (the ELSE branch of pickExpr).
func lastShare(cs []choice) float64 {
	var total float64
	for _, c := range cs {
		total += c.weight
	}
	return cs[len(cs)-1].weight / total
}

// idWidth is the number of digits of user numbers (at least 6).
func idWidth(users int64) int {
	return max(6, len(strconv.FormatInt(users-1, 10)))
}

// permutation returns a and b such that u -> (u*a + b) mod users is a
// bijection of [0, users) (a is coprime to users). a < 2^32 and
// users <= MaxUsers keep u*a + b inside BIGINT.
func permutation(users int64, seed uint64) (a, b int64) {
	b = int64(streamKey(seed, streamPermute) % uint64(users))
	// Knuth's multiplicative constant and the xxHash32 primes: all primes < 2^32.
	for _, p := range []int64{2654435761, 2246822519, 3266489917, 668265263, 374761393} {
		if new(big.Int).GCD(nil, nil, big.NewInt(p), big.NewInt(users)).Int64() == 1 {
			return p % users, b
		}
	}
	return 1, b // unreachable for users <= MaxUsers: they cannot be divisible by all five primes
}

// activityRank is the SQL BIGINT expression of an event's user rank in
// [0, users), from the uniform draw u: the Skew transform floor(users *
// u^skew), or with Zipf the inverse distribution function of a power law
// with density proportional to x^-zipf on [1, users+1), floored, minus 1.
func activityRank(p params, u string) string {
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	if p.zipf == 0 {
		return fmt.Sprintf("floor(%d * pow(%s, %s))::BIGINT", p.users, u, f(p.skew))
	}
	n := float64(p.users) + 1
	var x string
	if p.zipf == 1 {
		x = fmt.Sprintf("pow(%s, %s)", f(n), u) // F(x) = ln x / ln n
	} else {
		// F(x) = (x^(1-s) - 1) / (n^(1-s) - 1)
		e := 1 - p.zipf
		x = fmt.Sprintf("pow(1 + %s * %s, %s)", u, f(math.Pow(n, e)-1), f(1/e))
	}
	return fmt.Sprintf("least(greatest(floor(%s)::BIGINT - 1, 0), %d)", x, p.users-1)
}

func timestampLiteral(t time.Time) string {
	return "TIMESTAMP '" + t.UTC().Format("2006-01-02 15:04:05") + "'"
}

// eventsSQL is the SELECT producing the events.
func eventsSQL(p params) string {
	s := p.seed
	a, b := permutation(p.users, s)
	w := idWidth(p.users)
	span := int64(p.weeks) * 7 * 86400
	purchaseFrom := 1 - lastShare(eventTypes)

	userNo := fmt.Sprintf("((%s * %d + %d) %% %d)", activityRank(p, uniformExpr("i", s, streamUser)), a, b, p.users)
	padded := fmt.Sprintf("lpad(u::VARCHAR, %d, '0')", w)

	return fmt.Sprintf(`WITH d AS (
  SELECT i, %[1]s AS u,
    %[2]s AS r_ts, %[3]s AS r_type, %[4]s AS r_cmp, %[5]s AS r_chan, %[6]s AS r_rev, %[7]s AS r_mail
  FROM range(%[8]d) t(i)
), e AS (
  SELECT d.*, 'user' || %[9]s || '@example.com' AS mail,
    %[10]s AS r_country, %[11]s AS r_zip, %[12]s AS r_age, %[13]s AS r_cm, %[14]s AS r_ca,
    %[15]s AS h_phone, %[16]s AS h_ip
  FROM d
)
SELECT
  CASE WHEN r_mail < 0.02 THEN upper(mail) WHEN r_mail < 0.04 THEN ' ' || mail || ' ' ELSE mail END AS email,
  '+1' || lpad((2000000000 + h_phone %% 8000000000)::VARCHAR, 10, '0') AS phone,
  concat_ws('.', 1 + (h_ip >> 56) %% 223, (h_ip >> 48) & 255, (h_ip >> 40) & 255, 1 + (h_ip >> 32) %% 254) AS ip,
  'u' || %[9]s AS user_id,
  %[17]s + to_seconds(floor(r_ts * %[18]d)::BIGINT) AS ts,
  %[19]s AS event_type,
  'cmp_' || lpad(floor(%[20]d * r_cmp * r_cmp)::BIGINT::VARCHAR, 3, '0') AS campaign,
  %[21]s AS channel,
  %[22]s AS country,
  lpad(floor(r_zip * 100000)::BIGINT::VARCHAR, 5, '0') AS zip,
  (16 + floor(75 * pow(r_age, 1.6)))::INTEGER AS age,
  CASE WHEN r_type >= %[23]s THEN round(least(20 * pow(1 - r_rev, -1 / 1.3), 100000), 2) ELSE 0 END::DOUBLE AS revenue,
  r_cm < %[24]s AS consent_marketing,
  r_ca < %[25]s AS consent_analytics
FROM e`,
		userNo,
		uniformExpr("i", s, streamTS), uniformExpr("i", s, streamType), uniformExpr("i", s, streamCampaign),
		uniformExpr("i", s, streamChannel), uniformExpr("i", s, streamRevenue), uniformExpr("i", s, streamEmail),
		p.events,
		padded,
		uniformExpr("u", s, streamCountry), uniformExpr("u", s, streamZip), uniformExpr("u", s, streamAge),
		uniformExpr("u", s, streamMarketing), uniformExpr("u", s, streamAnalytics),
		hashExpr("u", s, streamPhone), hashExpr("u", s, streamIP),
		timestampLiteral(p.start), span,
		pickExpr("r_type", eventTypes),
		p.campaigns,
		pickExpr("r_chan", channels),
		pickExpr("r_country", countries),
		strconv.FormatFloat(purchaseFrom, 'g', -1, 64),
		strconv.FormatFloat(p.consentRate, 'g', -1, 64),
		strconv.FormatFloat(AnalyticsConsentRate, 'g', -1, 64),
	)
}
