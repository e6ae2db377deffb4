package job

import (
	"slices"
	"strings"
)

// Choices of the job file are typed strings: each type lists its values
// once, here, and validation and the engines use its constants. The noise
// kind is privacy.NoiseKind, which validates itself.

// InputFormat is input.format: how the event files are read.
type InputFormat string

// Input formats.
const (
	InputCSV     InputFormat = "csv"
	InputParquet InputFormat = "parquet"
	InputJSON    InputFormat = "json" // newline-delimited
)

// InputFormats are the valid input formats.
var InputFormats = []InputFormat{InputCSV, InputParquet, InputJSON}

// Valid reports whether f is one of InputFormats.
func (f InputFormat) Valid() bool { return slices.Contains(InputFormats, f) }

// OutputFormat is output.format: how released tables are written.
type OutputFormat string

// Output formats.
const (
	OutputParquet OutputFormat = "parquet"
	OutputCSV     OutputFormat = "csv"
	OutputDuckDB  OutputFormat = "duckdb" // one releases.duckdb with a table per output
)

// OutputFormats are the valid output formats.
var OutputFormats = []OutputFormat{OutputParquet, OutputCSV, OutputDuckDB}

// Valid reports whether f is one of OutputFormats.
func (f OutputFormat) Valid() bool { return slices.Contains(OutputFormats, f) }

// oneOf lists values for an error message: "a, b, c".
func oneOf[T ~string](values []T) string {
	s := make([]string, len(values))
	for i, v := range values {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}
