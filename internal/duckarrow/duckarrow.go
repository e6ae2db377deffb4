// Package duckarrow is DuckDB's Arrow interface as privagg uses it. duckdb-go
// compiles that interface only with the duckdb_arrow build tag; without the
// tag this package still compiles, Available is false and Open returns
// ErrNotBuilt, so a plain `go build` or `go install` gives a binary that says
// how to build a working one instead of a compile error.
package duckarrow

import (
	"context"
	"errors"

	"github.com/apache/arrow-go/v18/arrow/array"
)

// Tag is the build tag duckdb-go's Arrow interface needs.
const Tag = "duckdb_arrow"

// InstallLine installs a working privagg binary.
const InstallLine = "go install -tags=" + Tag + " github.com/privagg/privagg/cmd/privagg@latest"

// ErrNotBuilt is Open's error in a binary built without Tag.
var ErrNotBuilt = errors.New("this privagg binary was built without the " + Tag +
	" build tag, which DuckDB's Arrow interface needs; install a working one with: " + InstallLine +
	" (from a checkout: go build -tags=" + Tag + " ./cmd/privagg, or make build)")

// Conn runs Arrow queries on one DuckDB driver connection.
type Conn interface {
	// QueryContext runs a query and streams its result as Arrow record
	// batches; the caller releases the reader.
	QueryContext(ctx context.Context, query string, args ...any) (array.RecordReader, error)
	// RegisterView registers reader as a view named name; release frees it.
	RegisterView(reader array.RecordReader, name string) (release func(), err error)
}
