package transforms

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

// Limits on a map file. It is configuration, not data: small and read whole.
const (
	MaxMapRows     = 100_000  // data rows after the header
	MaxMapFileSize = 64 << 20 // bytes
)

// DefaultMapLabel is the value of unmapped and NULL inputs when the job does
// not set map.default.
const DefaultMapLabel = "other"

// Map replaces the values of a column through a lookup table read from a
// two-column CSV file: a header row, then one key,value row per entry.
//
// Keys and values are trimmed of spaces, tabs and line breaks. The source is
// cast to VARCHAR, trimmed the same way and matched exactly (case-sensitive)
// against the keys; unmapped values and NULL get the default label.
//
// The file is refused when it is empty, has no rows after the header, has a
// row without exactly two fields, an empty key or value, a key listed twice,
// a NUL byte or invalid UTF-8, more than MaxMapRows rows or more than
// MaxMapFileSize bytes. Errors name the file and the line, never the
// contents.
type Map struct {
	name, from string
	file, def  string
	keys, vals []string // in file order
	lookup     map[string]string
	valuesSQL  string // the VALUES list of the lookup table
}

// Names of the lookup table and its columns inside Map's SQL; they start with
// reservedPrefix so no source column can shadow them.
const (
	mapAlias = "__privagg_map"
	mapKey   = "__privagg_map_key"
	mapValue = "__privagg_map_value"
)

// NewMap reads file (a path the caller has resolved) and returns the mapping
// of the column from. def is the label of unmapped and NULL values;
// DefaultMapLabel when empty.
func NewMap(name, from, file, def string) (*Map, error) {
	if err := checkNames(name, from); err != nil {
		return nil, err
	}
	if def == "" {
		def = DefaultMapLabel
	}
	if err := checkMapText(def); err != nil {
		return nil, &SpecError{Column: name, Field: "map.default", Rule: err.Error()}
	}
	if file == "" {
		return nil, &SpecError{Column: name, Field: "map.file", Rule: "is required"}
	}
	fileErr := func(rule string, err error) error {
		return &SpecError{Column: name, Field: "map.file", Value: file, Rule: rule, Err: err}
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, fileErr("cannot be opened", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fileErr("cannot be read", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fileErr("must be a regular file", nil)
	}
	if st.Size() > MaxMapFileSize {
		return nil, fileErr(fmt.Sprintf("is larger than %d bytes", MaxMapFileSize), nil)
	}
	keys, vals, err := parseMap(io.LimitReader(f, MaxMapFileSize+1))
	if err != nil {
		return nil, fileErr("is not a valid map file", err)
	}
	m := &Map{name: name, from: from, file: file, def: def, keys: keys, vals: vals,
		lookup: make(map[string]string, len(keys))}
	var s strings.Builder
	for i := range keys {
		m.lookup[keys[i]] = vals[i]
		if i > 0 {
			s.WriteString(", ")
		}
		s.WriteString("(" + QuoteString(keys[i]) + ", " + QuoteString(vals[i]) + ")")
	}
	m.valuesSQL = s.String()
	return m, nil
}

// parseMap decodes a map file. Its errors carry line numbers only.
func parseMap(r io.Reader) (keys, vals []string, err error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // checked below, with a clearer message
	cr.ReuseRecord = true
	first := make(map[string]int) // key -> line
	for row := 0; ; row++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				// csv.ParseError messages hold positions, never field contents.
				return nil, nil, fmt.Errorf("line %d: %w", pe.Line, pe.Err)
			}
			return nil, nil, err
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != 2 {
			return nil, nil, fmt.Errorf("line %d: has %d fields, want 2 (key,value)", line, len(rec))
		}
		if row == 0 { // header
			continue
		}
		if row > MaxMapRows {
			return nil, nil, fmt.Errorf("line %d: more than %d rows after the header", line, MaxMapRows)
		}
		k := strings.Trim(rec[0], spaceChars)
		v := strings.Trim(rec[1], spaceChars)
		if k == "" {
			return nil, nil, fmt.Errorf("line %d: empty key", line)
		}
		if err := checkMapText(k); err != nil {
			return nil, nil, fmt.Errorf("line %d: key %w", line, err)
		}
		if v == "" {
			return nil, nil, fmt.Errorf("line %d: empty value", line)
		}
		if err := checkMapText(v); err != nil {
			return nil, nil, fmt.Errorf("line %d: value %w", line, err)
		}
		if prev, dup := first[k]; dup {
			return nil, nil, fmt.Errorf("line %d: duplicate key (first on line %d)", line, prev)
		}
		first[k] = line
		keys = append(keys, k)
		vals = append(vals, v)
	}
	if len(first) == 0 {
		return nil, nil, errors.New("no key,value rows after the header")
	}
	return keys, vals, nil
}

// checkMapText refuses text DuckDB cannot hold in a string literal.
func checkMapText(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("is not valid UTF-8")
	}
	if strings.IndexByte(s, 0) >= 0 {
		return errors.New("contains a NUL byte")
	}
	return nil
}

// Name returns the output column name.
func (m *Map) Name() string { return m.name }

// Source returns the input column.
func (m *Map) Source() string { return m.from }

// File returns the path of the map file as given to NewMap.
func (m *Map) File() string { return m.file }

// Default returns the label of unmapped and NULL values.
func (m *Map) Default() string { return m.def }

// Len returns the number of entries.
func (m *Map) Len() int { return len(m.keys) }

// Lookup returns the label of key, trimmed as the SQL does, or the default.
// It is the Go twin of SQL for engines that evaluate rows in Go.
func (m *Map) Lookup(key string) string {
	if v, ok := m.lookup[strings.Trim(key, spaceChars)]; ok {
		return v
	}
	return m.def
}

// Labels returns the distinct values of the file and the default, sorted.
func (m *Map) Labels() []string {
	labels := append([]string{m.def}, m.vals...)
	slices.Sort(labels)
	return slices.Compact(labels)
}

// SQL returns a correlated scalar subquery over an inline lookup table,
//
//	coalesce((SELECT value FROM (VALUES ('k', 'v'), ...) t(key, value)
//	          WHERE key = trim(CAST(src AS VARCHAR), ...)), 'default')
//
// which DuckDB decorrelates into a hash join: a lookup costs about the same
// for 20 entries as for 100,000, unlike a CASE or MAP expression, whose cost
// grows with the number of entries. Use the expression in a SELECT list.
func (m *Map) SQL(src string) string {
	return "coalesce((SELECT " + mapAlias + "." + mapValue + " FROM (VALUES " + m.valuesSQL + ") " +
		mapAlias + "(" + mapKey + ", " + mapValue + ") WHERE " + mapAlias + "." + mapKey + " = " +
		trimmedText(src) + "), " + QuoteString(m.def) + ")"
}
