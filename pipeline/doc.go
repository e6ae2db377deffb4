// Package pipeline is the release protocol: Run takes a loaded job through
// the input scan, the budget reservation, the noisy release, the release
// store, publishing and the ledger's published mark, with any engine (the
// embedded DuckDB one by default, or Beam) computing the tables. It also
// maps errors to the documented exit codes.
package pipeline
