// Package names formats the names of input columns for messages, so that a
// name with spaces or punctuation ("Time entered (local)") reads as one
// name in every error, warning and report.
package names

import (
	"strconv"
	"strings"
)

// Quote returns a column name for a message: as it is when it is a plain
// identifier (ASCII letters, digits and underscores), else in double quotes
// with Go escapes.
func Quote(name string) string {
	if name != "" && strings.Trim(name, identChars) == "" {
		return name
	}
	return strconv.Quote(name)
}

// QuoteAll quotes each name (Quote) and joins them with ", ".
func QuoteAll(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = Quote(n)
	}
	return strings.Join(quoted, ", ")
}

const identChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
