package job

import (
	"fmt"

	"github.com/privagg/privagg/transforms"
)

// Transform is the scalar transform of derived column name, the one
// definition the embedded engine's SQL and other engines' row functions
// (the Beam engine's, through transforms.Eval) share.
func (c DerivedColumn) Transform(name string) (transforms.Derived, error) {
	switch {
	case len(c.Bins) > 0:
		return transforms.NewBins(name, c.From, c.Bins)
	case c.Truncate != "":
		return transforms.NewTruncate(name, c.From, c.Truncate, c.Format)
	case c.Part != "":
		return transforms.NewPart(name, c.From, c.Part, c.Format)
	case c.Prefix > 0:
		return transforms.NewPrefix(name, c.From, c.Prefix)
	case c.Map != nil:
		return transforms.NewMap(name, c.From, c.Map.File, c.Map.Default)
	}
	return nil, fmt.Errorf("one of bins, truncate, part, prefix or map is required")
}
