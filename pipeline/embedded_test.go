package pipeline

import "github.com/privagg/privagg/engine/duckdb"

// embedded makes the engine the tests' runs use: the embedded engine, as
// `privagg run` chooses it.
var embedded = duckdb.Factory(duckdb.Options{})
