package verify

import (
	"embed"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The consent and identity corpus (issue "Integrity"): small inputs under
// testdata/integrity and, in integrity.json, what a noiseless run must
// publish from each. Both engines run the same cases with the same expected
// results: the embedded engine in this package (TestVerifyIntegrity), the
// Beam engine in beam/beamengine (TestIntegrityCorpus).
//
// Every case uses IntegrityJob: one output by_c over the public partitions
// c1 and c2, L0 = 1 (each person of the corpus has rows in one partition
// only, so bounding chooses nothing at random), count_units, a count with a
// high max_per_unit and a sum clamped to [0, 15] per person.

//go:embed testdata/integrity
var integrityFS embed.FS

const integrityDir = "testdata/integrity"

// IntegrityCase is one input of the corpus and its expected release.
type IntegrityCase struct {
	Name string `json:"name"`
	// Item is the issue item the case checks (1 consent table times, 2
	// consent per person, 3 waiver, 4 canonical person id, 5 malformed
	// values of derived columns).
	Item int `json:"item"`
	// Events is the input file; its extension gives the format.
	Events string `json:"events"`
	// ConsentTable is the consent table file, if Consent names one.
	ConsentTable string `json:"consent_table,omitempty"`
	// Consent is the job's consent mapping, in YAML flow style.
	Consent string `json:"consent"`
	// UnitCase is the job's privacy_unit_case ("" leaves the default).
	UnitCase string `json:"privacy_unit_case,omitempty"`
	// Derived adds derived columns of the input's ts (truncate: week) and
	// age (bins) and a second output by_week grouped by them (see
	// IntegrityJob), so that their malformed values count.
	Derived           bool          `json:"derived,omitempty"`
	MaxRejectFraction float64       `json:"max_reject_fraction"`
	Want              IntegrityWant `json:"want"`
}

// IntegrityWant is the expected outcome of a case.
type IntegrityWant struct {
	// Exit is "ok" or "input" (the run is refused as input error, exit 4,
	// before any budget is charged).
	Exit string `json:"exit"`
	// The internal run report's counts.
	Read            int64 `json:"read"`
	Rejected        int64 `json:"rejected"`
	Excluded        int64 `json:"excluded"`
	ConsentRead     int64 `json:"consent_read"`
	ConsentRejected int64 `json:"consent_rejected"`
	// Rows are the published values of by_c, by partition (c1, c2).
	Rows map[string]IntegrityRow `json:"rows,omitempty"`
}

// IntegrityRow is one published row of by_c without noise.
type IntegrityRow struct {
	People  int64   `json:"people"`
	Events  int64   `json:"events"`
	Revenue float64 `json:"revenue"`
}

// IntegrityCases returns the corpus.
func IntegrityCases() ([]IntegrityCase, error) {
	data, err := integrityFS.ReadFile(integrityDir + "/integrity.json")
	if err != nil {
		return nil, err
	}
	var cases []IntegrityCase
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cases); err != nil {
		return nil, fmt.Errorf("integrity.json: %w", err)
	}
	return cases, nil
}

// IntegrityJob is the job file of case c, reading its files from the job's
// folder (see WriteIntegrityFiles).
func IntegrityJob(c IntegrityCase) string {
	var b strings.Builder
	fmt.Fprintf(&b, `version: 1
name: integrity
dataset: integrity
purpose: marketing
input: {path: %s, max_reject_fraction: %v}
privacy_unit: user_id
`, c.Events, c.MaxRejectFraction)
	if c.UnitCase != "" {
		fmt.Fprintf(&b, "privacy_unit_case: %s\n", c.UnitCase)
	}
	fmt.Fprintf(&b, "consent: %s\n", c.Consent)
	if c.Derived {
		b.WriteString("columns:\n  week: {from: ts, truncate: week}\n  band: {from: age, bins: [18, 65]}\n")
	}
	b.WriteString(`privacy: {epsilon: 1, delta: 1e-6, k: 1, max_partitions_per_unit: 1}
outputs:
  - name: by_c
    group_by: [c]
    public_partitions: {c: [c1, c2]}
    metrics:
      - {name: people, type: count_units}
      - {name: events, type: count, max_per_unit: 1000}
      - {name: revenue, type: sum, column: revenue, min: 0, max: 15}
`)
	if c.Derived {
		b.WriteString(`  - name: by_week
    group_by: [week, band]
    public_partitions: {band: ["<18", "18-64", "65+"]}
    metrics: [{name: people, type: count_units}]
`)
	}
	b.WriteString(`output: {dir: out, format: csv, round: none}
ledger: ledger/privagg-ledger.duckdb
`)
	return b.String()
}

// WriteIntegrityFiles writes case c's job file (job.yaml) and input files
// into dir and returns the job file's path.
func WriteIntegrityFiles(c IntegrityCase, dir string) (string, error) {
	for _, name := range []string{c.Events, c.ConsentTable} {
		if name == "" {
			continue
		}
		data, err := integrityFS.ReadFile(integrityDir + "/" + name)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return "", err
		}
	}
	path := filepath.Join(dir, "job.yaml")
	return path, os.WriteFile(path, []byte(IntegrityJob(c)), 0o644)
}

// IntegritySecrets are person ids of the corpus that no log line, error,
// report or published file may contain.
func IntegritySecrets() []string {
	return []string{"u-alice", "U-ALICE", "u-bob", "12345678901234567890", "1000000000000000000", "p01", "p04", "g001", "r001", "o01", "o10"}
}

// ReadIntegrityRows reads the published by_c.csv of a run into rows by
// partition.
func ReadIntegrityRows(outDir string) (map[string]IntegrityRow, error) {
	data, err := os.ReadFile(filepath.Join(outDir, "by_c.csv"))
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	idx := map[string]int{}
	for i, h := range strings.Split(lines[0], ",") {
		idx[h] = i
	}
	for _, col := range []string{"c", "people", "events", "revenue"} {
		if _, ok := idx[col]; !ok {
			return nil, fmt.Errorf("by_c.csv has no column %s", col)
		}
	}
	rows := map[string]IntegrityRow{}
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		var r IntegrityRow
		if _, err := fmt.Sscan(f[idx["people"]], &r.People); err != nil {
			return nil, fmt.Errorf("people %q: %w", f[idx["people"]], err)
		}
		if _, err := fmt.Sscan(f[idx["events"]], &r.Events); err != nil {
			return nil, fmt.Errorf("events %q: %w", f[idx["events"]], err)
		}
		if _, err := fmt.Sscan(f[idx["revenue"]], &r.Revenue); err != nil {
			return nil, fmt.Errorf("revenue %q: %w", f[idx["revenue"]], err)
		}
		rows[f[idx["c"]]] = r
	}
	return rows, nil
}

// CheckIntegrity compares a run's outcome with c's expectations and returns
// every difference. exit is "ok" or "input"; got are the run report's
// counts; rows the published table (nil when the run failed).
func CheckIntegrity(c IntegrityCase, exit string, got IntegrityWant, rows map[string]IntegrityRow) []string {
	var diffs []string
	w := c.Want
	if exit != w.Exit {
		return []string{fmt.Sprintf("exit %s, want %s", exit, w.Exit)}
	}
	if exit != "ok" {
		return nil
	}
	if got.Read != w.Read || got.Rejected != w.Rejected || got.Excluded != w.Excluded ||
		got.ConsentRead != w.ConsentRead || got.ConsentRejected != w.ConsentRejected {
		diffs = append(diffs, fmt.Sprintf("counts read=%d rejected=%d excluded=%d consent_read=%d consent_rejected=%d, want %d, %d, %d, %d, %d",
			got.Read, got.Rejected, got.Excluded, got.ConsentRead, got.ConsentRejected,
			w.Read, w.Rejected, w.Excluded, w.ConsentRead, w.ConsentRejected))
	}
	for _, k := range []string{"c1", "c2"} {
		if g, want := rows[k], w.Rows[k]; g != want {
			diffs = append(diffs, fmt.Sprintf("%s: people=%d events=%d revenue=%v, want %d, %d, %v",
				k, g.People, g.Events, g.Revenue, want.People, want.Events, want.Revenue))
		}
	}
	return diffs
}
