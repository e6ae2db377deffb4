package pipeline

import "github.com/privagg/privagg/transforms"

// Transform is the scalar transform of derived column name, the one
// definition the embedded engine's SQL and other engines' row functions
// (the Beam engine's, through transforms.Eval) share.
func (c DerivedColumn) Transform(name string) (transforms.Derived, error) {
	return newDerived(name, c)
}
