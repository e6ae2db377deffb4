package transforms

import "strconv"

// Prefix keeps the first N characters of a column, e.g. the first three
// digits of a postal code.
//
// The value is cast to VARCHAR and spaces, tabs and line breaks are trimmed
// from both ends before the first N characters (Unicode code points) are
// kept. NULL and values that are empty after trimming give NULL. Numbers are
// cast to their text form, which loses leading zeros: read postal codes as
// text.
type Prefix struct {
	name, from string
	n          int
}

// NewPrefix returns the first n (>= 1) characters of the column from.
func NewPrefix(name, from string, n int) (*Prefix, error) {
	if err := checkNames(name, from); err != nil {
		return nil, err
	}
	if n < 1 {
		return nil, &SpecError{Column: name, Field: "prefix", Value: n, Rule: "must be >= 1"}
	}
	return &Prefix{name: name, from: from, n: n}, nil
}

// Name returns the output column name.
func (p *Prefix) Name() string { return p.name }

// Source returns the input column.
func (p *Prefix) Source() string { return p.from }

// Len returns the number of characters kept.
func (p *Prefix) Len() int { return p.n }

// SQL returns nullif(left(trim(CAST(src AS VARCHAR), ...), n), ”).
func (p *Prefix) SQL(src string) string {
	return "nullif(left(" + trimmedText(src) + ", " + strconv.Itoa(p.n) + "), '')"
}
