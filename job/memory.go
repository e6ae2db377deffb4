package job

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
)

// memoryLimitPattern is the syntax of a memory limit: a number, optional
// blanks and a unit, matched without case. The units are those DuckDB 1.5's
// SET memory_limit accepts: 1000^i (KB, MB, GB, TB, also written K, M, G, T
// or kilobyte, ...) and 1024^i (KiB, MiB, GiB, TiB), and bytes. DuckDB
// refuses percentages and bare numbers, and so does this.
var memoryLimitPattern = regexp.MustCompile(`(?i)^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(b|bytes?|k|kb|kib|kilobytes?|m|mb|mib|megabytes?|g|gb|gib|gigabytes?|t|tb|tib|terabytes?)\s*$`)

// maxMemoryLimit is the largest memory limit accepted, in bytes (8 EiB);
// DuckDB refuses values near 2^64.
const maxMemoryLimit = 1 << 63

// MemoryLimitRule describes the values CheckMemoryLimit accepts.
const MemoryLimitRule = "must be a size such as 4GB, 4G, 512MiB or 1.5TB: a number > 0 and a unit " +
	"(B; KB, MB, GB, TB or K, M, G, T for 1000^i; KiB, MiB, GiB, TiB for 1024^i); percentages are not accepted"

// CheckMemoryLimit checks a DuckDB memory limit: privacy.memory_limit of a
// job file, the --memory-limit flag and the engine's own setting all go
// through it, so a value accepted in one place is accepted everywhere and
// never refused by DuckDB at run time. The error states the rule; callers
// name the key or flag and the value.
func CheckMemoryLimit(s string) error {
	m := memoryLimitPattern.FindStringSubmatch(s)
	if m == nil {
		return errors.New(MemoryLimitRule)
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil { // the pattern admits only decimal numbers
		return errors.New(MemoryLimitRule)
	}
	bytes := n * unitBytes(strings.ToLower(m[2]))
	switch {
	case !(bytes >= 1):
		return errors.New("must be at least 1 byte")
	case bytes > maxMemoryLimit:
		return errors.New("must be at most 8 EiB")
	}
	return nil
}

// unitBytes is the size of a unit of memoryLimitPattern, lower-cased.
func unitBytes(unit string) float64 {
	if unit == "" {
		return 1
	}
	exp := strings.IndexByte("bkmgt", unit[0]) // bytes, kilo, mega, giga, tera
	base := 1000.0
	if strings.HasSuffix(unit, "ib") {
		base = 1024
	}
	size := 1.0
	for range exp {
		size *= base
	}
	return size
}
