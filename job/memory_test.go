package job

import (
	"strings"
	"testing"
)

// TestCheckMemoryLimit: the values DuckDB 1.5's SET memory_limit accepts,
// checked against DuckDB itself in engine/duckdb's
// TestMemoryLimitAgreesWithDuckDB.
func TestCheckMemoryLimit(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"4GB", "4G", "4g", "4gb", "512MiB", "512mib", "1.5GB", "1.5 GB", " 4GB ", "4 T", "4TiB",
		"100KB", "100K", "100KiB", "1B", "1024 bytes", ".5GB", "2 gigabytes",
	} {
		if err := CheckMemoryLimit(s); err != nil {
			t.Errorf("CheckMemoryLimit(%q) = %v, want nil", s, err)
		}
	}
	for _, s := range []string{
		"", "80%", "4", "4096", "4Gi", "4PB", "4 GBs", "GB", "-1GB", "0GB", "0.1B", "1,5GB", "+4GB",
		"lots", "4GB'; DROP", "9999999999TB",
	} {
		if err := CheckMemoryLimit(s); err == nil {
			t.Errorf("CheckMemoryLimit(%q) = nil, want an error", s)
		}
	}
}

// TestLoadJobMemoryLimit: privacy.memory_limit follows CheckMemoryLimit: 4G
// loads (and runs: the engine applies the same rule), 80% is refused with
// the key, the value and the rule.
func TestLoadJobMemoryLimit(t *testing.T) {
	clearEnv(t)
	with := func(v string) string {
		return strings.Replace(minimalJob, "delta: 1e-6}", "delta: 1e-6, memory_limit: \""+v+"\"}", 1)
	}
	if _, err := LoadJob(writeJob(t, with("4G"))); err != nil {
		t.Errorf("memory_limit 4G: %v", err)
	}
	_, err := LoadJob(writeJob(t, with("80%")))
	ce := configError(t, err)
	if want := "privacy.memory_limit: 80% must be a size such as 4GB"; !strings.Contains(ce.Error(), want) {
		t.Errorf("error %q lacks %q", ce.Error(), want)
	}
}
