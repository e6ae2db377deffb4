// Package job is the job file: its types, loading (defaults applied once,
// strict decoding, PRIVAGG_* environment overrides), and every validation
// rule. A rule that a CLI flag shares with a job key lives here once and is
// used by both. Every problem is reported at once as a *ConfigError naming
// the key path, the value and the rule.
package job
