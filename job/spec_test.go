package job

import (
	"reflect"
	"strings"
	"testing"
)

// TestPrivacySpecPublicKeysOnly: whether an output's keys are all public is
// one method, Output.PublicKeysOnly, that the plan (through PrivacySpec),
// validation and the engines' SQL share. PrivacySpec used to count lists
// instead, which says public for a list that names no group_by column.
func TestPrivacySpecPublicKeysOnly(t *testing.T) {
	t.Parallel()
	list := PublicPartitions{Values: []string{"x"}}
	for _, o := range []Output{
		{Name: "all", GroupBy: []string{"a", "b"}, PublicPartitions: map[string]PublicPartitions{"a": list, "b": list}},
		{Name: "some", GroupBy: []string{"a", "b"}, PublicPartitions: map[string]PublicPartitions{"a": list}},
		{Name: "other", GroupBy: []string{"a", "b"}, PublicPartitions: map[string]PublicPartitions{"a": list, "c": list}},
		{Name: "none", GroupBy: []string{"a"}},
		{Name: "no keys"},
	} {
		j := &Job{Outputs: []Output{o}}
		if got, want := j.PrivacySpec().Outputs[0].PublicPartitions, o.PublicKeysOnly(); got != want {
			t.Errorf("%s: PrivacySpec says public %v, PublicKeysOnly %v", o.Name, got, want)
		}
	}
}

// optionalKeys are the job keys whose zero value is meaningful, so LoadJob
// leaves them zero: every other key is required or has a default, and a
// loaded job has it set. Engines, explain and PrivacySpec read the loaded job
// and apply no default of their own.
var optionalKeys = map[string]string{
	"identifiers":                      "none",
	"input.max_reject_fraction":        "0: strict",
	"privacy.delta":                    "0 with laplace and public keys only",
	"privacy.memory_limit":             "DuckDB's default",
	"privacy.temp_dir":                 "DuckDB's default",
	"privacy.threads":                  "0: all cores",
	"privacy.bounds_share":             "0 when every bound is set by hand (no estimate)",
	"consent.table":                    "consent.column is set instead",
	"consent.waived":                   "consent.column is set instead: consent applies unless waived",
	"columns":                          "no derived columns",
	"columns.*.bins":                   "another kind of derived column",
	"columns.*.truncate":               "another kind of derived column",
	"columns.*.prefix":                 "another kind of derived column",
	"outputs[].public_partitions":      "keys from the data",
	"outputs[].public_partitions.*":    "the one set of values or file",
	"outputs[].consistency":            "none: values as noised",
	"outputs[].metrics[].column":       "count metrics read no column",
	"outputs[].metrics[].min":          "count metrics",
	"outputs[].metrics[].max":          "count metrics",
	"outputs[].metrics[].ranks":        "quantiles only",
	"outputs[].metrics[].max_per_unit": "0 for every kind but count",
}

// TestLoadJobFillsEveryDefault walks a loaded job that leaves out every key
// it may and checks that each key is set, unless optionalKeys lists it.
func TestLoadJobFillsEveryDefault(t *testing.T) {
	clearEnv(t)
	j, err := LoadJob(writeJob(t, minimalJob+`
columns:
  region: {from: country, map: {file: regions.csv}}
staging: {path: staging.parquet, pseudonym_key_env: KEY}
`))
	if err != nil {
		t.Fatal(err)
	}
	j.Outputs = append(j.Outputs, j.Outputs[0])
	j.Outputs[1].Metrics = []Metric{{Name: "s", Type: "sum", Column: "v", Min: new(float64), Max: new(float64), Weight: 1}}
	var walk func(key string, v reflect.Value)
	walk = func(key string, v reflect.Value) {
		if _, ok := optionalKeys[key]; ok {
			return
		}
		if v.IsZero() {
			t.Errorf("%s is not set in a loaded job: give it a default in applyDefaults, or list it in optionalKeys", key)
			return
		}
		switch v.Kind() {
		case reflect.Pointer:
			walk(key, v.Elem())
		case reflect.Struct:
			for i := range v.NumField() {
				tag := strings.Split(v.Type().Field(i).Tag.Get("mapstructure"), ",")[0]
				if tag == "-" || tag == "" {
					continue
				}
				sub := tag
				if key != "" {
					sub = key + "." + tag
				}
				walk(sub, v.Field(i))
			}
		case reflect.Slice:
			if v.Type().Elem().Kind() == reflect.Struct {
				for i := range v.Len() {
					walk(key+"[]", v.Index(i))
				}
			}
		case reflect.Map:
			for _, k := range v.MapKeys() {
				walk(key+".*", v.MapIndex(k))
			}
		}
	}
	walk("", reflect.ValueOf(j).Elem())
}
