package privacy

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Period is how a budget renews: never, every calendar month (UTC), or as a
// rolling window of N days.
type Period struct {
	kind string
	days int
}

const (
	periodNone    = "none"
	periodMonth   = "month"
	periodRolling = "rolling"
)

// ParsePeriod parses "none", "month" or "<N>d" (N from 1 to 3660).
func ParsePeriod(s string) (Period, error) {
	switch s {
	case "none":
		return Period{kind: periodNone}, nil
	case "month":
		return Period{kind: periodMonth}, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if days, err := strconv.Atoi(n); err == nil && days >= 1 && days <= 3660 && strconv.Itoa(days) == n {
			return Period{kind: periodRolling, days: days}, nil
		}
	}
	return Period{}, fmt.Errorf("period %q: must be none, month or a number of days from 1 to 3660 such as 30d", s)
}

// String returns the period as ParsePeriod reads it.
func (p Period) String() string {
	switch p.kind {
	case periodMonth:
		return "month"
	case periodRolling:
		return strconv.Itoa(p.days) + "d"
	default:
		return "none"
	}
}

// window returns the current period at now; ok is false for "none".
func (p Period) window(now time.Time) (start, end time.Time, ok bool) {
	now = now.UTC()
	switch p.kind {
	case periodMonth:
		start = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 1, 0), true
	case periodRolling:
		now = now.Truncate(time.Microsecond)
		return now.Add(-time.Duration(p.days) * 24 * time.Hour), now, true
	default:
		return time.Time{}, time.Time{}, false
	}
}

func formatTime(t time.Time) string {
	return t.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)
}

// parseTime parses a time written by formatTime, and only that form.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || formatTime(t) != s {
		return time.Time{}, fmt.Errorf("time %q: must be RFC 3339 UTC with at most microseconds", s)
	}
	return t.UTC(), nil
}
