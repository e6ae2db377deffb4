package transforms

import (
	"fmt"
	"slices"
	"strings"
)

// Parts of a time accepted by NewPart.
const (
	PartHourOfDay   = "hour_of_day"   // "00" .. "23"
	PartDayOfWeek   = "day_of_week"   // "Mon" .. "Sun"
	PartMonthOfYear = "month_of_year" // "01" .. "12"
)

// Parts lists the parts NewPart accepts.
var Parts = []string{PartHourOfDay, PartDayOfWeek, PartMonthOfYear}

// Part maps a time column to one part of it, as a fixed label: the hour of
// day "00".."23", the ISO day of week "Mon".."Sun" or the month of year
// "01".."12" (UTC). Its labels are known before any data is read, so they
// may serve as public partitions.
//
// The source is read as Truncate reads it: TIMESTAMP, TIMESTAMPTZ, DATE,
// ISO-8601 text, or text in a strptime format (TimeFormat). NULL and text
// that does not parse give NULL.
type Part struct {
	name, from, part string
	time             timeSource
}

// NewPart returns part (one of Parts) of the time column from. format is a
// strptime format for text times (see TimeFormat), or "" for ISO-8601.
func NewPart(name, from, part, format string) (*Part, error) {
	if err := checkNames(name, from); err != nil {
		return nil, err
	}
	if !slices.Contains(Parts, part) {
		return nil, &SpecError{Column: name, Field: "part", Value: part,
			Rule: "must be one of " + strings.Join(Parts, ", ")}
	}
	ts, err := newTimeSource(name, format)
	if err != nil {
		return nil, err
	}
	return &Part{name: name, from: from, part: part, time: ts}, nil
}

// PartLabels returns the labels of part (one of Parts), in order, or nil
// for another name.
func PartLabels(part string) []string {
	switch part {
	case PartHourOfDay:
		return numberLabels(0, 23)
	case PartDayOfWeek:
		return slices.Clone(dayLabels)
	case PartMonthOfYear:
		return numberLabels(1, 12)
	}
	return nil
}

// numberLabels are the two-digit labels of lo..hi.
func numberLabels(lo, hi int) []string {
	out := make([]string, 0, hi-lo+1)
	for n := lo; n <= hi; n++ {
		out = append(out, fmt.Sprintf("%02d", n))
	}
	return out
}

// Name returns the output column name.
func (p *Part) Name() string { return p.name }

// Source returns the time input column.
func (p *Part) Source() string { return p.from }

// Part returns the part's name (one of Parts).
func (p *Part) Part() string { return p.part }

// Format returns the strptime format of text times, or "" for ISO-8601.
func (p *Part) Format() string { return p.time.Format() }

// Labels returns every label of the part, in order.
func (p *Part) Labels() []string { return PartLabels(p.part) }

// SQL returns the label of src's part: FormatSQL(NativeSQL(src)).
func (p *Part) SQL(src string) string { return p.FormatSQL(p.NativeSQL(src)) }
