package main

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"

	"github.com/privagg/privagg/privacy"
)

// writeJSON writes v as indented JSON (shared by the commands with --format
// json). Every non-integer number goes through privacy.FormatNumber's
// rounding, so JSON shows the same digits as the text output (0.5, not
// 0.49999999999999994); integers (counts, sizes) are written unchanged.
func writeJSON(w io.Writer, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, roundJSONNumbers(raw), "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}

// roundJSONNumbers rewrites the non-integer number literals of the valid
// JSON document b with privacy.RoundForDisplay, written as encoding/json
// writes a float64. Strings are copied untouched.
func roundJSONNumbers(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '"':
			j := i + 1
			for j < len(b) && b[j] != '"' {
				if b[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(b))
			out = append(out, b[i:j]...)
			i = j
		case c == '-' || (c >= '0' && c <= '9'):
			j := i
			for j < len(b) && bytes.IndexByte([]byte("+-.eE0123456789"), b[j]) >= 0 {
				j++
			}
			lit := b[i:j]
			if bytes.ContainsAny(lit, ".eE") {
				if f, err := strconv.ParseFloat(string(lit), 64); err == nil {
					if r, err := json.Marshal(privacy.RoundForDisplay(f)); err == nil {
						lit = r
					}
				}
			}
			out = append(out, lit...)
			i = j
		default:
			out = append(out, c)
			i++
		}
	}
	return out
}
