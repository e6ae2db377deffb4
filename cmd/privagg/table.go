package main

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
)

// Output formats: every command that prints a table or JSON names them the
// same way (query adds csv and parquet).
const (
	formatTable = "table"
	formatJSON  = "json"
)

// checkTableFormat accepts --format table or json. legacy names an older
// spelling of table that the command still takes ("" for none).
func checkTableFormat(format, legacy string) (string, error) {
	switch {
	case format == formatTable || format == formatJSON:
		return format, nil
	case legacy != "" && format == legacy:
		return formatTable, nil
	}
	return "", usageError{fmt.Errorf("--format: %q must be table or json", format)}
}

// tableWidth is the most columns a table takes by default: it fits a
// terminal. --wide prints every column in full.
const tableWidth = 100

// tableGap separates the columns of a table.
const tableGap = "  "

// minColumn is the narrowest a column is cut to, ellipsis included.
const minColumn = 6

// wideFlag adds --wide to cmd.
func wideFlag(cmd *cobra.Command, wide *bool) {
	cmd.Flags().BoolVar(wide, "wide", false, fmt.Sprintf("print every column in full (default: fit %d columns, cutting long cells with …)", tableWidth))
}

// textTable is a table for a terminal: a header and rows of cells, each
// column as wide as its widest cell. right marks the columns aligned right
// (numbers).
type textTable struct {
	header []string
	right  []bool
	rows   [][]string
}

// add appends a row; it must have a cell per column.
func (t *textTable) add(cells ...string) { t.rows = append(t.rows, cells) }

// write prints the table. With a width > 0 it takes at most width
// columns: the widest column is cut, one character at a time, down to
// minColumn, and a cut cell ends with "…". The last column is not padded.
func (t *textTable) write(w io.Writer, width int) error {
	widths := make([]int, len(t.header))
	for _, r := range append([][]string{t.header}, t.rows...) {
		for j, c := range r {
			widths[j] = max(widths[j], utf8.RuneCountInString(c))
		}
	}
	if width > 0 {
		fitWidths(widths, width-len(tableGap)*(len(widths)-1))
	}
	var b strings.Builder
	for _, r := range append([][]string{t.header}, t.rows...) {
		for j, c := range r {
			c = cut(c, widths[j])
			pad := strings.Repeat(" ", widths[j]-utf8.RuneCountInString(c))
			if j > 0 {
				b.WriteString(tableGap)
			}
			switch {
			case j < len(t.right) && t.right[j]:
				b.WriteString(pad + c)
			case j == len(r)-1:
				b.WriteString(c)
			default:
				b.WriteString(c + pad)
			}
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// fitWidths narrows the widest of widths, one at a time, until they add up
// to at most total or every column is at minColumn.
func fitWidths(widths []int, total int) {
	sum := 0
	for _, w := range widths {
		sum += w
	}
	for sum > total {
		widest := 0
		for j, w := range widths {
			if w > widths[widest] {
				widest = j
			}
		}
		if widths[widest] <= minColumn {
			return
		}
		widths[widest]--
		sum--
	}
}

// cut shortens s to n characters, the last one "…", if it is longer.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
