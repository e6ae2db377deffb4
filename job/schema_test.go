package job

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

const schemaFile = "../configs/job.schema.json"

// The checked-in schema is what JSONSchema generates: run `make schema`
// (or `go generate ./job`) after changing the job types.
func TestJSONSchemaIsUpToDate(t *testing.T) {
	t.Parallel()
	want, err := JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is out of date: run make schema", schemaFile)
	}
}

// compileSchema compiles the checked-in schema with an independent
// validator (santhosh-tekuri/jsonschema, draft 2020-12).
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(SchemaID)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// yamlAsJSON reads a YAML job file as the JSON value an editor's YAML
// language server validates, with its keys in lower case: the loader
// matches keys without case, the schema names them in their canonical
// (lower) case. ok is false for a file that is not YAML or holds a value
// JSON cannot (.inf).
func yamlAsJSON(t *testing.T, path string) (v any, ok bool) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tree any
	if yaml.Unmarshal(data, &tree) != nil {
		return nil, false
	}
	js, err := json.Marshal(lowerKeys(tree))
	if err != nil {
		return nil, false
	}
	v, err = jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	return v, true
}

func lowerKeys(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[strings.ToLower(k)] = lowerKeys(x)
		}
		return out
	case []any:
		for i := range v {
			v[i] = lowerKeys(v[i])
		}
	}
	return v
}

// schemaRejects are the bad configs whose fault is the file's shape (an
// unknown key, a wrong type, a value outside an enum), which the schema
// catches; the others break rules between keys or values (a negative
// epsilon, a consent source missing) that only validate checks.
var schemaRejects = []string{"consent", "consent_waived", "derived", "empty", "input", "input_format", "metrics", "names",
	"public_partitions", "types", "unknown_keys"}

func TestJSONSchemaAgainstCorpus(t *testing.T) {
	t.Parallel()
	s := compileSchema(t)
	good, _ := filepath.Glob("testdata/configs/good/*.yaml")
	for _, path := range append(good, "../configs/example.yaml") {
		v, ok := yamlAsJSON(t, path)
		if !ok {
			t.Fatalf("%s: not YAML", path)
		}
		if err := s.Validate(v); err != nil {
			t.Errorf("%s: the schema rejects a good job: %v", path, err)
		}
	}
	bad, _ := filepath.Glob("testdata/configs/bad/*.yaml")
	var rejected []string
	for _, path := range bad {
		v, ok := yamlAsJSON(t, path)
		if !ok {
			continue // not YAML: the editor's parser reports it
		}
		if s.Validate(v) != nil {
			rejected = append(rejected, strings.TrimSuffix(filepath.Base(path), ".yaml"))
		}
	}
	for _, name := range schemaRejects {
		if !slices.Contains(rejected, name) {
			t.Errorf("the schema accepts bad/%s.yaml", name)
		}
	}
	t.Logf("the schema rejects %d of %d bad configs: %v", len(rejected), len(bad), rejected)
}
