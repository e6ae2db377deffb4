package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/privagg/privagg/engine/duckdb"
	"github.com/privagg/privagg/job"
)

func init() { register(newInitCmd) }

func newInitCmd(g *globals) *cobra.Command {
	var from, unit, consent, waived string
	cmd := &cobra.Command{
		Use: "init JOB.yaml --from FILE",
		Example: `  privagg init job.yaml --from data/orders.csv
  privagg init job.yaml --from events.parquet --unit customer_id --consent consent_marketing
  privagg init adult.yaml --from adult.csv --unit row --consent-waived "public census extract"`,
		Short: "Write a starter job from a data file's columns",
		Long: `Write a starter job file from the columns of FILE (CSV with a header,
Parquet or newline-delimited JSON; only the schema is read, no values).
A CSV file's delimiter is detected and written (input.csv.delimiter) when it
is not a comma. Columns that look like direct identifiers (email, phone, ip,
name, ssn, address) are listed under identifiers; the consent column is the
first whose name contains "consent" (or --consent), unless --consent-waived
gives the reason the data needs no consent filter; the privacy unit is a
column such as user_id or customer_id (or --unit COLUMN, or --unit row: each
row is its own unit); one output counts the distinct units per value of the
first other text column. A CSV line the reader refuses is reported by line
and kind (e.g. "line 3: 4 fields, the header has 3"), never by value.
Review the file, then run privagg validate and privagg plan. An existing
JOB.yaml is never overwritten (exit 2).`,
		Args: exactArgs("JOB.yaml"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if from == "" {
				return usageError{errors.New("init: missing --from FILE (the data file whose columns the job uses)")}
			}
			out := args[0]
			if _, err := os.Lstat(out); err == nil {
				return usageError{fmt.Errorf("init: %s exists; it is never overwritten: choose another name or remove it", out)}
			}
			if consent != "" && waived != "" {
				return usageError{errors.New("init: --consent and --consent-waived exclude each other: a job filters by a consent column or waives the filter")}
			}
			schema, err := duckdb.DescribeFile(cmd.Context(), from, "")
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(filepath.Dir(absPath(out)), absPath(from))
			if err != nil {
				rel = absPath(from)
			}
			s, err := guessStarter(schema.Columns, unit, consent, waived)
			if err != nil {
				return usageError{fmt.Errorf("init: %s: %w", from, err)}
			}
			if schema.Delimiter != "" && schema.Delimiter != "," {
				s.delimiter = schema.Delimiter
			}
			text := s.yaml(filepath.ToSlash(rel))
			// The starter must load as validate loads it (the waiver's
			// rules, among others, live in the job package).
			if _, err := job.LoadJobBytes([]byte(text), filepath.Dir(absPath(out))); err != nil {
				return usageError{fmt.Errorf("init: the starter job would not be valid: %w", err)}
			}
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if errors.Is(err, fs.ErrExist) {
				return usageError{fmt.Errorf("init: %s exists; it is never overwritten", out)}
			}
			if err != nil {
				return err
			}
			if _, err := f.WriteString(text); err != nil {
				f.Close()
				os.Remove(out)
				return err
			}
			if err := f.Close(); err != nil {
				os.Remove(out)
				return err
			}
			_, err = fmt.Fprintf(g.stdout, "wrote %s: privacy unit %s, %s, identifiers [%s], output %s (%s by %s)\nreview it, then: privagg validate %s && privagg plan %s\n",
				out, s.unit, s.consentSummary(), strings.Join(s.identifiers, ", "), s.output, s.metric, s.groupBy, out, out)
			return err
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "data file (csv, parquet or json) whose columns the job uses")
	cmd.Flags().StringVar(&unit, "unit", "", "the privacy unit column, or row: each row is its own unit (default: guessed, e.g. user_id)")
	cmd.Flags().StringVar(&consent, "consent", "", "the consent column (default: the first whose name contains consent)")
	cmd.Flags().StringVar(&waived, "consent-waived", "", "the reason the data needs no consent filter (e.g. \"public census extract\"); writes consent: {waived: REASON}")
	return cmd
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// unitNames are the column names, compared without case and without
// separators, guessed as the privacy unit, in order of preference.
var unitNames = []string{"userid", "customerid", "personid", "memberid", "accountid", "clientid", "patientid",
	"visitorid", "subscriberid", "user", "customer"}

// keyTypes are the DuckDB types preferred for the starter output's group_by.
var keyTypes = []string{"VARCHAR", "BOOLEAN", "DATE"}

// starter is the guessed content of a starter job.
type starter struct {
	unit, consent, waived, purpose, groupBy, output, metric string
	unitGuessed                                             bool
	delimiter                                               string // a CSV delimiter other than ","
	identifiers                                             []string
}

// guessStarter guesses a starter job from a data file's columns: unit and
// consent from the flags when given (unit may be job.RowUnit; a waiver
// replaces the consent column), else from the column names.
func guessStarter(cols []duckdb.Column, unit, consent, waived string) (*starter, error) {
	has := func(name string) bool {
		return slices.ContainsFunc(cols, func(c duckdb.Column) bool { return c.Name == name })
	}
	for flag, v := range map[string]string{"--unit": unit, "--consent": consent} {
		if v != "" && !has(v) && (flag != "--unit" || v != job.RowUnit) {
			return nil, fmt.Errorf("%s: %q is not a column of the file%s", flag, v, unitRowHint(flag))
		}
	}
	s := &starter{unit: unit, consent: consent, waived: waived, purpose: "analytics", metric: "people"}
	if s.unit == "" {
		s.unit, s.unitGuessed = guessUnit(cols), true
		if s.unit == "" {
			return nil, errors.New("cannot guess the privacy unit (no column such as user_id or customer_id): name it with --unit COLUMN, " +
				"or --unit row when each row is a different person")
		}
	}
	if s.unit == job.RowUnit {
		s.metric = "rows"
	}
	if s.consent == "" && s.waived == "" {
		for _, c := range cols {
			if strings.Contains(strings.ToLower(c.Name), "consent") {
				s.consent = c.Name
				break
			}
		}
		if s.consent == "" {
			return nil, errors.New(`no column name contains "consent": name the consent column with --consent COLUMN, ` +
				`or give the reason the data needs no consent filter with --consent-waived REASON`)
		}
	}
	if p := strings.Trim(strings.TrimPrefix(strings.ToLower(s.consent), "consent"), "_-. "); p != "" && p != strings.ToLower(s.consent) {
		s.purpose = p
	}
	var rest []duckdb.Column
	for _, c := range cols {
		switch {
		case c.Name == s.unit || c.Name == s.consent:
		case job.LooksLikeIdentifier(c.Name):
			s.identifiers = append(s.identifiers, c.Name)
		default:
			rest = append(rest, c)
		}
	}
	for _, c := range rest {
		if slices.Contains(keyTypes, c.Type) {
			s.groupBy = c.Name
			break
		}
	}
	if s.groupBy == "" && len(rest) > 0 {
		s.groupBy = rest[0].Name
	}
	if s.groupBy == "" {
		return nil, errors.New("has no column to group by besides the privacy unit, consent and identifiers")
	}
	s.output = s.metric + "_by_" + identName(s.groupBy)
	return s, nil
}

// unitRowHint points a --unit that is not a column to --unit row.
func unitRowHint(flag string) string {
	if flag != "--unit" {
		return ""
	}
	return " (--unit row makes each row its own unit)"
}

// consentSummary says how the starter job handles consent, for init's
// message.
func (s *starter) consentSummary() string {
	if s.waived != "" {
		return "consent waived"
	}
	return "consent column " + s.consent
}

func guessUnit(cols []duckdb.Column) string {
	for _, want := range unitNames {
		for _, c := range cols {
			if squash(c.Name) == want {
				return c.Name
			}
		}
	}
	return ""
}

// squash lower-cases s and drops every character but letters and digits.
func squash(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, strings.ToLower(s))
}

// identName turns a column name into a job or output name: lower-case
// letters, digits and single underscores.
func identName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else if b.Len() > 0 && !strings.HasSuffix(b.String(), "_") {
			b.WriteByte('_')
		}
	}
	out := strings.TrimRight(b.String(), "_")
	if out == "" {
		return "col"
	}
	return out
}

// quote writes s as a YAML double-quoted scalar (JSON string syntax is
// valid YAML).
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// yaml writes the starter job; input is the data file's path relative to
// the job file's folder.
func (s *starter) yaml(input string) string {
	name := identName(strings.TrimSuffix(filepath.Base(input), filepath.Ext(input)))
	ids := make([]string, len(s.identifiers))
	for i, id := range s.identifiers {
		ids[i] = quote(id)
	}
	unitNote := "the column naming a person"
	switch {
	case s.unit == job.RowUnit:
		unitNote = "each row is its own unit: a person must not have more than one row"
	case s.unitGuessed:
		unitNote += " (guessed)"
	}
	path := quote(input)
	if s.delimiter != "" {
		path += "\n  csv: {delimiter: " + quote(s.delimiter) + "}  # detected in the file"
	}
	consent := "column: " + quote(s.consent) + "  # true/false per row; a refusal excludes all of a person's rows"
	if s.waived != "" {
		consent = "waived: " + quote(s.waived) + "  # no consent filter; the reason is recorded in the ledger and every manifest"
	}
	l0 := "auto  # partitions a person counts in: estimated privately from the data in the run (docs/bounds.md)"
	if s.unit == job.RowUnit {
		l0 = "1  # a row is its own person and lies in one partition: nothing to estimate"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `# yaml-language-server: $schema=%s
# A starter job written by privagg init from %s: review every line, then
#   privagg validate <this file> && privagg plan <this file>
version: 1
name: %s
dataset: %s  # the budget in the ledger this job draws on
purpose: %s  # what the results are for (from the consent column's name, else analytics)
input:
  path: %s
privacy_unit: %s  # %s
identifiers: [%s]  # direct identifiers: never read, refused anywhere in the job
consent:
  %s
privacy:
  epsilon: 1
  delta: 1e-6
  noise: laplace
  k: 10  # every released row stands on at least k people
  max_partitions_per_unit: %s
outputs:
  - name: %s
    group_by: [%s]  # keys come from the data through DP partition selection
    metrics:
      - {name: %s, type: count_units}
output:
  dir: out
  format: csv
ledger: privagg-ledger.duckdb
`, job.SchemaID, quote(input), name, name, quote(s.purpose), path, quote(s.unit), unitNote, strings.Join(ids, ", "),
		consent, l0, s.output, quote(s.groupBy), s.metric)
	return b.String()
}
