package tune

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/privagg/privagg/internal/atomicfile"
	"github.com/privagg/privagg/job"
	"github.com/privagg/privagg/privacy"
)

// Budget keys: outputs[i].selection_share and weight on outputs and
// metrics. Apply writes them as keys when this build's job package reads
// them, and as comments naming them otherwise.
const (
	keySelectionShare = "selection_share"
	keyWeight         = "weight"
)

// CheckApplyPath refuses an --apply target that is the job file itself or
// lies in another folder (relative paths in a job resolve against its own
// folder, so the copy must stay beside it).
func CheckApplyPath(jobFile, out string) error {
	ja, err := filepath.Abs(jobFile)
	if err != nil {
		return fmt.Errorf("--apply: %w", err)
	}
	oa, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("--apply: %w", err)
	}
	if ja == oa || sameFile(ja, oa) {
		return fmt.Errorf("--apply %s: is the job file; tune writes a copy, never the job file itself", out)
	}
	if filepath.Dir(ja) != filepath.Dir(oa) {
		return fmt.Errorf("--apply %s: must be in the job file's folder %s (the job's relative paths resolve against it)", out, filepath.Dir(ja))
	}
	return nil
}

func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// budgetKeysKnown reports whether the job package reads the budget keys
// (a field tagged selection_share on outputs).
func budgetKeysKnown() bool {
	t := reflect.TypeFor[job.Output]()
	for i := range t.NumField() {
		if t.Field(i).Tag.Get("mapstructure") == keySelectionShare {
			return true
		}
	}
	return false
}

// Apply writes the recommended values of r into out, a copy of jobFile
// (CheckApplyPath), keeping the rest of the file and its comments. The
// copy must load with job.LoadJob, or nothing is written. It returns
// notes for the user.
func Apply(jobFile, out string, r *Report) ([]string, error) {
	if err := CheckApplyPath(jobFile, out); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(jobFile)
	if err != nil {
		return nil, fmt.Errorf("--apply: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("--apply: read %s: %w", jobFile, err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("--apply: %s is empty", jobFile)
	}
	known := budgetKeysKnown()
	if err := applyReport(doc.Content[0], r, known); err != nil {
		return nil, fmt.Errorf("--apply: %w", err)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("--apply: %w", err)
	}
	f, err := atomicfile.Create(out, 0o644)
	if err != nil {
		return nil, fmt.Errorf("--apply: %w", err)
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Abort()
		return nil, fmt.Errorf("--apply: %w", err)
	}
	if _, err := job.LoadJob(f.TempPath()); err != nil {
		f.Abort()
		return nil, fmt.Errorf("--apply: the copy would not load, nothing written: %w", err)
	}
	if err := f.Commit(); err != nil {
		return nil, fmt.Errorf("--apply: %w", err)
	}
	notes := []string{fmt.Sprintf("wrote the recommended values into %s (the job file is unchanged)", out)}
	if !known {
		notes = append(notes, "this privagg does not read selection_share and weight yet: they are written as comments "+
			"(\"# privagg tune: ...\") on each output and metric; make them keys once it does")
	}
	return notes, nil
}

// selectsThroughCount reports whether output node on sets selection:
// count_threshold, which spends no epsilon on selection and so takes no
// selection_share (job validation refuses one).
func selectsThroughCount(on *yaml.Node) bool {
	v := mapValue(on, "selection")
	return v != nil && v.Kind == yaml.ScalarNode && v.Value == string(privacy.SelectCountThreshold)
}

// applyReport sets the recommended values in the job's root mapping.
func applyReport(root *yaml.Node, r *Report, known bool) error {
	outputs := mapValue(root, "outputs")
	if outputs == nil || outputs.Kind != yaml.SequenceNode {
		return errors.New("the job file has no outputs list")
	}
	for _, or := range r.Outputs {
		on := byName(outputs, or.Name)
		if on == nil {
			return fmt.Errorf("output %q is not in the job file", or.Name)
		}
		if r.Mode == "raw" {
			setScalar(on, "max_partitions_per_unit", strconv.FormatInt(or.L0.Recommended, 10), "!!int")
			var budget []string
			if !or.Public && !selectsThroughCount(on) {
				budget = append(budget, keyValue(keySelectionShare, or.SelectionShare.Recommended))
			}
			budget = append(budget, keyValue(keyWeight, or.Weight.Recommended))
			setBudget(on, budget, known)
		}
		metrics := mapValue(on, "metrics")
		for _, mr := range or.Metrics {
			mn := byName(metrics, mr.Name)
			if mn == nil {
				return fmt.Errorf("metric %q of output %q is not in the job file", mr.Name, or.Name)
			}
			if mr.Linf != nil {
				setScalar(mn, "max_per_unit", strconv.FormatInt(mr.Linf.Recommended, 10), "!!int")
			}
			if mr.Clamp != nil {
				setScalar(mn, "min", fmtYAML(mr.Clamp.Recommended.Min), "!!float")
				setScalar(mn, "max", fmtYAML(mr.Clamp.Recommended.Max), "!!float")
			}
			if r.Mode == "raw" {
				setBudget(mn, []string{keyValue(keyWeight, mr.Weight.Recommended)}, known)
			}
		}
	}
	return nil
}

func keyValue(k string, v float64) string { return k + ": " + fmtYAML(v) }

func fmtYAML(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// setBudget writes "key: value" pairs as keys when known, else as one
// comment on the mapping's name key.
func setBudget(m *yaml.Node, kvs []string, known bool) {
	if known {
		for _, kv := range kvs {
			k, v, _ := strings.Cut(kv, ": ")
			setScalar(m, k, v, "!!float")
		}
		return
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "name" {
			v := m.Content[i+1]
			c := "# privagg tune: " + strings.Join(kvs, ", ")
			if v.LineComment != "" {
				c = v.LineComment + "; privagg tune: " + strings.Join(kvs, ", ")
			}
			v.LineComment = c
		}
	}
	if m.Style == yaml.FlowStyle {
		m.Style = 0 // a flow mapping cannot carry the comment inside it
	}
}

// mapValue is the value node of key in mapping m, or nil.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// byName is the mapping in sequence s whose name is name, or nil.
func byName(s *yaml.Node, name string) *yaml.Node {
	if s == nil || s.Kind != yaml.SequenceNode {
		return nil
	}
	for _, n := range s.Content {
		if v := mapValue(n, "name"); v != nil && v.Value == name {
			return n
		}
	}
	return nil
}

// setScalar sets key to value in mapping m, adding the key if absent.
// The tag follows the value (!!int for an integral number) so that the
// encoder writes no explicit tag.
func setScalar(m *yaml.Node, key, value, tag string) {
	if _, err := strconv.ParseInt(value, 10, 64); err == nil {
		tag = "!!int"
	}
	if v := mapValue(m, key); v != nil {
		v.Kind, v.Tag, v.Value, v.Style = yaml.ScalarNode, tag, value, 0
		v.Content = nil
		return
	}
	m.Content = append(m.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key},
		&yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value})
}
