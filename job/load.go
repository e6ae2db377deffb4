package job

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// EnvPrefix prefixes the environment variables that override scalar keys of a
// job file: privacy.epsilon is PRIVAGG_PRIVACY_EPSILON, ledger is
// PRIVAGG_LEDGER. An empty variable counts as unset.
const EnvPrefix = "PRIVAGG"

// EnvKeys are the job-file keys an environment variable may override. Lists,
// user-named maps and the structural choices consent and staging are not
// overridable. A relative path given in the environment is relative to the
// current directory (like a command-line flag), not to the job file.
var EnvKeys = []string{
	"name", "dataset", "purpose", "privacy_unit", "ledger",
	"input.path", "input.format", "input.csv.delimiter", "input.csv.header", "input.max_reject_fraction",
	"privacy.epsilon", "privacy.delta", "privacy.noise", "privacy.k", "privacy.max_partitions_per_unit", "privacy.bounds_share",
	"privacy.memory_limit", "privacy.temp_dir", "privacy.threads",
	"output.dir", "output.format",
}

// EnvVar returns the environment variable that overrides key, e.g.
// PRIVAGG_PRIVACY_EPSILON for privacy.epsilon.
func EnvVar(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// LoadJob reads, decodes, completes and validates the job file at path.
// Unknown keys are errors; every problem of the file is reported at once in
// a *ConfigError. Relative paths in the file resolve against its folder.
func LoadJob(path string) (*Job, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &ConfigError{File: path, Problems: []Problem{{Key: "job file", Rule: "has no absolute path: " + err.Error()}}}
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is already in ConfigError.File
		}
		return nil, &ConfigError{File: path, Problems: []Problem{{Key: "job file", Rule: "cannot be read: " + err.Error()}}}
	}
	job, err := load(data, filepath.Dir(abs), path)
	if err != nil {
		return nil, err
	}
	job.File = abs
	return job, nil
}

// LoadJobBytes is LoadJob for a job file already in memory; relative paths
// resolve against dir, Job.File stays empty and Job.Source holds data.
func LoadJobBytes(data []byte, dir string) (*Job, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, &ConfigError{Problems: []Problem{{Key: "job file", Value: dir, Rule: "folder has no absolute path: " + err.Error()}}}
	}
	return load(data, abs, "")
}

func load(data []byte, dir, file string) (*Job, error) {
	tree, fromEnv, problems := readTree(data)
	if len(problems) > 0 {
		return nil, &ConfigError{File: file, Problems: problems}
	}
	autos := takeAutos(tree)
	c := &checker{tree: tree, failed: map[string]bool{}}
	job := c.decode(tree)
	autos.apply(job, tree)
	c.applyDefaults(job, tree)
	resolvePaths(job, dir, fromEnv)
	job.fromEnv = slices.Sorted(maps.Keys(fromEnv))
	c.validate(job)
	if len(c.problems) > 0 {
		return nil, &ConfigError{File: file, Problems: c.problems}
	}
	job.Source = bytes.Clone(data)
	return job, nil
}

// readTree parses the YAML into a tree that keeps the case of every key
// (viper lower-cases keys, but output, metric and column names are user data)
// and lays the PRIVAGG_* environment overrides, resolved by viper, over it.
// fromEnv holds the keys whose value came from the environment.
func readTree(data []byte) (tree map[string]any, fromEnv map[string]bool, problems []Problem) {
	if err := yaml.Unmarshal(data, &tree); err != nil {
		return nil, nil, []Problem{{Key: "yaml", Rule: strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	if tree == nil {
		tree = map[string]any{}
	}
	v := viper.NewWithOptions(viper.EnvKeyReplacer(strings.NewReplacer(".", "_")))
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return nil, nil, []Problem{{Key: "yaml", Rule: err.Error()}}
	}
	v.SetEnvPrefix(EnvPrefix)
	fromEnv = map[string]bool{}
	for _, key := range EnvKeys {
		if err := v.BindEnv(key, EnvVar(key)); err != nil {
			return nil, nil, []Problem{{Key: key, Rule: "cannot bind " + EnvVar(key) + ": " + err.Error()}}
		}
		if os.Getenv(EnvVar(key)) == "" {
			continue // viper also treats an empty variable as unset
		}
		if setPath(tree, strings.Split(key, "."), v.Get(key)) {
			fromEnv[key] = true
		} else {
			problems = append(problems, Problem{Key: key, Rule: "cannot be overridden by " + EnvVar(key) + ": its parent in the job file is not a mapping"})
		}
	}
	return tree, fromEnv, problems
}

// setPath sets tree[path...] = val, creating mappings on the way. Keys match
// case-insensitively, as the decoder matches them. It reports false when a
// value on the way is not a mapping.
func setPath(tree map[string]any, path []string, val any) bool {
	m := tree
	for i, p := range path {
		k := findKey(m, p)
		if i == len(path)-1 {
			m[k] = val
			return true
		}
		switch next := m[k].(type) {
		case map[string]any:
			m = next
		case nil:
			n := map[string]any{}
			m[k] = n
			m = n
		default:
			return false
		}
	}
	return true
}

// findKey returns the key of m that equals k case-insensitively, or k.
func findKey(m map[string]any, k string) string {
	if _, ok := m[k]; ok {
		return k
	}
	for mk := range m {
		if strings.EqualFold(mk, k) {
			return mk
		}
	}
	return k
}

// present reports whether the tree holds a non-null value at path; a path
// element is a mapping key (matched case-insensitively) or a list index.
func present(tree any, path ...any) bool {
	cur := tree
	for _, p := range path {
		switch p := p.(type) {
		case string:
			m, ok := cur.(map[string]any)
			if !ok {
				return false
			}
			v, ok := m[findKey(m, p)]
			if !ok {
				return false
			}
			cur = v
		case int:
			l, ok := cur.([]any)
			if !ok || p < 0 || p >= len(l) {
				return false
			}
			cur = l[p]
		}
	}
	return cur != nil
}

// checker collects problems. Keys that failed to decode are remembered so that
// validation does not report them a second time.
type checker struct {
	tree     map[string]any // the decoded document, to tell absent keys from zero values
	problems []Problem
	failed   map[string]bool
}

func (c *checker) add(key string, value any, rule string, args ...any) {
	if c.decodeFailed(key) {
		return
	}
	if len(args) > 0 {
		rule = fmt.Sprintf(rule, args...)
	}
	c.problems = append(c.problems, Problem{Key: key, Value: value, Rule: rule})
}

// decodeFailed reports whether key or a key above it failed to decode.
func (c *checker) decodeFailed(key string) bool {
	for k := key; k != ""; k = parentKey(k) {
		if c.failed[k] {
			return true
		}
	}
	return false
}

// parentKey returns "a.b" for "a.b.c" and "a.b" for "a.b[3]".
func parentKey(k string) string {
	i := strings.LastIndexAny(k, ".[")
	if i < 0 {
		return ""
	}
	return k[:i]
}

// decode decodes the tree into a Job strictly: unknown keys and values of the
// wrong type become problems, and the rest of the job is still decoded.
//
// It decodes twice. With ErrorUnused, mapstructure refuses a whole mapping
// that holds an unknown key, which would leave e.g. consent.table nil and make
// validation report it missing; so the job comes from a pass without it, and
// a second pass with ErrorUnused, into a throwaway Job, names the unknown keys.
func (c *checker) decode(tree map[string]any) (job *Job) {
	job = &Job{}
	tree = c.stringKeys(tree, "").(map[string]any)
	// The decoder must never panic on input; if a corner of mapstructure
	// does, report it as a problem of the file rather than crash.
	defer func() {
		if r := recover(); r != nil {
			c.add("yaml", nil, "cannot be decoded: %v", r)
		}
	}()
	var ps []Problem
	for _, strict := range []bool{false, true} {
		result := job
		if strict {
			result = &Job{}
		}
		dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
			Result:      result,
			ErrorUnused: strict,
			DecodeHook: mapstructure.ComposeDecodeHookFunc(
				publicPartitionsHook, stringToScalarHook, floatToIntHook),
		})
		if err != nil { // only for a bad Result, a programming error
			c.add("yaml", nil, "cannot build the decoder: %v", err)
			return job
		}
		if err := dec.Decode(tree); err != nil {
			collectDecodeProblems(err, &ps, strict)
		}
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Key < ps[j].Key })
	for _, p := range ps {
		c.problems = append(c.problems, p)
		c.failed[p.Key] = true
	}
	return job
}

// stringKeys returns v with every map key a string. YAML allows other keys
// ({0: x}, {true: y}); job files use only names, so such a key is a problem,
// reported with its path, and kept as its text so decoding can go on.
func (c *checker) stringKeys(v any, path string) any {
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch m := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(m))
		for k, x := range m {
			out[k] = c.stringKeys(x, join(k))
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, x := range m {
			ks, ok := k.(string)
			if !ok {
				ks = fmt.Sprint(k)
				c.add(join(ks), nil, "keys must be names, not %T values", k)
			}
			out[ks] = c.stringKeys(x, join(ks))
		}
		return out
	case []any:
		out := make([]any, len(m))
		for i, x := range m {
			out[i] = c.stringKeys(x, fmt.Sprintf("%s[%d]", path, i))
		}
		return out
	}
	return v
}

var mapKeyInName = regexp.MustCompile(`(columns|public_partitions)\[([^\]]*)\]`)

// configKey turns mapstructure's field names (columns[age_band].bins) into
// config paths (columns.age_band.bins).
func configKey(name string) string { return mapKeyInName.ReplaceAllString(name, "$1.$2") }

// collectDecodeProblems turns mapstructure's tree of joined errors into
// problems naming the full config path: unknown keys only when unknownKeys is
// set, every other decode error only when it is not.
func collectDecodeProblems(err error, out *[]Problem, unknownKeys bool) {
	var de *mapstructure.DecodeError
	// This walks the error tree itself, one level at a time, so it compares
	// and switches on the error at hand, not on what it wraps.
	if !errors.As(err, &de) || de != err { //nolint:errorlint // see above
		switch u := err.(type) { //nolint:errorlint // see above
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				collectDecodeProblems(e, out, unknownKeys)
			}
		case interface{ Unwrap() error }:
			collectDecodeProblems(u.Unwrap(), out, unknownKeys)
		default:
			if !unknownKeys {
				*out = append(*out, Problem{Key: "yaml", Rule: err.Error()})
			}
		}
		return
	}
	inner := de.Unwrap()
	var nested *mapstructure.DecodeError
	if _, ok := inner.(interface{ Unwrap() []error }); ok || errors.As(inner, &nested) {
		collectDecodeProblems(inner, out, unknownKeys)
		return
	}
	key := configKey(de.Name())
	msg := inner.Error()
	keys, isUnknown := strings.CutPrefix(msg, "has invalid keys: ")
	if isUnknown != unknownKeys {
		return
	}
	if isUnknown {
		parent := key
		if parent == reflect.TypeFor[Job]().String() {
			parent = "" // mapstructure's name for the root
		}
		for _, k := range strings.Split(keys, ", ") {
			full := k
			if parent != "" {
				full = parent + "." + k
			}
			*out = append(*out, Problem{Key: full, Rule: "is not a known key" + suggest(parent, k)})
		}
		return
	}
	var ute *mapstructure.UnconvertibleTypeError
	switch {
	case errors.As(inner, &ute):
		rule := "must be " + describeType(ute.Expected.Type())
		if _, isString := ute.Value.(string); !isString && ute.Expected.Kind() == reflect.String && scalarOrNil(ute.Value) != nil {
			rule += " (quote it)"
		}
		*out = append(*out, Problem{Key: key, Value: scalarOrNil(ute.Value), Rule: rule})
	case strings.HasPrefix(msg, "source data must be an array or slice"):
		*out = append(*out, Problem{Key: key, Rule: "must be a list"})
	default:
		*out = append(*out, Problem{Key: key, Rule: msg})
	}
}

// scalarOrNil keeps scalars for error messages and drops lists and mappings.
func scalarOrNil(v any) any {
	switch v.(type) {
	case string, bool, int, int64, uint64, float64:
		return v
	}
	return nil
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	case reflect.Pointer:
		return describeType(t.Elem())
	}
	return "a " + t.String()
}

// suggest names the known key closest to an unknown one, if any is close.
func suggest(parent, unknown string) string {
	t := typeAt(reflect.TypeFor[Job](), parent)
	if t == nil || t.Kind() != reflect.Struct {
		return ""
	}
	best, bestDist := "", 3 // suggest only within an edit distance of 2
	for i := range t.NumField() {
		tag := strings.Split(t.Field(i).Tag.Get("mapstructure"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		if d := editDistance(strings.ToLower(unknown), tag); d < bestDist {
			best, bestDist = tag, d
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + best + "?)"
}

// typeAt follows a config path (outputs[0].metrics[1]) through the Job type.
func typeAt(t reflect.Type, path string) reflect.Type {
	if path == "" {
		return t
	}
	for _, seg := range strings.Split(strings.ReplaceAll(path, "[", ".["), ".") {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch {
		case strings.HasPrefix(seg, "["):
			if t.Kind() != reflect.Slice {
				return nil
			}
			t = t.Elem()
		case t.Kind() == reflect.Map:
			t = t.Elem()
		case t.Kind() == reflect.Struct:
			var next reflect.Type
			for i := range t.NumField() {
				if f := t.Field(i); strings.Split(f.Tag.Get("mapstructure"), ",")[0] == seg {
					next = f.Type
				}
			}
			if next == nil {
				return nil
			}
			t = next
		default:
			return nil
		}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

var publicPartitionsType = reflect.TypeFor[PublicPartitions]()

// publicPartitionsHook decodes public_partitions.<col>: a list of strings
// (inline values) or {file: path} (a one-column CSV with a header).
func publicPartitionsHook(from, to reflect.Type, data any) (any, error) {
	if to != publicPartitionsType {
		return data, nil
	}
	switch d := data.(type) {
	case []any:
		values := make([]string, 0, len(d))
		for i, v := range d {
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("value [%d] must be a string: quote it, e.g. \"%v\" (the values are compared as text)", i, yamlScalar(v))
			}
			values = append(values, s)
		}
		return PublicPartitions{Values: values}, nil
	case map[string]any:
		var pp PublicPartitions
		for k, v := range d {
			if k != "file" {
				return nil, fmt.Errorf("has unknown key %q: use a list of values or {file: path}", k)
			}
			s, ok := v.(string)
			if !ok || s == "" {
				return nil, errors.New("file must be a non-empty path")
			}
			pp.File = s
		}
		if pp.File == "" {
			return nil, errors.New("must be a list of values or {file: path}")
		}
		return pp, nil
	case PublicPartitions:
		return d, nil
	}
	return nil, errors.New("must be a list of values or {file: path}")
}

// yamlScalar prints a YAML scalar the way it was probably written.
func yamlScalar(v any) string {
	if t, ok := v.(time.Time); ok {
		if t.Equal(t.Truncate(24 * time.Hour)) {
			return t.Format(time.DateOnly)
		}
		return t.Format(time.RFC3339)
	}
	return fmt.Sprint(v)
}

// stringToScalarHook parses strings (environment overrides, quoted YAML
// numbers) into numbers and booleans. Nothing else is converted implicitly.
func stringToScalarHook(from, to reflect.Type, data any) (any, error) {
	s, ok := data.(string)
	if !ok {
		return data, nil
	}
	s = strings.TrimSpace(s)
	switch to.Kind() {
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("%q must be true or false", s)
		}
		return b, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q must be a whole number", s)
		}
		return n, nil
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("%q must be a number", s)
		}
		return f, nil
	}
	return data, nil
}

// floatToIntHook accepts 10.0 for an integer key but refuses 10.5, which the
// decoder would otherwise truncate silently.
func floatToIntHook(from, to reflect.Type, data any) (any, error) {
	f, ok := data.(float64)
	if !ok {
		return data, nil
	}
	switch to.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return nil, fmt.Errorf("%v must be a whole number", f)
		}
		return int64(f), nil
	}
	return data, nil
}

// resolvePaths makes relative paths absolute: against the job folder for
// values from the file, against the working directory for values from the
// environment.
func resolvePaths(job *Job, dir string, fromEnv map[string]bool) {
	res := func(p *string, key string) {
		if *p == "" || filepath.IsAbs(*p) {
			return
		}
		if fromEnv[key] {
			if abs, err := filepath.Abs(*p); err == nil {
				*p = abs
			}
			return
		}
		*p = filepath.Join(dir, *p)
	}
	res(&job.Input.Path, "input.path")
	res(&job.Privacy.TempDir, "privacy.temp_dir")
	res(&job.Output.Dir, "output.dir")
	res(&job.Ledger, "ledger")
	if t := job.Consent.Table; t != nil {
		res(&t.Path, "consent.table.path")
	}
	if job.Staging != nil {
		res(&job.Staging.Path, "staging.path")
	}
	for _, col := range job.Columns {
		if col.Map != nil {
			res(&col.Map.File, "")
		}
	}
	for i := range job.Outputs {
		for col, pp := range job.Outputs[i].PublicPartitions {
			if pp.File != "" {
				res(&pp.File, "")
				job.Outputs[i].PublicPartitions[col] = pp
			}
		}
	}
}

// sortedKeys returns the keys of m in byte order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
