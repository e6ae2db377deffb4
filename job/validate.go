package job

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	colnames "github.com/privagg/privagg/internal/names"
	"github.com/privagg/privagg/privacy"
	"github.com/privagg/privagg/transforms"
)

// Names of the job, outputs, metrics and derived columns become file, table
// and column names.
var (
	namePattern   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	envVarPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

const maxNameLen = 128

var (
	truncations = []string{"hour", "day", "week", "month"}
)

// validate checks every rule of a decoded, completed and path-resolved job.
func (c *checker) validate(job *Job) {
	ids := newNameSet(job.Identifiers)
	c.validateHeader(job)
	c.validateIdentifiers(job)
	c.validateInput(job)
	c.validateConsent(job, ids)
	c.validateColumns(job, ids)
	c.validatePrivacy(job)
	c.validateOutputs(job, ids)
	c.validateSinks(job)
	c.validatePlan(job)
}

// validatePlan builds the job's privacy plan, once every other rule holds,
// so that what validate accepts is what a run can plan: bounds that make a
// statistic or its noise overflow float64 (privacy.MaxScale) are reported
// on the metric's bound.
func (c *checker) validatePlan(job *Job) {
	if len(c.problems) > 0 {
		return
	}
	if _, err := privacy.NewPlan(job.PrivacySpec()); err != nil {
		c.problems = append(c.problems, job.planProblems(err)...)
	}
}

func (c *checker) validateHeader(job *Job) {
	switch job.Version {
	case 1:
	case 0:
		c.add("version", nil, "is required; the only version is 1")
	default:
		c.add("version", job.Version, "must be 1")
	}
	if c.checkName("name", job.Name) {
		// The name begins the default release id (Fingerprint).
		if err := privacy.ValidateReleaseID(defaultReleaseID(job.Name, "0123456789ab")); err != nil {
			c.check("name", job.Name, fmt.Errorf("begins the default release id %s-<hash>, which %w", job.Name, err))
		}
	}
	c.required("dataset", job.Dataset)
	c.required("purpose", job.Purpose)
	c.required("privacy_unit", job.PrivacyUnit)
}

func (c *checker) validateIdentifiers(job *Job) {
	seen := newNameSet(nil)
	for i, id := range job.Identifiers {
		key := fmt.Sprintf("identifiers[%d]", i)
		switch {
		case strings.TrimSpace(id) == "":
			c.add(key, nil, "must not be empty")
		case seen.has(id):
			c.add(key, colnames.Quote(id), "is listed twice")
		}
		seen.add(id)
	}
	if job.PrivacyUnit != "" && job.PrivacyUnit != RowUnit && newNameSet(job.Identifiers).has(job.PrivacyUnit) {
		c.add("privacy_unit", colnames.Quote(job.PrivacyUnit), "is listed in identifiers, which are never read; "+
			"a privacy unit may be an identifier-like id, but then remove it from identifiers "+
			"(the unit is read only to bound each person's contribution and is never released)")
	}
}

func (c *checker) validateInput(job *Job) {
	in := job.Input
	if c.required("input.path", in.Path) {
		switch {
		case in.Format == "":
			c.add("input.format", nil, "is required: the extension of input.path does not tell (csv, parquet or json)")
		case !in.Format.Valid():
			c.add("input.format", in.Format, "must be one of %s", oneOf(InputFormats))
		}
	}
	switch d := in.CSV.Delimiter; {
	case utf8.RuneCountInString(d) != 1:
		c.add("input.csv.delimiter", fmt.Sprintf("%q", d), "must be exactly one character")
	case d == "\n" || d == "\r" || d == `"`:
		c.add("input.csv.delimiter", fmt.Sprintf("%q", d), "must not be a line break or the quote character")
	}
	if f := in.MaxRejectFraction; !(f >= 0 && f <= 1) {
		c.add("input.max_reject_fraction", f, "must be in [0, 1]")
	}
}

func (c *checker) validateConsent(job *Job, ids nameSet) {
	cs := job.Consent
	waived := cs.Waived != "" || present(c.tree, "consent", "waived")
	set := 0
	for _, b := range []bool{cs.Column != "", cs.Table != nil, waived} {
		if b {
			set++
		}
	}
	switch {
	case set == 0:
		c.add("consent", nil, "is required: set column (a consent column of the events), table (a consent file) "+
			"or waived (the reason this data needs no consent filter)")
	case set > 1:
		c.add("consent", nil, "must set exactly one of column, table or waived")
	}
	if cs.Column != "" && ids.has(cs.Column) {
		c.add("consent.column", colnames.Quote(cs.Column), "is listed in identifiers, which are never read")
	}
	if waived {
		switch r := cs.Waived; {
		case strings.TrimSpace(r) == "":
			c.add("consent.waived", nil, "must give the reason this data needs no consent filter (e.g. public data, consent applied upstream)")
		case strings.ContainsAny(r, "\r\n") || !utf8.ValidString(r):
			c.add("consent.waived", nil, "must be one line of text")
		case utf8.RuneCountInString(r) > MaxWaiverLen:
			c.add("consent.waived", nil, "must be at most %d characters", MaxWaiverLen)
		}
	}
	if t := cs.Table; t != nil {
		c.required("consent.table.path", t.Path)
		c.required("consent.table.unit", t.Unit)
		c.required("consent.table.purpose", t.Purpose)
		c.required("consent.table.granted", t.Granted)
		c.required("consent.table.at", t.At)
		if job.PrivacyUnit == RowUnit {
			c.add("consent.table", nil, "needs privacy_unit to be a column, not %q: consent records are joined on the unit", RowUnit)
		}
	}
	switch job.PrivacyUnitCase {
	case "keep", "fold":
	default:
		c.add("privacy_unit_case", job.PrivacyUnitCase, "must be keep (ids compare as written, after trimming white space) or fold (also ignoring case)")
	}
}

// MaxWaiverLen is the longest consent.waived reason, in characters.
const MaxWaiverLen = 500

func (c *checker) validateColumns(job *Job, ids nameSet) {
	raw := job.rawColumnRefs()
	for _, name := range sortedKeys(job.Columns) {
		col := job.Columns[name]
		key := "columns." + name
		c.checkName(key, name)
		switch {
		case ids.has(name):
			c.add(key, name, "is listed in identifiers: a derived column needs a name of its own")
		case strings.EqualFold(col.From, name):
			c.add(key, name, "is also the name of its source column: give the derived column a name of its own")
		case raw.has(name):
			c.add(key, name, "is also an input column this job reads: give the derived column a name of its own "+
				"(group_by and metric columns would otherwise be ambiguous)")
		}
		if c.required(key+".from", col.From) {
			switch {
			case ids.has(col.From):
				c.add(key+".from", colnames.Quote(col.From), "is listed in identifiers, which are never read")
			case job.isDerived(col.From) && !strings.EqualFold(col.From, name):
				c.add(key+".from", colnames.Quote(col.From), "is a derived column: from must name an input column")
			}
		}
		kinds := 0
		if len(col.Bins) > 0 || present(c.tree, "columns", name, "bins") {
			kinds++
			c.checkBins(key+".bins", col.Bins)
		}
		if col.Truncate != "" {
			kinds++
			if !slices.Contains(truncations, col.Truncate) {
				c.add(key+".truncate", col.Truncate, "must be one of hour, day, week, month")
			}
		}
		if col.Part != "" {
			kinds++
			if !slices.Contains(transforms.Parts, col.Part) {
				c.add(key+".part", col.Part, "must be one of %s", strings.Join(transforms.Parts, ", "))
			}
		}
		c.checkTimeFormat(key, name, col)
		if col.Prefix != 0 || present(c.tree, "columns", name, "prefix") {
			kinds++
			if col.Prefix < 1 {
				c.add(key+".prefix", col.Prefix, "must be >= 1")
			}
		}
		if col.Map != nil {
			kinds++
			c.required(key+".map.file", col.Map.File)
			if col.Map.Default == "" {
				c.add(key+".map.default", nil, "must not be empty (leave it out for %q)", DefaultMapLabel)
			}
		}
		if kinds != 1 && !c.failed[key] {
			c.add(key, nil, "must set exactly one of bins, truncate, part, prefix or map (has %d)", kinds)
		}
	}
}

// checkTimeFormat checks the format of derived column name (at key): a
// strptime format that transforms.NewTimeFormat accepts, for truncate and
// part only.
func (c *checker) checkTimeFormat(key, name string, col DerivedColumn) {
	if col.Format == "" && !present(c.tree, "columns", name, "format") {
		return
	}
	if col.Truncate == "" && col.Part == "" {
		c.add(key+".format", fmt.Sprintf("%q", col.Format), "is only for truncate and part (it says how text times are written)")
		return
	}
	if _, err := transforms.NewTimeFormat(col.Format); err != nil {
		c.add(key+".format", fmt.Sprintf("%q", col.Format), "%s", err.Error())
	}
}

func (c *checker) checkBins(key string, bins []float64) {
	if len(bins) == 0 {
		c.add(key, nil, "must list at least one edge")
		return
	}
	for i, b := range bins {
		switch {
		case math.IsNaN(b) || math.IsInf(b, 0):
			c.add(fmt.Sprintf("%s[%d]", key, i), b, "must be finite")
		case i > 0 && !(b > bins[i-1]):
			c.add(fmt.Sprintf("%s[%d]", key, i), b, "must be greater than the edge before it (%v): edges are strictly ascending", bins[i-1])
		}
	}
}

func (c *checker) validatePrivacy(job *Job) {
	p := job.Privacy
	if !(p.Epsilon > 0) || math.IsInf(p.Epsilon, 0) {
		c.add("privacy.epsilon", p.Epsilon, "must be > 0 and finite")
	}
	if !(p.Delta >= 0 && p.Delta < 1) {
		c.add("privacy.delta", p.Delta, "must be in [0, 1)")
	}
	if !p.Noise.Valid() {
		c.add("privacy.noise", p.Noise, "must be laplace or gaussian")
	} else if p.Noise == privacy.Gaussian && p.Delta == 0 {
		c.add("privacy.delta", p.Delta, "must be > 0 with gaussian noise")
	}
	if p.K < 1 {
		c.add("privacy.k", p.K, "must be >= 1")
	}
	if p.MaxPartitionsPerUnit < 1 {
		c.add("privacy.max_partitions_per_unit", p.MaxPartitionsPerUnit, "must be >= 1")
	}
	if present(c.tree, "privacy", "bounds_share") || p.BoundsShare != 0 {
		c.check("privacy.bounds_share", p.BoundsShare, privacy.CheckBoundsShare(p.BoundsShare, job.HasAuto()))
	}
	if p.Threads < 0 {
		c.add("privacy.threads", p.Threads, "must be >= 0 (0 uses every core)")
	}
	if p.MemoryLimit != "" {
		c.check("privacy.memory_limit", p.MemoryLimit, CheckMemoryLimit(p.MemoryLimit))
	}
}

func (c *checker) validateOutputs(job *Job, ids nameSet) {
	if len(job.Outputs) == 0 {
		c.add("outputs", nil, "is required: list at least one output")
		return
	}
	names := map[string]int{}
	spec := job.PrivacySpec()
	for i := range job.Outputs {
		o := &job.Outputs[i]
		key := fmt.Sprintf("outputs[%d]", i)
		if c.checkName(key+".name", o.Name) {
			switch prev, dup := names[strings.ToLower(o.Name)]; {
			case dup:
				c.add(key+".name", o.Name, "is already the name of outputs[%d] (names are compared without case: they become file and table names)", prev)
			case strings.Contains(o.Name, "__"):
				c.add(key+".name", o.Name, "must not contain \"__\" (reserved for <output>__<release_id> tables)")
			}
			names[strings.ToLower(o.Name)] = i
		}
		if o.MaxPartitionsPerUnit < 1 {
			c.add(key+".max_partitions_per_unit", o.MaxPartitionsPerUnit, "must be >= 1")
		}
		c.check(key+".weight", o.Weight, privacy.CheckWeight(o.Weight))
		c.validateGroupBy(job, o, key, ids)
		switch {
		case !o.PublicKeysOnly():
			job.outputSpec(o).CheckSelection(func(field string, value any, err error) {
				c.check(key+"."+field, value, err)
			})
		case present(c.tree, "outputs", i, "selection_share"):
			c.check(key+".selection_share", o.SelectionShare, privacy.ErrSelectionSharePublic)
		case present(c.tree, "outputs", i, "selection"):
			c.check(key+".selection", o.Selection, privacy.ErrSelectionPublic)
		}
		if !o.PublicKeysOnly() && job.Privacy.Delta == 0 && job.Privacy.Noise != privacy.Gaussian {
			c.add("privacy.delta", job.Privacy.Delta, "must be > 0: %s (%s) selects its partitions from the data with DP partition selection; "+
				"or list public_partitions for every group_by column", key, o.Name)
		}
		c.validateMetrics(job, o, key, ids)
		spec.CheckConsistency(i, func(field string, value any, err error) {
			c.check(key+"."+field, value, err)
		})
	}
}

func (c *checker) validateGroupBy(job *Job, o *Output, key string, ids nameSet) {
	if len(o.GroupBy) == 0 {
		c.add(key+".group_by", nil, "is required: list at least one column")
	}
	seen := newNameSet(nil)
	for j, col := range o.GroupBy {
		k := fmt.Sprintf("%s.group_by[%d]", key, j)
		switch {
		case strings.TrimSpace(col) == "":
			c.add(k, nil, "must not be empty")
		case seen.has(col):
			c.add(k, colnames.Quote(col), "is listed twice")
		default:
			c.checkGroupKeySource(job, k, col, ids)
		}
		seen.add(col)
	}
	for _, col := range sortedKeys(o.PublicPartitions) {
		pp := o.PublicPartitions[col]
		k := key + ".public_partitions." + col
		if !slices.Contains(o.GroupBy, col) {
			c.add(k, nil, "names no column of this output's group_by")
		}
		if pp.File == "" {
			if len(pp.Values) == 0 {
				c.add(k, nil, "must list at least one value")
			}
			vals := map[string]bool{}
			for v, val := range pp.Values {
				if vals[val] {
					c.add(fmt.Sprintf("%s[%d]", k, v), fmt.Sprintf("%q", val), "is listed twice")
				}
				vals[val] = true
			}
			c.checkPartLabels(job, k, col, pp.Values)
		}
	}
}

// checkPartLabels refuses public values (at key k) of group_by column col
// that a part column can never take ("9" for hour_of_day, whose labels are
// "00".."23"): such a partition would always be released empty.
func (c *checker) checkPartLabels(job *Job, k, col string, values []string) {
	d, ok := job.Columns[col]
	if !ok || d.Part == "" {
		return
	}
	labels := transforms.PartLabels(d.Part)
	if labels == nil {
		return // reported at columns.<col>.part
	}
	for v, val := range values {
		if !slices.Contains(labels, val) {
			c.add(fmt.Sprintf("%s[%d]", k, v), fmt.Sprintf("%q", val), "is not a value of %s (part: %s takes %q .. %q)",
				col, d.Part, labels[0], labels[len(labels)-1])
		}
	}
}

// checkGroupKeySource refuses a group_by column that is the privacy unit or
// an identifier, or is derived from the privacy unit: a key made from a
// person's id (a prefix of user_id, bins of an id) singles people out,
// whatever the transform. (A column derived from an identifier is refused
// at its columns.<name>.from.) Names compare without case, as DuckDB
// compares them.
func (c *checker) checkGroupKeySource(job *Job, k, col string, ids nameSet) {
	unit := func(name string) bool { return job.PrivacyUnit != RowUnit && strings.EqualFold(name, job.PrivacyUnit) }
	switch {
	case ids.has(col):
		c.add(k, colnames.Quote(col), "is listed in identifiers, which can never be released")
	case unit(col):
		c.add(k, colnames.Quote(col), "is the privacy unit: grouping by it would release one row per person")
	default:
		for name, d := range job.Columns {
			if !strings.EqualFold(name, col) {
				continue
			}
			if unit(d.From) {
				c.add(k, colnames.Quote(col), "is derived from the privacy unit %s: a key made from a person's id singles people out", colnames.Quote(job.PrivacyUnit))
			}
		}
	}
}

func (c *checker) validateMetrics(job *Job, o *Output, key string, ids nameSet) {
	if len(o.Metrics) == 0 {
		c.add(key+".metrics", nil, "is required: list at least one metric")
		return
	}
	// Every column of the released table, lower-cased (DuckDB, CSV readers and
	// analysts compare column names without case), and who made it.
	columns := map[string]string{}
	for _, g := range o.GroupBy {
		columns[strings.ToLower(g)] = "group_by column " + g
	}
	for j := range o.Metrics {
		m := &o.Metrics[j]
		k := fmt.Sprintf("%s.metrics[%d]", key, j)
		nameOK := c.checkName(k+".name", m.Name)
		if nameOK && strings.HasPrefix(m.Name, "__") {
			c.add(k+".name", m.Name, "must not start with \"__\" (reserved for internal columns)")
			nameOK = false
		}
		kind, ok := privacy.LookupMetric(privacy.MetricKind(m.Type))
		if !ok {
			kinds := privacy.MetricKinds()
			names := make([]string, len(kinds))
			for i, k := range kinds {
				names[i] = string(k)
			}
			if m.Type == "" {
				c.add(k+".type", nil, "is required: one of %s", strings.Join(names, ", "))
			} else {
				c.add(k+".type", m.Type, "must be one of %s", strings.Join(names, ", "))
			}
			continue
		}
		c.checkMetricFields(job, m, kind, k, ids)
		c.check(k+".weight", m.Weight, privacy.CheckWeight(m.Weight))
		if !nameOK {
			continue
		}
		// The released columns are the kind's (privacy.Metric.Columns), so
		// what is reserved here is what a release makes.
		cols := kind.Columns(m.spec())
		for _, col := range cols {
			if prev, dup := columns[strings.ToLower(col.Name)]; dup {
				c.add(k+".name", m.Name, "makes column %s, which collides with %s", col.Name, prev)
				break
			}
		}
		for _, col := range cols {
			columns[strings.ToLower(col.Name)] = fmt.Sprintf("column %s of metrics[%d]", col.Name, j)
		}
	}
}

// checkMetricFields applies the rules of the fields kind reads (its
// privacy.Fields) and refuses the fields it does not read, then adds the
// kind's own rules (privacy.Metric.Check).
func (c *checker) checkMetricFields(job *Job, m *Metric, kind privacy.Metric, k string, ids nameSet) {
	f := kind.Fields()
	users := func(uses func(privacy.Fields) bool) string {
		return privacy.KindList(privacy.MetricKindsWith(uses))
	}
	if f.MaxPerUnit {
		if m.MaxPerUnit < 1 {
			c.add(k+".max_per_unit", m.MaxPerUnit, "must be >= 1")
		}
	} else if m.MaxPerUnit != 0 {
		c.add(k+".max_per_unit", m.MaxPerUnit, "applies to %s only", users(func(f privacy.Fields) bool { return f.MaxPerUnit }))
	}
	if !f.Measure {
		if m.Column != "" {
			c.add(k+".column", colnames.Quote(m.Column), "is not used by %s: remove it", m.Type)
		}
		if m.Min != nil || m.Max != nil {
			c.add(k, nil, "min and max apply to %s only", users(func(f privacy.Fields) bool { return f.Measure }))
		}
	} else {
		if c.required(k+".column", m.Column) {
			switch {
			case ids.has(m.Column):
				c.add(k+".column", colnames.Quote(m.Column), "is listed in identifiers, which are never read")
			case job.isDerived(m.Column):
				c.add(k+".column", colnames.Quote(m.Column), "is a derived column: a metric needs a numeric input column")
			}
		}
		switch {
		case m.Min == nil:
			c.add(k+".min", nil, "is required for %s", m.Type)
		case math.IsNaN(*m.Min) || math.IsInf(*m.Min, 0):
			c.add(k+".min", *m.Min, "must be finite")
		}
		switch {
		case m.Max == nil:
			c.add(k+".max", nil, "is required for %s", m.Type)
		case math.IsNaN(*m.Max) || math.IsInf(*m.Max, 0):
			c.add(k+".max", *m.Max, "must be finite")
		case m.Min != nil && !math.IsNaN(*m.Min) && !(*m.Max > *m.Min):
			c.add(k+".max", *m.Max, "must be > min (%v)", *m.Min)
		}
	}
	if !f.Ranks && len(m.Ranks) > 0 {
		c.add(k+".ranks", nil, "apply to %s only", users(func(f privacy.Fields) bool { return f.Ranks }))
	}
	for _, p := range kind.Check(m.spec()) {
		key := k
		if p.Field != "" {
			key += "." + p.Field
		}
		c.add(key, p.Value, p.Rule)
	}
}

func (c *checker) validateSinks(job *Job) {
	if c.required("output.dir", job.Output.Dir) {
		c.check("ledger", job.Ledger, job.CheckPath(PathLedger, job.Ledger))
		c.check("privacy.temp_dir", job.Privacy.TempDir, job.CheckPath(PathTempDir, job.Privacy.TempDir))
		if job.Staging != nil {
			c.check("staging.path", job.Staging.Path, job.CheckPath(PathStaging, job.Staging.Path))
		}
		keys, paths := job.inputPaths()
		for i, key := range keys {
			c.check(key, paths[i], job.CheckPath(PathInput, paths[i]))
		}
	}
	if !job.Output.Format.Valid() {
		c.add("output.format", job.Output.Format, "must be one of %s", oneOf(OutputFormats))
	}
	if !job.Output.Round.Valid() {
		c.add("output.round", job.Output.Round, "must be one of %s", oneOf(privacy.Roundings))
	}
	c.required("ledger", job.Ledger)
	if s := job.Staging; s != nil {
		c.required("staging.path", s.Path)
		if c.required("staging.pseudonym_key_env", s.PseudonymKeyEnv) && !envVarPattern.MatchString(s.PseudonymKeyEnv) {
			c.add("staging.pseudonym_key_env", s.PseudonymKeyEnv, "must be the name of an environment variable (the key itself never goes in the job file)")
		}
		c.required("staging.key_version", s.KeyVersion)
		if s.Path != "" && s.Path == job.Input.Path {
			c.add("staging.path", s.Path, "must not be the input file")
		}
	}
}

// check adds the problem err states about value, if err is not nil.
func (c *checker) check(key string, value any, err error) {
	if err == nil || c.decodeFailed(key) {
		return
	}
	c.problems = append(c.problems, Problem{Key: key, Value: value, Rule: err.Error(), Err: err})
}

// required adds a problem when s is empty or blank and reports whether s is set.
func (c *checker) required(key, s string) bool {
	if strings.TrimSpace(s) == "" {
		c.add(key, nil, "is required")
		return false
	}
	return true
}

// checkName checks a name that becomes a file, table or column name.
func (c *checker) checkName(key, name string) bool {
	switch {
	case name == "":
		c.add(key, nil, "is required")
	case len(name) > maxNameLen:
		c.add(key, nil, "must be at most %d characters", maxNameLen)
	case !namePattern.MatchString(name):
		c.add(key, name, "must match %s (it becomes a file, table or column name)", namePattern)
	default:
		return true
	}
	return false
}

// nameSet holds column names compared without case, as DuckDB compares them.
type nameSet map[string]bool

func newNameSet(names []string) nameSet {
	s := nameSet{}
	for _, n := range names {
		s.add(n)
	}
	return s
}

func (s nameSet) add(n string)      { s[strings.ToLower(n)] = true }
func (s nameSet) has(n string) bool { return s[strings.ToLower(n)] }
