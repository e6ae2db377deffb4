package duckdb

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/privagg/privagg/engine"
	colnames "github.com/privagg/privagg/internal/names"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/transforms"
)

// The input stage: the readers, the per-row views and consent.
//
//	__src     the reader, projecting Job.InputColumns(), with the canonical
//	          person id __unit (transforms.CanonicalUnitSQL, or the id as
//	          read when every id is canonical already) and the consent
//	          column's value __cv (TRUE, FALSE or NULL when malformed)
//	__events  __unit, group-by keys (raw or derived) in their native types,
//	          measures as DOUBLE (__v<j>), and the row flags __bad and
//	          __consent (and __canon, checksIds)
//	__clean   rows that are neither malformed nor without consent
//
// Person ids are read as text: the CSV and JSON readers type the privacy
// unit column (and the consent column) VARCHAR, so a 20-digit id is never a
// DOUBLE and "007" never the number 7. Parquet columns keep their type; an
// integer unit column stays an integer (its decimal text is its canonical
// form, so two values are one person exactly when they are equal), which
// keeps the bounding window's integer fast path (see unitKey).
//
// Consent is decided per person. With a consent column, a person with any
// row whose value is a refusal or malformed is excluded with all of their
// rows: the bounding window decides it, as the conjunction of the values
// over the person's rows (foldsConsent), or, when another reader needs the
// consented rows (__clean), a table of the people who refused
// (__consent_refused). With a consent table, a person is included when
// they have no malformed record for the purpose and their latest record
// grants it, a refusal winning a tie (__consent_granted).

const (
	colCV          = "__cv"              // the consent column's value: TRUE, FALSE or NULL (malformed)
	colCanon       = "__canon"           // the row's person id is canonical as read (checksIds)
	tabConsent     = "__consent_granted" // canonical ids whose consent table records grant the purpose
	tabConsentRecs = "__consent_records" // the consent table's records for the purpose
	tabRefused     = "__consent_refused" // canonical ids with a refusing or malformed consent column value
	tabInput       = "__input"           // a CSV or JSON input's columns, read once (materializeSQL)
	typeVarchar    = "VARCHAR"
)

// inputPlan is what prepareInput learns about the input.
type inputPlan struct {
	// files is how many files input.path matched.
	files int
	// names maps lower-cased column names to the input's spelling, once the
	// input has been described.
	names Spelling
	// refusals is set when some person refused (or has a malformed consent
	// value) in the consent column.
	refusals bool
	// idsCanonical is set when every text person id of the input is already
	// in its canonical form (idsCanonicalSQL, asked once the first
	// dictionary exists): __src then passes the ids through as read.
	idsCanonical bool
	// materialized is set once a CSV or JSON input is copied into tabInput.
	materialized bool
	// keyCasts are, for a JSON input, the raw group-by columns (input
	// spelling) read as text and cast to the type DuckDB sampled for them
	// (jsonKeyCasts).
	keyCasts map[string]string
	// consentNames maps the consent table's lower-cased column names to its
	// spelling, once described.
	consentNames Spelling
}

// describeSQL lists the input's columns and the types DuckDB's reader gives
// them on its own.
func (p *queryPlan) describeSQL() string {
	return fmt.Sprintf("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM %s)", p.readerSQL())
}

// setColumns records the described columns (name -> type). The CSV and JSON
// readers read the text columns (textColumns) as VARCHAR from now on, and
// the JSON reader also the value columns (valueColumns).
//
// DuckDB's JSON reader types a column from a sample of the first records;
// with ignore_errors a later value that does not fit that type (a word in a
// numeric column) becomes NULL without a trace, where the malformed rules
// must see it. Read as text, every value reaches the rules, which parse it
// (measureSQL's TRY_CAST, a derived column's own parsing). The CSV reader
// needs no such help: it rejects a line whose value does not cast
// (rejects.go), and Parquet columns are typed by the file.
func (p *queryPlan) setColumns(types map[string]string) {
	p.types = types
	p.in.names = Spelling{}
	for n := range types {
		p.in.names[strings.ToLower(n)] = n
	}
	var text []string
	switch p.job.Input.Format {
	case job.InputCSV:
		text = p.textColumns()
	case job.InputJSON:
		text = append(p.textColumns(), p.valueColumns()...)
		p.in.keyCasts = p.jsonKeyCasts(text)
		for n := range p.in.keyCasts {
			text = append(text, n)
		}
	}
	for _, c := range text {
		p.types[c] = typeVarchar
	}
}

// valueColumns are the input columns the malformed rules judge by parsing
// their values: the measures and the sources of derived keys, in the
// input's spelling; only those the input has.
func (p *queryPlan) valueColumns() []string {
	var out []string
	add := func(c string) {
		if n, ok := p.in.names[strings.ToLower(c)]; ok && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	for _, m := range p.measures {
		add(m)
	}
	for _, k := range p.keyColumns() {
		if d := p.derived[k]; d != nil {
			add(d.Source())
		}
	}
	return out
}

// column is the input's spelling of column c (names compare without case).
func (p *queryPlan) column(c string) string { return p.in.names.Of(c) }

// textColumns are the input columns read as text whatever they hold
// (job.TextColumns: the privacy unit, the consent column, the sources of
// derived columns with a time format), in the input's spelling; only those
// the input has.
func (p *queryPlan) textColumns() []string {
	var out []string
	for _, c := range p.job.TextColumns() {
		if n, ok := p.in.names[strings.ToLower(c)]; ok {
			out = append(out, n)
		}
	}
	return out
}

// unitSQL is the canonical person id of the privacy unit column expr: the
// column itself for an integer column, transforms.CanonicalUnitSQL of its
// text otherwise, or the text itself when every id of the input is known to
// be canonical already (idsCanonical).
func (p *queryPlan) unitSQL(expr string) string {
	typ := p.types[p.column(p.job.PrivacyUnit)]
	if integerUnits[typ] {
		return expr
	}
	if typ != typeVarchar {
		expr = "CAST(" + expr + " AS VARCHAR)"
	}
	if p.in.idsCanonical {
		return expr
	}
	return transforms.CanonicalUnitSQL(expr, p.job.FoldUnitCase())
}

// checksIds reports whether __events carries __canon, the test that the
// row's person id is canonical already (transforms.CanonicalUnitSQL of it is
// the id itself): for a text unit, until the first dictionary has answered
// it for every row (idsCanonicalSQL).
func (p *queryPlan) checksIds() bool { return p.textUnit() && !p.in.idsCanonical }

// canonSQL is __events' __canon column over __src (checksIds).
func (p *queryPlan) canonSQL() string {
	id := q(p.column(p.job.PrivacyUnit))
	if p.types[p.column(p.job.PrivacyUnit)] != typeVarchar {
		id = "CAST(" + id + " AS VARCHAR)"
	}
	return fmt.Sprintf("%s IS NOT DISTINCT FROM %s", colUnit, id)
}

// idsCanonicalSQL asks the counted output's dictionary whether every text
// person id of the input is already canonical (dictSQL counts it while it
// reads the input anyway). Most inputs hold no id with surrounding white
// space (or upper case, when case is folded), and then every later scan of
// the input (the bounding windows, the other dictionaries, phase 2) reads
// the ids as they are instead of canonicalizing each row again
// (readIdsAsIs).
func idsCanonicalSQL() string {
	return fmt.Sprintf("SELECT coalesce(bool_and(%s), true) FROM %s", colCanon, dictTable(0))
}

// unitText is __unit as text, the canonical id the consent table join and
// staging's pseudonyms use.
func (p *queryPlan) unitText() string {
	if !p.textUnit() {
		return "CAST(" + colUnit + " AS VARCHAR)"
	}
	return colUnit
}

// textUnit reports whether __unit is text (so a blank id is ”).
func (p *queryPlan) textUnit() bool {
	return p.job.PrivacyUnit != job.RowUnit && !integerUnits[p.types[p.column(p.job.PrivacyUnit)]]
}

// materializeSQL copies the columns a CSV or JSON input's rows are read for
// (Job.InputColumns) into tabInput, or is "" for Parquet.
//
// A run scans the input several times (each output's dictionary and
// bounding window, phase 2 of a two-phase output, staging, bound estimates).
// DuckDB reads Parquet by column, with projections and filters pushed into
// the reader, so each scan reads little; CSV and JSON are parsed whole on
// every scan, which cost 0.4 to 0.5 s per scan of 1M CSV rows. Read once
// into DuckDB's own columnar storage, the later scans cost a fraction of
// that. DuckDB spills the table to its temp directory beyond the memory
// limit. The CSV reader records the lines it rejects during this one read.
func (p *queryPlan) materializeSQL() string {
	if p.job.Input.Format == job.InputParquet {
		return ""
	}
	var cols []string
	for _, c := range p.job.InputColumns() {
		cols = append(cols, q(p.column(c)))
	}
	return fmt.Sprintf("CREATE OR REPLACE TEMP TABLE %s AS SELECT %s FROM %s", tabInput, strings.Join(cols, ", "), p.readerSQL())
}

// sourceRel is the relation __src and the id check read: the input's reader,
// or its copy once materialized.
func (p *queryPlan) sourceRel() string {
	if p.in.materialized {
		return tabInput
	}
	return p.readerSQL()
}

// sourceSQL creates __src.
func (p *queryPlan) sourceSQL() string {
	return fmt.Sprintf("CREATE OR REPLACE TEMP VIEW %s AS SELECT %s FROM %s", viewSource, strings.Join(p.sourceColumns(), ", "), p.sourceRel())
}

// sourceColumns is __src's select list over the reader.
func (p *queryPlan) sourceColumns() []string {
	j := p.job
	var sel []string
	if j.PrivacyUnit != job.RowUnit {
		sel = append(sel, fmt.Sprintf("%s AS %s", p.unitSQL(q(p.column(j.PrivacyUnit))), colUnit))
	}
	if c := j.Consent.Column; c != "" {
		sel = append(sel, fmt.Sprintf("%s AS %s", transforms.ConsentValueSQL(q(p.column(c)), p.types[p.column(c)]), colCV))
	}
	for _, c := range j.InputColumns() {
		sel = append(sel, q(c))
	}
	return sel
}

// consentPerPerson reports whether the consent column decides per person:
// there is one, and the privacy unit is not the row (with privacy_unit: row
// each row decides for itself).
func (p *queryPlan) consentPerPerson() bool {
	return p.job.Consent.Column != "" && p.job.PrivacyUnit != job.RowUnit
}

// foldsConsent reports whether the bounding windows decide consent per
// person (pairsSQL) instead of reading __clean: the consent column decides
// per person and no other reader needs the consented rows (needClean). The
// run then scans the input for consent no more than it scans it anyway;
// otherwise one scan builds the table of people who refused
// (refusedSQL), which __clean reads.
func (p *queryPlan) foldsConsent() bool { return p.consentPerPerson() && !p.needClean }

// usableUnitSQL holds for a row whose person id is present (not blank, for
// a text id): the rows whose consent values count for their person.
func (p *queryPlan) usableUnitSQL() string {
	usable := colUnit + " IS NOT NULL"
	if p.textUnit() {
		usable += " AND " + colUnit + " <> ''"
	}
	return usable
}

// refusedSQL materializes the people with a refusing or malformed value in
// the consent column (people with a usable id). "" when consent is not
// decided per person by the consent column, or when the bounding windows
// decide it (foldsConsent).
func (p *queryPlan) refusedSQL() string {
	if !p.consentPerPerson() || p.foldsConsent() {
		return ""
	}
	return fmt.Sprintf("CREATE OR REPLACE TEMP TABLE %s AS SELECT DISTINCT %s AS u FROM %s WHERE %s AND %s IS DISTINCT FROM true",
		tabRefused, colUnit, viewSource, p.usableUnitSQL(), colCV)
}

// refusedCountSQL counts the people of __consent_refused.
func refusedCountSQL() string { return "SELECT count(*)::BIGINT FROM " + tabRefused }

// viewsSQL creates __events and __clean over __src (and, for consent, the
// tables of consentSQL and refusedSQL). Each statement is returned
// separately. When the bounding windows decide consent (foldsConsent),
// __consent is the row's own consent value (a row whose value grants consent
// may belong to a person who refused elsewhere), and __clean decides per
// person with a window of its own; the run itself never reads it then.
func (p *queryPlan) viewsSQL() []string {
	j := p.job
	var sel []string
	if j.PrivacyUnit == job.RowUnit {
		sel = append(sel, fmt.Sprintf("row_number() OVER () AS %s", colUnit))
	} else {
		sel = append(sel, colUnit)
	}
	for _, k := range p.keyColumns() {
		if expr, ok := p.keyExpr(k); ok {
			sel = append(sel, fmt.Sprintf("%s AS %s", expr, q(k)))
		} else {
			sel = append(sel, q(k)) // raw: grouped in its own type, formatted per partition
		}
	}
	for i, m := range p.measures {
		sel = append(sel, fmt.Sprintf("%s AS __v%d", p.measureSQL(m), i))
	}
	if p.checksIds() {
		sel = append(sel, p.canonSQL()+" AS "+colCanon)
	}
	sel = append(sel, badSQL(p.malformedRules())+" AS "+colBad)
	switch {
	case j.Consent.Column != "" && p.in.refusals:
		sel = append(sel, fmt.Sprintf("coalesce(%s, false) AND NOT coalesce(%s IN (SELECT u FROM %s), false) AS %s", colCV, colUnit, tabRefused, colConsent))
	case j.Consent.Column != "":
		sel = append(sel, fmt.Sprintf("coalesce(%s, false) AS %s", colCV, colConsent))
	case j.Consent.Table != nil:
		sel = append(sel, fmt.Sprintf("coalesce(%s IN (SELECT u FROM %s), false) AS %s", p.unitText(), tabConsent, colConsent))
	default: // consent.waived
		sel = append(sel, "true AS "+colConsent)
	}
	stmts := []string{fmt.Sprintf("CREATE OR REPLACE TEMP VIEW %s AS SELECT %s FROM %s", viewEvents, strings.Join(sel, ",\n  "), viewSource)}
	if p.foldsConsent() {
		return append(stmts, fmt.Sprintf("CREATE OR REPLACE TEMP VIEW %s AS SELECT * EXCLUDE (__ok) FROM (SELECT *, bool_and(%s) OVER (PARTITION BY %s) AS __ok FROM %s WHERE %s) WHERE __ok AND NOT %s",
			viewClean, colConsent, colUnit, viewEvents, p.usableUnitSQL(), colBad))
	}
	return append(stmts, fmt.Sprintf("CREATE OR REPLACE TEMP VIEW %s AS SELECT * FROM %s WHERE NOT %s AND %s", viewClean, viewEvents, colBad, colConsent))
}

// malformedRule is one rule of malformed rows: the input column it judges
// (as the job names it), the rule as the run report states it, and its
// test, an SQL condition over __src's columns that holds when the row
// breaks the rule (NULL counts as kept).
type malformedRule struct{ column, rule, sql string }

// malformedRules are the rules every row of __src must keep: a row that
// breaks any of them is malformed (__bad, badSQL), and the rejects listing
// (rejectsSQL) names the ones it broke. This is the only list of them.
//
//   - a derived key whose source value is present but gives no value (a
//     timestamp that does not parse, a non-number to bin) is malformed,
//     never a NULL key;
//   - the privacy unit is missing (or blank, for a text id);
//   - a metric column's value is present but not a finite number
//     (unparsable, NaN, ±Inf);
//   - the consent column's value is not an accepted spelling.
func (p *queryPlan) malformedRules() []malformedRule {
	j := p.job
	var rules []malformedRule
	for _, k := range p.keyColumns() {
		expr, ok := p.keyExpr(k)
		if !ok {
			continue
		}
		src, rule := k, ""
		if d := p.derived[k]; d != nil {
			src, rule = d.Source(), engine.RuleNoValueFor(k)
		} else {
			rule = engine.RuleNotOfType(p.in.keyCasts[p.column(k)])
		}
		rules = append(rules, malformedRule{src, rule, fmt.Sprintf("(%s IS NOT NULL AND %s IS NULL)", q(src), expr)})
	}
	switch {
	case j.PrivacyUnit == job.RowUnit:
	case p.textUnit():
		rules = append(rules, malformedRule{j.PrivacyUnit, engine.RuleUnitMissing, fmt.Sprintf("coalesce(%s = '', true)", colUnit)})
	default:
		rules = append(rules, malformedRule{j.PrivacyUnit, engine.RuleIntegerUnitMissing, colUnit + " IS NULL"})
	}
	for _, m := range p.measures {
		v := p.measureSQL(m)
		rules = append(rules, malformedRule{m, engine.RuleNotFinite, fmt.Sprintf("(%s IS NOT NULL AND NOT coalesce(isfinite(%s), false))", q(m), v)})
	}
	if c := j.Consent.Column; c != "" {
		rules = append(rules, malformedRule{c, engine.RuleConsentValue, colCV + " IS NULL"})
	}
	return rules
}

// badSQL is the __bad flag of rules: true when the row breaks any.
func badSQL(rules []malformedRule) string {
	if len(rules) == 0 {
		return "false"
	}
	tests := make([]string, len(rules))
	for i, r := range rules {
		tests[i] = r.sql
	}
	return "coalesce(" + strings.Join(tests, " OR ") + ", false)"
}

// keyExpr is key column k's expression over __src's columns: a derived
// key's transform, or a raw JSON key's cast back to its sampled type
// (jsonKeyCasts); false for any other raw key, read as it is.
func (p *queryPlan) keyExpr(k string) (string, bool) {
	if typ, ok := p.in.keyCasts[p.column(k)]; ok && p.derived[k] == nil {
		return fmt.Sprintf("TRY_CAST(%s AS %s)", q(k), typ), true
	}
	switch d := p.derived[k].(type) {
	case transforms.TypedNative:
		return d.NativeSQLTyped(q(d.Source()), p.types[p.column(d.Source())]), true
	case transforms.Native:
		return d.NativeSQL(q(d.Source())), true
	case transforms.Derived:
		return d.SQL(q(d.Source())), true
	}
	return "", false
}

// measureSQL is metric column m's value as DOUBLE (NULL when it does not
// cast).
func (p *queryPlan) measureSQL(m string) string {
	if p.types[p.column(m)] == "DOUBLE" {
		return q(m)
	}
	return fmt.Sprintf("TRY_CAST(%s AS DOUBLE)", q(m))
}

// consentColumnsSQL lists the consent table's columns as its reader sees
// them.
func (p *queryPlan) consentColumnsSQL() string {
	return fmt.Sprintf("SELECT column_name FROM (DESCRIBE SELECT * FROM %s)", consentReader(p.job.Consent.Table.Path, nil, ""))
}

// consentSQL materializes the consent table's records for the job's purpose
// (tabConsentRecs: canonical id u, granted g, time t, malformed bad) and the
// people they grant it (tabConsent). names maps lower-cased column names to
// the table's spelling. A record is for the purpose when its purpose,
// trimmed, equals the job's ignoring case; a record without a purpose is
// malformed, as is one that breaks another of consentRules. A person is
// granted when none of their records is malformed and the latest grants it;
// on a tie in time a refusal wins.
func (p *queryPlan) consentSQL(names Spelling) []string {
	t := p.job.Consent.Table
	if t == nil {
		return nil
	}
	recs := fmt.Sprintf(`CREATE OR REPLACE TEMP TABLE %s AS
SELECT u, g, t, %s AS bad FROM (
  SELECT %s
  FROM %s
) WHERE %s`,
		tabConsentRecs, badSQL(p.consentRules()), strings.Join(p.consentColumns(names), ", "),
		consentReader(t.Path, names, ""), p.consentForPurpose())
	granted := fmt.Sprintf(`CREATE OR REPLACE TEMP TABLE %s AS
SELECT u FROM %s WHERE u IS NOT NULL AND u <> ''
GROUP BY u
HAVING NOT bool_or(bad) AND arg_max(g, struct_pack(t := t, r := NOT g))`, tabConsent, tabConsentRecs)
	return []string{recs, granted}
}

// consentColumns is a consent record's select list over the consent table's
// reader: the canonical id u (transforms.CanonicalUnitSQL), whether the
// purpose is missing pm, the granted value g (transforms.ConsentValueSQL:
// NULL when malformed), the time t (transforms.ConsentTimeSQL: NULL when it
// does not parse) and the trimmed purpose p. names maps lower-cased column
// names to the table's spelling.
func (p *queryPlan) consentColumns(names Spelling) []string {
	t := p.job.Consent.Table
	col := func(c string) string { return "CAST(" + q(names.Of(c)) + " AS VARCHAR)" }
	purpose := fmt.Sprintf("trim(%s, %s)", col(t.Purpose), lit(transforms.UnitSpace))
	return []string{
		transforms.CanonicalUnitSQL(col(t.Unit), p.job.FoldUnitCase()) + " AS u",
		fmt.Sprintf("coalesce(%s = '', true) AS pm", purpose),
		transforms.ConsentValueSQL(col(t.Granted), typeVarchar) + " AS g",
		transforms.ConsentTimeSQL(col(t.At)) + " AS t",
		purpose + " AS p",
	}
}

// consentForPurpose keeps the consent records that count: those for the
// job's purpose, and those without a purpose (malformed).
func (p *queryPlan) consentForPurpose() string {
	return fmt.Sprintf("pm OR lower(p) = lower(%s)", lit(p.job.Purpose))
}

// consentRules are the rules a consent record that counts must keep, over
// consentColumns: a usable id, a purpose, an accepted granted value and a
// time that parses. A record that breaks any is malformed (its bad flag),
// and the consent table's rejects listing names the ones it broke. This is
// the only list of them.
func (p *queryPlan) consentRules() []malformedRule {
	t := p.job.Consent.Table
	return []malformedRule{
		{t.Unit, engine.RuleUnitMissing, "coalesce(u = '', true)"},
		{t.Purpose, engine.RulePurposeMissing, "pm"},
		{t.Granted, engine.RuleConsentValue, "g IS NULL"},
		{t.At, engine.RuleConsentTime, "t IS NULL"},
	}
}

// consentCountsSQL counts the consent records for the purpose and the
// malformed ones.
func consentCountsSQL() string {
	return fmt.Sprintf("SELECT count(*)::BIGINT, count(*) FILTER (WHERE bad)::BIGINT FROM %s", tabConsentRecs)
}

// consentReader reads a consent table with every column as text, with the
// reader options extra (", name=value...") added. With names (the table's
// columns, lower-cased -> spelling) the JSON reader reads those keys as
// VARCHAR.
func consentReader(path string, names Spelling, extra string) string {
	switch job.ConsentFormat(path) {
	case job.InputParquet:
		return fmt.Sprintf("read_parquet(%s%s)", lit(path), extra)
	case job.InputJSON:
		opts := ""
		if names != nil {
			var cols []string
			for _, k := range slices.Sorted(maps.Keys(names)) {
				cols = append(cols, fmt.Sprintf("%s: '%s'", lit(names[k]), typeVarchar))
			}
			opts = ", columns={" + strings.Join(cols, ", ") + "}"
		}
		return fmt.Sprintf("read_json(%s, format='newline_delimited'%s%s)", lit(path), opts, extra)
	}
	return fmt.Sprintf("read_csv(%s, header=true, all_varchar=true%s)", lit(path), extra)
}

// describeInput checks that the input files exist and can be opened, reads
// their columns and types (the schema only: the reader's DESCRIBE looks at
// Parquet metadata or a CSV/JSON sample, never the whole input) and checks
// every column the job uses (checkColumns); with a consent table, also its
// columns, which it returns (lower-cased name -> the table's spelling).
// Missing or unreadable files are an *engine.InputError, missing columns a
// *job.ConfigError.
func describeInput(ctx context.Context, eng *DB, qp *queryPlan) (Spelling, error) {
	j := qp.job
	matches, err := filepath.Glob(j.Input.Path)
	if err != nil {
		return nil, &job.ConfigError{File: j.File, Problems: []job.Problem{{Key: "input.path", Value: j.Input.Path, Rule: "is not a valid glob"}}}
	}
	if len(matches) == 0 {
		return nil, &engine.InputError{Reason: fmt.Sprintf("input.path %s matches no file", j.Input.Path)}
	}
	for _, m := range matches {
		f, err := os.Open(m)
		if err != nil {
			return nil, &engine.InputError{Reason: "cannot open an input file", Err: err}
		}
		f.Close()
	}
	qp.in.files = len(matches)
	rows, err := eng.QueryRows(ctx, qp.describeSQL())
	if err != nil {
		// DuckDB's reason quotes the input: the line and kind instead.
		return nil, LocateReadError(ctx, j, &engine.InputError{Reason: "cannot read the input's columns", Err: scrub(err)})
	}
	types := map[string]string{}
	for _, r := range rows {
		name, _ := r[0].(string)
		typ, _ := r[1].(string)
		types[name] = typ
	}
	qp.setColumns(types)
	if problems := qp.checkColumns(); len(problems) > 0 {
		return nil, &job.ConfigError{File: j.File, Problems: problems}
	}
	t := j.Consent.Table
	if t == nil {
		return nil, nil
	}
	rows, err = eng.QueryRows(ctx, qp.consentColumnsSQL())
	if err != nil {
		return nil, LocateReadError(ctx, j, &engine.InputError{Reason: "cannot read consent.table", Err: scrub(err)})
	}
	have := map[string]string{}
	var spelled []string
	for _, r := range rows {
		name, _ := r[0].(string)
		have[strings.ToLower(name)] = name
		spelled = append(spelled, name)
	}
	slices.Sort(spelled)
	names := Spelling{}
	var problems []job.Problem
	for _, c := range []struct{ key, col string }{{"unit", t.Unit}, {"purpose", t.Purpose}, {"granted", t.Granted}, {"at", t.At}} {
		n, ok := have[strings.ToLower(c.col)]
		if !ok {
			problems = append(problems, job.Problem{Key: "consent.table." + c.key, Value: strconv.Quote(c.col),
				Rule: "is not a column of consent.table.path" + didYouMean(c.col, spelled)})
		}
		names[strings.ToLower(c.col)] = n
	}
	if len(problems) > 0 {
		return nil, &job.ConfigError{File: j.File, Problems: problems}
	}
	return names, nil
}

// checkColumns checks every place the job names an input column
// (job.ColumnUses) against the described input: the column exists (names
// compare without case) and its type can serve the use (usableType). Each
// problem names the key path, and a missing column comes with the closest
// input column, if one is close.
func (p *queryPlan) checkColumns() []job.Problem {
	var spelled []string
	for n := range p.types {
		spelled = append(spelled, n)
	}
	slices.Sort(spelled)
	var problems []job.Problem
	for _, u := range p.job.ColumnUses() {
		n, ok := p.in.names[strings.ToLower(u.Column)]
		if !ok {
			problems = append(problems, job.Problem{Key: u.Key, Value: strconv.Quote(u.Column),
				Rule: fmt.Sprintf("is not a column of the input (input.path %s)%s", p.job.Input.Path, didYouMean(u.Column, spelled))})
			continue
		}
		if why := usableType(p.types[n], u.Role); why != "" {
			problems = append(problems, job.Problem{Key: u.Key, Value: strconv.Quote(u.Column),
				Rule: fmt.Sprintf("has type %s in the input: %s", p.types[n], why)})
		}
	}
	return problems
}

// didYouMean suggests the closest of names to a missing column, or lists
// the names when none is close and they are few.
func didYouMean(missing string, names []string) string {
	if best := job.ClosestName(missing, names); best != "" {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	if len(names) > 0 && len(names) <= 20 {
		return "; it has " + colnames.QuoteAll(names)
	}
	return ""
}

// usableType says why a column of DuckDB type typ cannot serve role, or ""
// when it can: no use takes a nested or binary value, and a metric needs a
// value that casts to a number (numbers, text holding numbers, booleans).
func usableType(typ string, role job.ColumnRole) string {
	t := strings.ToUpper(typ)
	switch {
	case strings.HasSuffix(t, "]") || strings.HasPrefix(t, "STRUCT") || strings.HasPrefix(t, "MAP") || strings.HasPrefix(t, "UNION"):
		return "a nested value; the job needs one value per row"
	case t == "BLOB" || t == "BIT":
		return "binary; the job needs text, numbers, dates or times"
	case role == job.RoleMeasure && (t == "DATE" || strings.HasPrefix(t, "TIME") || t == "INTERVAL" || t == "UUID"):
		return "a metric needs numbers"
	}
	return ""
}
