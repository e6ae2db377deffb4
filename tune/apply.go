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

// RawStamp marks a job file whose bounds raw-mode --apply wrote: they were
// chosen from the raw data, not with DP. `privagg run` warns when its job
// file has it (RawTuned).
const RawStamp = "# privagg tune: NON-PRIVATE"

// rawStampText is the comment raw-mode --apply puts at the top of the copy.
const rawStampText = RawStamp + ": bounds and budget split below were chosen by `privagg tune` from the raw input " +
	"(rounded to 2 significant digits). Publishing releases made with them is not DP; choose bounds with " +
	"`privagg tune --dp` or `auto` instead. `privagg run` warns while this line is here.\n"

// RawTuned reports whether a job file's text carries RawStamp at the
// start of a line.
func RawTuned(data []byte) bool {
	for line := range bytes.Lines(data) {
		if bytes.HasPrefix(bytes.TrimLeft(line, " \t"), []byte(RawStamp)) {
			return true
		}
	}
	return false
}

// Apply writes the recommended values of r into out, a copy of jobFile
// (CheckApplyPath): the values are edited in the file's text where they
// stand (yamlPatch), so the rest of the file, its layout and comments stay
// as they are. Raw mode rounds clamp bounds to 2 significant digits and
// stamps the copy (RawStamp). The copy must load with job.LoadJob, or
// nothing is written. It returns notes for the user.
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
	p := newYAMLPatch(data)
	if err := applyReport(p, doc.Content[0], r, known); err != nil {
		return nil, fmt.Errorf("--apply: %w", err)
	}
	if r.Mode == "raw" && !RawTuned(data) {
		p.prepend(rawStampText)
	}
	f, err := atomicfile.Create(out, 0o644)
	if err != nil {
		return nil, fmt.Errorf("--apply: %w", err)
	}
	if _, err := f.Write(p.bytes()); err != nil {
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
	if r.Mode == "raw" {
		notes = append(notes, "the copy's bounds come from the raw data (rounded to 2 significant digits) and it is stamped "+
			"\""+RawStamp+"\": `privagg run` warns on it; releases made with it are not DP in their bounds")
	}
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

// applyReport sets the recommended values of r through p, the job's root
// mapping being root.
func applyReport(p *yamlPatch, root *yaml.Node, r *Report, known bool) error {
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
			if err := p.set(on, "max_partitions_per_unit", strconv.FormatInt(or.L0.Recommended, 10)); err != nil {
				return fmt.Errorf("output %q: %w", or.Name, err)
			}
			var budget [][2]string
			if !or.Public && !selectsThroughCount(on) {
				budget = append(budget, [2]string{keySelectionShare, fmtYAML(or.SelectionShare.Recommended)})
			}
			budget = append(budget, [2]string{keyWeight, fmtYAML(or.Weight.Recommended)})
			if err := setBudget(p, on, budget, known); err != nil {
				return fmt.Errorf("output %q: %w", or.Name, err)
			}
		}
		metrics := mapValue(on, "metrics")
		for _, mr := range or.Metrics {
			mn := byName(metrics, mr.Name)
			if mn == nil {
				return fmt.Errorf("metric %q of output %q is not in the job file", mr.Name, or.Name)
			}
			var kvs [][2]string
			if mr.Linf != nil {
				kvs = append(kvs, [2]string{"max_per_unit", strconv.FormatInt(mr.Linf.Recommended, 10)})
			}
			if mr.Clamp != nil {
				lo, hi := mr.Clamp.Recommended.Min, mr.Clamp.Recommended.Max
				if r.Mode == "raw" {
					lo, hi = coarse(lo, false), coarse(hi, true)
				}
				kvs = append(kvs, [2]string{"min", fmtYAML(lo)}, [2]string{"max", fmtYAML(hi)})
			}
			for _, kv := range kvs {
				if err := p.set(mn, kv[0], kv[1]); err != nil {
					return fmt.Errorf("metric %q of output %q: %w", mr.Name, or.Name, err)
				}
			}
			if r.Mode == "raw" {
				if err := setBudget(p, mn, [][2]string{{keyWeight, fmtYAML(mr.Weight.Recommended)}}, known); err != nil {
					return fmt.Errorf("metric %q of output %q: %w", mr.Name, or.Name, err)
				}
			}
		}
	}
	return nil
}

func fmtYAML(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// setBudget writes key-value pairs as keys when known, else as one
// comment on the mapping's name line.
func setBudget(p *yamlPatch, m *yaml.Node, kvs [][2]string, known bool) error {
	if known {
		for _, kv := range kvs {
			if err := p.set(m, kv[0], kv[1]); err != nil {
				return err
			}
		}
		return nil
	}
	name := mapValue(m, "name")
	if name == nil {
		return errors.New("has no name")
	}
	var parts []string
	for _, kv := range kvs {
		parts = append(parts, kv[0]+": "+kv[1])
	}
	return p.comment(name, "privagg tune: "+strings.Join(parts, ", "))
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
