package job

import (
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/privagg/privagg/privacy"
	"github.com/privagg/privagg/transforms"
)

//go:generate go run ../internal/cmd/jobschema -o ../configs/job.schema.json

// SchemaID is the $id of the job file's JSON Schema, the file
// configs/job.schema.json that `make schema` writes.
const SchemaID = "https://github.com/privagg/privagg/raw/main/configs/job.schema.json"

// JSONSchema returns the JSON Schema (draft 2020-12) of a job file, built by
// reflection over Job's mapstructure tags: the keys, their types, the typed
// enums (input and output formats, noise) and the fixed choices (metric
// types, truncations, privacy_unit_case). It describes the shape of a job
// file for editors; the rules between keys (a consent source, bounds of
// epsilon, columns that exist) stay with Load and validate.
func JSONSchema() ([]byte, error) {
	root, err := schemaOf(reflect.TypeFor[Job](), "")
	if err != nil {
		return nil, err
	}
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = SchemaID
	root["title"] = "privagg job file"
	root["description"] = "A privagg job: input, privacy unit, consent, privacy budget and the outputs to release. Every key: docs/job-file.md."
	out, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// schemaEnums are the choices of fields whose Go type is a plain string,
// by the field's key path ([] for list items, * for map values).
var schemaEnums = map[string]func() []string{
	"privacy_unit_case":        func() []string { return []string{"keep", "fold"} },
	"columns.*.truncate":       func() []string { return truncations },
	"columns.*.part":           func() []string { return transforms.Parts },
	"outputs[].metrics[].type": func() []string { return enumStrings(privacy.MetricKinds()) },
	"input.format":             func() []string { return enumStrings(InputFormats) },
	"output.format":            func() []string { return enumStrings(OutputFormats) },
	"output.round":             func() []string { return enumStrings(privacy.Roundings) },
	"privacy.noise":            func() []string { return enumStrings([]privacy.NoiseKind{privacy.Laplace, privacy.Gaussian}) },
	"outputs[].selection":      func() []string { return enumStrings(privacy.SelectionMethods) },
}

// schemaRequired are the keys a job file must have under each object; keys
// that a PRIVAGG_* variable can supply (EnvKeys) are never required.
var schemaRequired = map[string][]string{
	"":                    {"version", "consent", "outputs"},
	"consent.table":       {"path", "unit", "purpose", "granted", "at"},
	"columns.*":           {"from"},
	"columns.*.map":       {"file"},
	"outputs[]":           {"name", "group_by", "metrics"},
	"outputs[].metrics[]": {"name", "type"},
}

func enumStrings[T ~string](values []T) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return out
}

// schemaAuto are the bounds that may also be "auto" (auto.go).
var schemaAuto = map[string]bool{
	"privacy.max_partitions_per_unit":   true,
	"outputs[].max_partitions_per_unit": true,
	"outputs[].metrics[].max_per_unit":  true,
	"outputs[].metrics[].min":           true,
	"outputs[].metrics[].max":           true,
}

// fieldSchema is schemaOf a struct field, which may also be "auto".
func fieldSchema(t reflect.Type, path string) (map[string]any, error) {
	s, err := schemaOf(t, path)
	if err != nil || !schemaAuto[path] {
		return s, err
	}
	return map[string]any{"anyOf": []any{s, map[string]any{"const": Auto, "description": "estimated privately from the data in the run (privacy.bounds_share)"}}}, nil
}

func schemaOf(t reflect.Type, path string) (map[string]any, error) {
	if f := schemaEnums[path]; f != nil {
		return map[string]any{"type": "string", "enum": f()}, nil
	}
	if path == "version" {
		return map[string]any{"type": "integer", "const": 1, "description": "job file format; the only version is 1"}, nil
	}
	if t == publicPartitionsType {
		return map[string]any{
			"description": "the released keys of this column: a list of values, or {file: path} (a one-column CSV with a header)",
			"oneOf": []any{
				map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
				map[string]any{"type": "object", "properties": map[string]any{"file": map[string]any{"type": "string", "minLength": 1}},
					"required": []string{"file"}, "additionalProperties": false},
			},
		}, nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		return schemaOf(t.Elem(), path)
	case reflect.String:
		return map[string]any{"type": "string"}, nil
	case reflect.Bool:
		return map[string]any{"type": "boolean"}, nil
	case reflect.Int, reflect.Int64:
		return map[string]any{"type": "integer"}, nil
	case reflect.Float64:
		return map[string]any{"type": "number"}, nil
	case reflect.Slice:
		items, err := schemaOf(t.Elem(), path+"[]")
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "array", "items": items}, nil
	case reflect.Map:
		values, err := schemaOf(t.Elem(), join(path, "*"))
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "object", "additionalProperties": values}, nil
	case reflect.Struct:
		props := map[string]any{}
		for i := range t.NumField() {
			f := t.Field(i)
			key := f.Tag.Get("mapstructure")
			if !f.IsExported() || key == "" || key == "-" {
				continue
			}
			s, err := fieldSchema(f.Type, join(path, key))
			if err != nil {
				return nil, err
			}
			props[key] = s
		}
		obj := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if req := schemaRequired[path]; req != nil {
			obj["required"] = req
		}
		return obj, nil
	}
	return nil, fmt.Errorf("job schema: %s (%s) has no JSON Schema type", path, t)
}

// join extends a key path: "outputs[]" and "metrics" is "outputs[].metrics".
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
