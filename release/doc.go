// Package release stores and publishes releases: the release store beside
// the ledger, the sinks that write a privacy.Release as Parquet, CSV or one
// DuckDB file (a privacy.Release is the only thing a sink accepts), the
// manifests with their hashes, the release report, and the atomic publish
// to output.dir. Analysts' queries read what this package writes.
package release
