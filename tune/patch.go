package tune

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// yamlPatch edits a YAML file's text in place, guided by its node tree
// (yaml.v3 node positions): values are replaced where they stand and keys
// added at the end of their mapping, so everything else of the file (its
// layout, blank lines, comments and their alignment) stays byte for byte.
type yamlPatch struct {
	src       []byte
	lineStart []int // byte offset of each line's start, 0-based lines
	edits     []textEdit
}

// textEdit replaces del bytes at byte offset at with ins. Edits at one
// offset end up in rank order, then in the order they were made.
type textEdit struct {
	at, del int
	ins     string
	rank    int
}

func newYAMLPatch(src []byte) *yamlPatch {
	p := &yamlPatch{src: src, lineStart: []int{0}}
	for i, b := range src {
		if b == '\n' {
			p.lineStart = append(p.lineStart, i+1)
		}
	}
	return p
}

// offset is the byte offset of a node position (1-based line and column,
// the column counted in characters).
func (p *yamlPatch) offset(line, col int) (int, error) {
	if line < 1 || line > len(p.lineStart) {
		return 0, fmt.Errorf("line %d is outside the file", line)
	}
	off := p.lineStart[line-1]
	for range col - 1 {
		if off >= len(p.src) {
			return 0, fmt.Errorf("line %d column %d is outside the file", line, col)
		}
		_, n := utf8.DecodeRune(p.src[off:])
		off += n
	}
	return off, nil
}

// scalarSpan is the byte range of scalar v's text: plain, single- or
// double-quoted, on one line.
func (p *yamlPatch) scalarSpan(v *yaml.Node) (start, end int, err error) {
	start, err = p.offset(v.Line, v.Column)
	if err != nil {
		return 0, 0, err
	}
	rest := p.src[start:]
	switch {
	case v.Style == 0 && bytes.HasPrefix(rest, []byte(v.Value)):
		return start, start + len(v.Value), nil
	case v.Style == yaml.DoubleQuotedStyle && len(rest) > 0 && rest[0] == '"':
		for i := 1; i < len(rest) && rest[i] != '\n'; i++ {
			switch rest[i] {
			case '\\':
				i++ // an escape: skip the escaped character
			case '"':
				return start, start + i + 1, nil
			}
		}
	case v.Style == yaml.SingleQuotedStyle && len(rest) > 0 && rest[0] == '\'':
		for i := 1; i < len(rest) && rest[i] != '\n'; i++ {
			if rest[i] == '\'' {
				if i+1 < len(rest) && rest[i+1] == '\'' {
					i++ // '' is an escaped quote
					continue
				}
				return start, start + i + 1, nil
			}
		}
	}
	return 0, 0, fmt.Errorf("line %d: the value of this key is not a one-line scalar", v.Line)
}

// set sets key to the plain scalar value in mapping m: in place when the
// key exists, otherwise as a new key after the mapping's last entry.
func (p *yamlPatch) set(m *yaml.Node, key, value string) error {
	if v := mapValue(m, key); v != nil {
		if v.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: %s is not a scalar", v.Line, key)
		}
		start, end, err := p.scalarSpan(v)
		if err != nil {
			return err
		}
		p.edits = append(p.edits, textEdit{at: start, del: end - start, ins: value})
		return nil
	}
	if len(m.Content) < 2 {
		return fmt.Errorf("line %d: cannot add %s to an empty mapping", m.Line, key)
	}
	last := m.Content[len(m.Content)-1]
	if m.Style&yaml.FlowStyle != 0 {
		if last.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: cannot add %s after a nested flow value", last.Line, key)
		}
		_, end, err := p.scalarSpan(last)
		if err != nil {
			return err
		}
		p.edits = append(p.edits, textEdit{at: end, ins: ", " + key + ": " + value})
		return nil
	}
	indent := string(bytes.Repeat([]byte{' '}, m.Content[0].Column-1))
	// A nested mapping can end on the same line as its parent: its new
	// keys go first (rank: deeper is lower).
	rank := -len(indent)
	line := maxLine(m) // 1-based: insert at the start of the next line
	if line < len(p.lineStart) {
		p.edits = append(p.edits, textEdit{at: p.lineStart[line], ins: indent + key + ": " + value + "\n", rank: rank})
	} else {
		p.edits = append(p.edits, textEdit{at: len(p.src), ins: "\n" + indent + key + ": " + value + "\n", rank: rank})
	}
	return nil
}

// comment appends text as a comment to the end of node n's line.
func (p *yamlPatch) comment(n *yaml.Node, text string) error {
	if n.Line < 1 || n.Line > len(p.lineStart) {
		return fmt.Errorf("line %d is outside the file", n.Line)
	}
	end := len(p.src)
	if n.Line < len(p.lineStart) {
		end = p.lineStart[n.Line] - 1
	}
	if end > 0 && p.src[end-1] == '\r' {
		end--
	}
	sep := " # "
	if n.LineComment != "" {
		sep = "; "
	}
	p.edits = append(p.edits, textEdit{at: end, ins: sep + text})
	return nil
}

// prepend inserts text at the start of the file.
func (p *yamlPatch) prepend(text string) {
	p.edits = append(p.edits, textEdit{at: 0, ins: text, rank: math.MinInt})
}

// bytes is the edited text. Edits at one offset keep their order.
func (p *yamlPatch) bytes() []byte {
	idx := make([]int, len(p.edits))
	for i := range idx {
		idx[i] = i
	}
	// From the end of the file back, so earlier offsets stay valid; at one
	// offset the edit that ends up last is applied first.
	slices.SortFunc(idx, func(a, b int) int {
		ea, eb := p.edits[a], p.edits[b]
		if ea.at != eb.at {
			return eb.at - ea.at
		}
		if ea.rank != eb.rank {
			return eb.rank - ea.rank
		}
		return b - a
	})
	out := slices.Clone(p.src)
	for _, i := range idx {
		e := p.edits[i]
		out = slices.Concat(out[:e.at], []byte(e.ins), out[e.at+e.del:])
	}
	return out
}

// maxLine is the last line any node of n's tree starts on.
func maxLine(n *yaml.Node) int {
	m := n.Line
	for _, c := range n.Content {
		m = max(m, maxLine(c))
	}
	return m
}

// coarse rounds x to 2 significant digits, away from the data (up when
// up, else down), so that a bound written into a job file carries no
// exact data percentile.
func coarse(x float64, up bool) float64 {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	step := math.Pow(10, math.Floor(math.Log10(math.Abs(x)))-1)
	r := math.Floor(x / step)
	if up {
		r = math.Ceil(x / step)
	}
	v, err := strconv.ParseFloat(strconv.FormatFloat(r*step, 'g', 2, 64), 64)
	if err != nil {
		return r * step
	}
	return v
}
