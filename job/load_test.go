package job

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"time"

	"github.com/privagg/privagg/privacy"
)

// clearEnv unsets every PRIVAGG_* override for the test (an empty variable
// counts as unset), so that the caller's environment cannot leak in.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, k := range EnvKeys {
		t.Setenv(EnvVar(k), "")
	}
}

// configError asserts that err is a *ConfigError and returns it.
func configError(t *testing.T, err error) *ConfigError {
	t.Helper()
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("error = %v (%T), want a *ConfigError", err, err)
	}
	return ce
}

// writeJob writes a job file into a fresh folder and returns its path.
func writeJob(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "job.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const minimalJob = `
version: 1
name: minimal
dataset: web_events
purpose: marketing
input: {path: events.csv}
privacy_unit: user_id
consent: {column: consent_marketing}
privacy: {epsilon: 1, delta: 1e-6}
outputs:
  - name: by_country
    group_by: [country]
    metrics: [{name: events, type: count}]
output: {dir: out}
`

// TestLoadJobCorpus loads every file of testdata/configs: good/*.yaml must
// load; bad/*.yaml must fail with a *ConfigError containing every line of
// the sibling .err file.
func TestLoadJobCorpus(t *testing.T) {
	clearEnv(t)
	good, _ := filepath.Glob(filepath.Join("testdata", "configs", "good", "*.yaml"))
	bad, _ := filepath.Glob(filepath.Join("testdata", "configs", "bad", "*.yaml"))
	if len(good) < 5 || len(bad) < 15 {
		t.Fatalf("corpus too small: %d good, %d bad files", len(good), len(bad))
	}
	for _, path := range good {
		t.Run("good/"+filepath.Base(path), func(t *testing.T) {
			job, err := LoadJob(path)
			if err != nil {
				t.Fatalf("LoadJob: %v", err)
			}
			if abs, _ := filepath.Abs(path); job.File != abs {
				t.Errorf("File = %q, want %q", job.File, abs)
			}
		})
	}
	for _, path := range bad {
		t.Run("bad/"+filepath.Base(path), func(t *testing.T) {
			want, err := os.ReadFile(strings.TrimSuffix(path, ".yaml") + ".err")
			if err != nil {
				t.Fatalf("every bad file needs a .err file: %v", err)
			}
			_, err = LoadJob(path)
			ce := configError(t, err)
			if ce.File != path {
				t.Errorf("ConfigError.File = %q, want %q", ce.File, path)
			}
			msg := err.Error()
			for _, line := range strings.Split(strings.TrimSpace(string(want)), "\n") {
				if !strings.Contains(msg, line) {
					t.Errorf("error lacks %q; got:\n%s", line, msg)
				}
			}
		})
	}
}

func TestLoadJobDefaults(t *testing.T) {
	clearEnv(t)
	job, err := LoadJob(writeJob(t, minimalJob+`
columns:
  region: {from: country, map: {file: regions.csv}}
staging: {path: staging.parquet, pseudonym_key_env: KEY}
`))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"input.format", job.Input.Format, InputCSV},
		{"input.csv.delimiter", job.Input.CSV.Delimiter, ","},
		{"input.csv.header", job.Input.CSV.Header != nil && *job.Input.CSV.Header, true},
		{"input.max_reject_fraction", job.Input.MaxRejectFraction, 0.0},
		{"privacy.noise", job.Privacy.Noise, privacy.Laplace},
		{"privacy.k", job.Privacy.K, int64(1)},
		{"privacy.max_partitions_per_unit", job.Privacy.MaxPartitionsPerUnit, int64(1)},
		{"privacy.threads", job.Privacy.Threads, 0},
		{"outputs[0].max_partitions_per_unit", job.Outputs[0].MaxPartitionsPerUnit, int64(1)},
		{"outputs[0].metrics[0].max_per_unit", job.Outputs[0].Metrics[0].MaxPerUnit, int64(1)},
		{"columns.region.map.default", job.Columns["region"].Map.Default, "other"},
		{"output.format", job.Output.Format, OutputParquet},
		{"ledger", filepath.Base(job.Ledger), "privagg-ledger.duckdb"},
		{"staging.key_version", job.Staging.KeyVersion, "1"},
		{"privacy_unit_case", job.PrivacyUnitCase, "keep"},
		{"consent.waived", job.Consent.Waived, ""},
		{"outputs[0].weight", job.Outputs[0].Weight, privacy.DefaultWeight},
		{"outputs[0].metrics[0].weight", job.Outputs[0].Metrics[0].Weight, privacy.DefaultWeight},
		{"outputs[0].selection_share", job.Outputs[0].SelectionShare, privacy.DefaultSelectionShare},
		{"outputs[0].SelectionShareIsDefault", job.Outputs[0].SelectionShareIsDefault(), true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestLoadJobBudgetSplit: weights and selection shares set in the file
// reach the privacy spec; a public output gets no selection share.
func TestLoadJobBudgetSplit(t *testing.T) {
	clearEnv(t)
	job, err := LoadJob(writeJob(t, strings.Replace(minimalJob, "  - name: by_country", `  - name: public
    group_by: [country]
    public_partitions: {country: [de, fr]}
    weight: 0.5
    metrics: [{name: events, type: count, weight: 3}, {name: people, type: count_units}, {name: rows, type: count, max_per_unit: 4}]
  - name: by_country
    weight: 2
    selection_share: 0.3`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	spec := job.PrivacySpec()
	pub, data := spec.Outputs[0], spec.Outputs[1]
	// A count without a weight gets the square root of its max_per_unit.
	if pub.Weight != 0.5 || pub.SelectionShare != 0 || pub.Metrics[0].Weight != 3 || pub.Metrics[1].Weight != 1 || pub.Metrics[2].Weight != 2 {
		t.Errorf("public output spec = %+v", pub)
	}
	if data.Weight != 2 || data.SelectionShare != 0.3 || job.Outputs[1].SelectionShareIsDefault() || job.Outputs[0].SelectionShareIsDefault() {
		t.Errorf("data output spec = %+v, default %v", data, job.Outputs[1].SelectionShareIsDefault())
	}
	if _, err := privacy.NewPlan(spec); err != nil {
		t.Errorf("NewPlan: %v", err)
	}
}

// TestConsentWaiver: a waived job loads with its reason, folds ids when it
// says so, warns, and its release metadata carries the reason; a job with
// consent has no warning.
func TestConsentWaiver(t *testing.T) {
	clearEnv(t)
	j, err := LoadJob(filepath.Join("testdata", "configs", "good", "consent_waived.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const reason = "public registry extract, no consent needed (legal ref. 2026-17)"
	if j.Consent.Waived != reason || !j.FoldUnitCase() {
		t.Errorf("waived %q, fold %v", j.Consent.Waived, j.FoldUnitCase())
	}
	if w := j.Warnings(); len(w) != 1 || !strings.Contains(w[0], "consent is waived") || !strings.Contains(w[0], reason) {
		t.Errorf("warnings %q", w)
	}
	if m := j.ReleaseMetadata(time.Now()); m.ConsentWaiver != reason || m.Purpose != "statistics" {
		t.Errorf("metadata %+v", m)
	}
	if inputs := j.InputColumns(); slices.Contains(inputs, "") {
		t.Errorf("input columns %v", inputs)
	}
	j, err = LoadJob(writeJob(t, minimalJob))
	if err != nil {
		t.Fatal(err)
	}
	if w := j.Warnings(); len(w) != 0 || j.FoldUnitCase() {
		t.Errorf("job with consent: warnings %q, fold %v", w, j.FoldUnitCase())
	}
	long := strings.Replace(minimalJob, "consent: {column: consent_marketing}", "consent: {waived: \""+strings.Repeat("x", MaxWaiverLen+1)+"\"}", 1)
	if long == minimalJob {
		t.Fatal("minimalJob has no consent column")
	}
	if _, err := LoadJob(writeJob(t, long)); err == nil || !strings.Contains(err.Error(), "consent.waived: must be at most") {
		t.Errorf("long reason: %v", err)
	}
}

// TestLoadJobOutputL0Default checks that an output's L0 defaults to the
// job's, and that an output may set its own.
func TestLoadJobOutputL0Default(t *testing.T) {
	clearEnv(t)
	src := strings.Replace(minimalJob, "delta: 1e-6}", "delta: 1e-6, max_partitions_per_unit: 4}", 1)
	src = strings.Replace(src, "output: {dir: out}",
		"  - {name: other, group_by: [channel], max_partitions_per_unit: 2, metrics: [{name: n, type: count}]}\noutput: {dir: out}", 1)
	job, err := LoadJob(writeJob(t, src))
	if err != nil {
		t.Fatal(err)
	}
	if got := []int64{job.Outputs[0].MaxPartitionsPerUnit, job.Outputs[1].MaxPartitionsPerUnit}; !slices.Equal(got, []int64{4, 2}) {
		t.Errorf("outputs' max_partitions_per_unit = %v, want [4 2]", got)
	}
}

func TestLoadJobInputFormatFromExtension(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]InputFormat{
		"e.csv": "csv", "E.CSV": "csv", "e.csv.gz": "csv", "e.tsv": "csv", "d/*.parquet": "parquet",
		"e.json": "json", "e.jsonl": "json", "e.ndjson.zst": "json", "e.xlsx": "", "events": "",
	} {
		if got := formatFromExtension(path); got != want {
			t.Errorf("formatFromExtension(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestLoadJobResolvesPaths(t *testing.T) {
	clearEnv(t)
	path := writeJob(t, `
version: 1
name: paths
dataset: d
purpose: p
input: {path: data/*.csv}
privacy_unit: user_id
consent:
  table: {path: ../consent.csv, unit: u, purpose: p, granted: g, at: t}
columns:
  region: {from: country, map: {file: maps/regions.csv}}
privacy: {epsilon: 1, delta: 1e-6, temp_dir: spill}
outputs:
  - name: o
    group_by: [region, channel]
    public_partitions:
      region: {file: lists/regions.csv}
      channel: [a, b]
    metrics: [{name: n, type: count}]
output: {dir: out}
ledger: /var/lib/privagg/ledger.duckdb
staging: {path: staging/e.parquet, pseudonym_key_env: K}
`)
	job, err := LoadJob(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(path)
	for _, c := range []struct{ name, got, want string }{
		{"File", job.File, path},
		{"input.path", job.Input.Path, filepath.Join(dir, "data", "*.csv")},
		{"consent.table.path", job.Consent.Table.Path, filepath.Join(filepath.Dir(dir), "consent.csv")},
		{"columns.region.map.file", job.Columns["region"].Map.File, filepath.Join(dir, "maps", "regions.csv")},
		{"public_partitions.region.file", job.Outputs[0].PublicPartitions["region"].File, filepath.Join(dir, "lists", "regions.csv")},
		{"privacy.temp_dir", job.Privacy.TempDir, filepath.Join(dir, "spill")},
		{"output.dir", job.Output.Dir, filepath.Join(dir, "out")},
		{"ledger (absolute, kept)", job.Ledger, "/var/lib/privagg/ledger.duckdb"},
		{"staging.path", job.Staging.Path, filepath.Join(dir, "staging", "e.parquet")},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if got := job.Outputs[0].PublicPartitions["channel"].Values; !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("public_partitions.channel = %v, want [a b]", got)
	}
}

func TestLoadJobEnvOverrides(t *testing.T) {
	clearEnv(t)
	t.Setenv("PRIVAGG_PRIVACY_EPSILON", "0.5")
	t.Setenv("PRIVAGG_PRIVACY_DELTA", "1e-9")
	t.Setenv("PRIVAGG_PRIVACY_K", "20")
	t.Setenv("PRIVAGG_INPUT_CSV_HEADER", "false")
	t.Setenv("PRIVAGG_LEDGER", "env-ledger.duckdb")
	t.Setenv("PRIVAGG_OUTPUT_FORMAT", "csv")
	job, err := LoadJob(writeJob(t, minimalJob+"ledger: file-ledger.duckdb\n"))
	if err != nil {
		t.Fatal(err)
	}
	cwd, _ := os.Getwd()
	if job.Privacy.Epsilon != 0.5 || job.Privacy.Delta != 1e-9 || job.Privacy.K != 20 {
		t.Errorf("privacy = %+v, want epsilon 0.5, delta 1e-9, k 20 from the environment", job.Privacy)
	}
	if *job.Input.CSV.Header {
		t.Error("input.csv.header = true, want false from PRIVAGG_INPUT_CSV_HEADER")
	}
	if want := filepath.Join(cwd, "env-ledger.duckdb"); job.Ledger != want {
		t.Errorf("ledger = %q, want %q (relative to the working directory)", job.Ledger, want)
	}
	if job.Output.Format != "csv" {
		t.Errorf("output.format = %q, want csv", job.Output.Format)
	}

	t.Run("bad value names the key", func(t *testing.T) {
		t.Setenv("PRIVAGG_PRIVACY_EPSILON", "lots")
		_, err := LoadJob(writeJob(t, minimalJob))
		ce := configError(t, err)
		if len(ce.Problems) != 1 || ce.Problems[0].Key != "privacy.epsilon" {
			t.Errorf("problems = %v, want one for privacy.epsilon", ce.Problems)
		}
	})
	t.Run("validated like the file", func(t *testing.T) {
		t.Setenv("PRIVAGG_PRIVACY_EPSILON", "-2")
		_, err := LoadJob(writeJob(t, minimalJob))
		if msg := configError(t, err).Error(); !strings.Contains(msg, "privacy.epsilon: -2 must be > 0") {
			t.Errorf("error = %s", msg)
		}
	})
	t.Run("empty variable is unset", func(t *testing.T) {
		t.Setenv("PRIVAGG_PRIVACY_EPSILON", "")
		job, err := LoadJob(writeJob(t, minimalJob))
		if err != nil || job.Privacy.Epsilon != 1 {
			t.Errorf("epsilon = %v, %v; want the file's 1", job, err)
		}
	})
}

func TestEnvVar(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]string{
		"ledger":                          "PRIVAGG_LEDGER",
		"privacy.epsilon":                 "PRIVAGG_PRIVACY_EPSILON",
		"privacy.max_partitions_per_unit": "PRIVAGG_PRIVACY_MAX_PARTITIONS_PER_UNIT",
	} {
		if got := EnvVar(key); got != want {
			t.Errorf("EnvVar(%q) = %q, want %q", key, got, want)
		}
	}
}

// TestLoadJobAllProblemsAtOnce checks that every problem is reported, each
// exactly once, in a stable order: decode problems first, then validation
// in schema order.
func TestLoadJobAllProblemsAtOnce(t *testing.T) {
	clearEnv(t)
	_, err := LoadJob(writeJob(t, `
version: 1
name: all
dataset: d
purpose: p
input: {path: e.csv}
privacy_unit: user_id
consent: {column: c}
privacy: {epsilon: nope, delta: -0.5, k: 0}
outputs:
  - name: o
    group_by: [country]
    metrics:
      - {name: n, type: count, max_per_unit: 0}
      - {name: s, type: sum, column: revenue, min: 5, max: 1}
output: {dir: out, format: xml, color: blue}
`))
	ce := configError(t, err)
	var got []string
	for _, p := range ce.Problems {
		got = append(got, p.String())
	}
	want := []string{
		"output.color: is not a known key",
		`privacy.epsilon: "nope" must be a number`,
		"privacy.delta: -0.5 must be in [0, 1)",
		"privacy.k: 0 must be >= 1",
		"outputs[0].metrics[0].max_per_unit: 0 must be >= 1",
		"outputs[0].metrics[1].max: 1 must be > min (5)",
		"output.format: xml must be one of parquet, csv, duckdb",
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if !strings.HasPrefix(err.Error(), ce.File+": 7 problems:") {
		t.Errorf("error = %q, want it to start with the file and the count", err.Error())
	}
}

func TestLoadJobUnknownKeys(t *testing.T) {
	clearEnv(t)
	tests := []struct {
		name, replace, with, wantKey string
	}{
		{"top level", "ledger:", "ledgr: x\nledger:", "ledgr"},
		{"nested", "epsilon: 1,", "epsilonn: 1, epsilon: 1,", "privacy.epsilonn"},
		{"deeply nested", "input: {path: events.csv}", "input: {path: events.csv, csv: {quote: x}}", "input.csv.quote"},
		{"in a list element", "type: count}", "type: count, bounds: 1}", "outputs[0].metrics[0].bounds"},
		{"in an output", "group_by: [country]", "group_by: [country]\n    groupby: [x]", "outputs[0].groupby"},
		{"in a derived column", "output: {dir: out}", "output: {dir: out}\ncolumns: {b: {from: age, bins: [1], labels: [x]}}", "columns.b.labels"},
		{"in a consent table", "consent: {column: consent_marketing}",
			"consent: {table: {path: c.csv, unit: u, purpose: p, granted: g, at: t, when: x}}", "consent.table.when"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(minimalJob+"ledger: l.duckdb\n", tc.replace, tc.with, 1)
			_, err := LoadJob(writeJob(t, src))
			ce := configError(t, err)
			if len(ce.Problems) != 1 || ce.Problems[0].Key != tc.wantKey || !strings.HasPrefix(ce.Problems[0].Rule, "is not a known key") {
				t.Errorf("problems = %v, want one unknown key %s", ce.Problems, tc.wantKey)
			}
		})
	}
}

func TestLoadJobIdentifierRules(t *testing.T) {
	clearEnv(t)
	const job = `
version: 1
name: ids
dataset: d
purpose: p
input: {path: e.csv}
privacy_unit: UNIT
identifiers: [email, ip]
consent: {column: CONSENT}
columns:
  derived: {from: SOURCE, prefix: 2}
privacy: {epsilon: 1, delta: 1e-6}
outputs:
  - name: o
    group_by: [derived, GROUP]
    metrics: [{name: s, type: sum, column: MEASURE, min: 0, max: 1}]
output: {dir: out}
`
	tests := []struct {
		placeholder, wantKey, wantRule string
	}{
		{"UNIT", "privacy_unit", "is listed in identifiers, which are never read; a privacy unit may be an identifier-like id"},
		{"CONSENT", "consent.column", "is listed in identifiers"},
		{"SOURCE", "columns.derived.from", "is listed in identifiers"},
		{"GROUP", "outputs[0].group_by[1]", "is listed in identifiers, which can never be released"},
		{"MEASURE", "outputs[0].metrics[0].column", "is listed in identifiers"},
	}
	for _, tc := range tests {
		t.Run(tc.wantKey, func(t *testing.T) {
			src := job
			for _, other := range tests {
				value := strings.ToLower(other.placeholder)
				if other.placeholder == tc.placeholder {
					value = "Email" // identifiers match without case, as DuckDB column names do
				}
				src = strings.ReplaceAll(src, other.placeholder, value)
			}
			_, err := LoadJob(writeJob(t, src))
			ce := configError(t, err)
			if len(ce.Problems) != 1 || ce.Problems[0].Key != tc.wantKey || ce.Problems[0].Value != "Email" ||
				!strings.HasPrefix(ce.Problems[0].Rule, tc.wantRule) {
				t.Errorf("problems = %v, want one for %s: %s", ce.Problems, tc.wantKey, tc.wantRule)
			}
		})
	}
}

// TestLoadJobKeepsCase checks that names are user data: viper lower-cases
// keys, but derived column names, public partition columns, output, metric
// and column names keep the case they were written in.
func TestLoadJobKeepsCase(t *testing.T) {
	clearEnv(t)
	job, err := LoadJob(writeJob(t, `
version: 1
name: CaseJob
dataset: d
purpose: p
input: {path: e.parquet}
privacy_unit: UserID
consent: {column: ConsentMarketing}
columns:
  AgeBand: {from: Age, bins: [18, 65]}
privacy: {epsilon: 1, delta: 0}
outputs:
  - name: ByAgeBand
    group_by: [AgeBand, Channel]
    public_partitions:
      AgeBand: ["<18", 18-64, 65+]
      Channel: [Search, EMail]
    metrics: [{name: People, type: count_units}]
output: {dir: out}
`))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := job.Columns["AgeBand"]; !ok {
		t.Errorf("columns = %v, want key AgeBand", job.Columns)
	}
	o := job.Outputs[0]
	if o.Name != "ByAgeBand" || o.Metrics[0].Name != "People" || !slices.Equal(o.GroupBy, []string{"AgeBand", "Channel"}) {
		t.Errorf("output = %+v", o)
	}
	if got := o.PublicPartitions["Channel"].Values; !slices.Equal(got, []string{"Search", "EMail"}) {
		t.Errorf("public_partitions.Channel = %v", got)
	}
	if !o.PublicKeysOnly() {
		t.Error("PublicKeysOnly = false, want true")
	}
	if got, want := job.InputColumns(), []string{"Age", "Channel", "ConsentMarketing", "UserID"}; !slices.Equal(got, want) {
		t.Errorf("InputColumns = %v, want %v", got, want)
	}
}

// TestLoadJobDeltaNotation checks that delta parses as a float in every
// notation, also 1e-6, which YAML 1.1 parsers read as a string.
func TestLoadJobDeltaNotation(t *testing.T) {
	clearEnv(t)
	for _, delta := range []string{"1e-6", "1E-6", "1.0e-6", "0.000001", `"1e-6"`, "+1e-6"} {
		t.Run(delta, func(t *testing.T) {
			job, err := LoadJob(writeJob(t, strings.Replace(minimalJob, "delta: 1e-6", "delta: "+delta, 1)))
			if err != nil {
				t.Fatal(err)
			}
			if job.Privacy.Delta != 1e-6 {
				t.Errorf("delta = %v, want 1e-6", job.Privacy.Delta)
			}
		})
	}
}

func TestLoadJobWholeNumbers(t *testing.T) {
	clearEnv(t)
	job, err := LoadJob(writeJob(t, strings.Replace(minimalJob, "delta: 1e-6", "delta: 1e-6, k: 10.0", 1)))
	if err != nil || job.Privacy.K != 10 {
		t.Fatalf("k: 10.0 gave %v, %v; want 10", job, err)
	}
}

func TestLoadJobMissingFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := LoadJob(path)
	ce := configError(t, err)
	if want := path + ": job file: cannot be read: no such file or directory"; ce.Error() != want {
		t.Errorf("error = %q, want %q", ce.Error(), want)
	}
}

func TestLoadJobBytes(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	job, err := LoadJobBytes([]byte(minimalJob), dir)
	if err != nil {
		t.Fatal(err)
	}
	if job.File != "" || job.Input.Path != filepath.Join(dir, "events.csv") {
		t.Errorf("File = %q, input.path = %q", job.File, job.Input.Path)
	}
	_, err = LoadJobBytes([]byte("version: 1\n"), dir)
	if ce := configError(t, err); ce.File != "" || len(ce.Problems) < 5 {
		t.Errorf("ConfigError = %+v, want no file and several problems", ce)
	}
}

func TestInputColumns(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		job  Job
		want []string
	}{
		{
			name: "everything",
			job: Job{
				PrivacyUnit: "user_id",
				Identifiers: []string{"email"},
				Consent:     Consent{Column: "consent_marketing"},
				Columns: map[string]DerivedColumn{
					"week": {From: "ts", Truncate: "week"}, "age_band": {From: "age", Bins: []float64{18}},
				},
				Outputs: []Output{
					{GroupBy: []string{"campaign", "week"}, Metrics: []Metric{{Type: "count"}, {Type: "sum", Column: "revenue"}}},
					{GroupBy: []string{"age_band", "campaign", "Channel"}, Metrics: []Metric{{Type: "mean", Column: "Revenue"}}},
				},
			},
			want: []string{"Channel", "Revenue", "age", "campaign", "consent_marketing", "ts", "user_id"},
		},
		{
			name: "row unit and consent table",
			job: Job{
				PrivacyUnit: RowUnit,
				Consent:     Consent{Table: &ConsentTable{Unit: "user_id"}},
				Outputs:     []Output{{GroupBy: []string{"country"}, Metrics: []Metric{{Type: "count_units"}}}},
			},
			want: []string{"country"},
		},
		{
			name: "never identifiers",
			job: Job{
				PrivacyUnit: "email",
				Identifiers: []string{"EMAIL", "ip"},
				Outputs:     []Output{{GroupBy: []string{"ip", "country"}}},
			},
			want: []string{"country"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.job.InputColumns(); !slices.Equal(got, tc.want) {
				t.Errorf("InputColumns = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestExampleJob loads the documented example in configs/.
func TestExampleJob(t *testing.T) {
	clearEnv(t)
	job, err := LoadJob(filepath.Join("..", "configs", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p := job.Privacy
	if job.Name != "campaign_weekly" || job.Dataset != "web_events" || job.Purpose != "marketing" ||
		p.Epsilon != 1 || p.Delta != 1e-6 || p.K != 10 || !p.AutoMaxPartitions || p.BoundsShare != privacy.DefaultBoundsShare || len(job.Outputs) != 3 {
		t.Errorf("example job = %+v", job)
	}
	// The example shows every metric type across its outputs.
	types := map[string]bool{}
	for _, o := range job.Outputs {
		for _, m := range o.Metrics {
			types[m.Type] = true
		}
	}
	for _, k := range privacy.MetricKinds() {
		if !types[string(k)] {
			t.Errorf("the example has no %s metric; it shows every metric type", k)
		}
	}
	if job.Outputs[0].PublicKeysOnly() || job.Outputs[1].PublicKeysOnly() || !job.Outputs[2].PublicKeysOnly() {
		t.Error("want DP partition selection for outputs[0] and [1] and public keys for outputs[2]")
	}
	for _, f := range []string{job.Columns["region"].Map.File, job.Outputs[2].PublicPartitions["region"].File} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("example references a missing file: %v", err)
		}
	}
	want := []string{"age", "campaign", "consent_marketing", "country", "revenue", "ts", "user_id"}
	if got := job.InputColumns(); !slices.Equal(got, want) {
		t.Errorf("InputColumns = %v, want %v", got, want)
	}
}
