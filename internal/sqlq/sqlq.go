// Package sqlq quotes text for DuckDB SQL: the one definition of the
// identifier and string-literal quoting rules that every package building
// SQL uses.
package sqlq

import "strings"

// Ident quotes s as a DuckDB identifier: "..." with inner double quotes
// doubled.
func Ident(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// String quotes s as a DuckDB string literal: '...' with inner single
// quotes doubled. Backslashes have no special meaning in DuckDB string
// literals.
func String(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
