package job

import (
	"fmt"
	"path/filepath"
	"strings"
)

// PathKind is what a path setting holds; it decides the path's rules.
type PathKind int

// The kinds of paths a job names besides output.dir.
const (
	PathLedger  PathKind = iota // ledger; the release store and run reports live beside it
	PathTempDir                 // privacy.temp_dir: DuckDB's spill folder
	PathStaging                 // staging.path
	PathInput                   // an input: events, consent table, map or public-partition file
)

// outsideWhy says why a path of each kind must stay out of output.dir.
var outsideWhy = map[PathKind]string{
	PathLedger:  "the release store and internal run reports beside the ledger are not for publication",
	PathTempDir: "spilled data holds raw events",
	PathStaging: "staging is pseudonymous event-level data, never a release",
	PathInput:   "it is an input of the job, and output.dir holds released tables only",
}

// CheckPath applies the path rules to path, an absolute path of kind k from
// the job file or from a flag that overrides it (--ledger, --temp-dir). It is
// the one place of these rules: output.dir is the publication folder, and
// whatever is in it may be shipped to the release's readers, so no other
// path of the job may be inside it, as written or with symbolic links
// followed. An empty path passes. The error states
// the rule; callers name the key or flag and the path.
func (j *Job) CheckPath(k PathKind, path string) error {
	if path == "" || j.Output.Dir == "" {
		return nil
	}
	if isInside(j.Output.Dir, path) {
		return fmt.Errorf("must not be inside output.dir: %s", outsideWhy[k])
	}
	if !hasGlobMeta(path) {
		if isInside(resolve(j.Output.Dir), resolve(path)) {
			return fmt.Errorf("must not be inside output.dir (through a symbolic link): %s", outsideWhy[k])
		}
		return nil
	}
	if k != PathInput {
		return nil
	}
	// A pattern can match files inside output.dir that its text does not
	// show (/data/*/e.csv and output.dir /data/out).
	matches, _ := filepath.Glob(path)
	for _, m := range matches {
		if isInside(j.Output.Dir, m) || isInside(resolve(j.Output.Dir), resolve(m)) {
			return fmt.Errorf("must not match files inside output.dir (%s): %s", m, outsideWhy[k])
		}
	}
	return nil
}

// CheckFlagPath applies CheckPath to the value of a command-line flag, a path
// relative to the working directory, and returns a *ConfigError naming the
// flag, the value and the rule.
func (j *Job) CheckFlagPath(flag string, k PathKind, value string) error {
	if value == "" {
		return nil
	}
	abs, err := filepath.Abs(value)
	if err != nil {
		return FlagError(flag, value, fmt.Errorf("has no absolute path: %w", err))
	}
	if err := j.CheckPath(k, abs); err != nil {
		return FlagError(flag, value, err)
	}
	return nil
}

// inputPaths are the job's input files by config key: input.path (a file or
// a glob), the consent table, map files and public-partition files.
func (j *Job) inputPaths() (keys, paths []string) {
	add := func(key, path string) {
		if path != "" {
			keys, paths = append(keys, key), append(paths, path)
		}
	}
	add("input.path", j.Input.Path)
	if t := j.Consent.Table; t != nil {
		add("consent.table.path", t.Path)
	}
	for _, name := range sortedKeys(j.Columns) {
		if m := j.Columns[name].Map; m != nil {
			add("columns."+name+".map.file", m.File)
		}
	}
	for i, o := range j.Outputs {
		for _, col := range sortedKeys(o.PublicPartitions) {
			add(fmt.Sprintf("outputs[%d].public_partitions.%s.file", i, col), o.PublicPartitions[col].File)
		}
	}
	return keys, paths
}

// isInside reports whether path is dir or below it (both absolute).
func isInside(dir, path string) bool {
	rel, err := filepath.Rel(filepath.Clean(dir), filepath.Clean(path))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// resolve returns the absolute path with every symbolic link of it, or of
// its longest existing ancestor, followed: the place a file at path would
// be (a ledger or spill folder may not exist yet). Paths that cannot be
// resolved stay as they are.
func resolve(path string) string {
	rest := ""
	for p := filepath.Clean(path); ; p = filepath.Dir(p) {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(r, rest)
		}
		if filepath.Dir(p) == p {
			return path
		}
		rest = filepath.Join(filepath.Base(p), rest)
	}
}

// hasGlobMeta reports whether path holds a pattern character of filepath.Match.
func hasGlobMeta(path string) bool { return strings.ContainsAny(path, "*?[") }
