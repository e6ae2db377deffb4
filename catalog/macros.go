package catalog

import (
	"github.com/privagg/privagg/internal/sqlq"

	"context"
	"fmt"
)

// Macros are the functions a query can call beyond DuckDB's own: helpers
// for combining noisy rows correctly (see docs/analysts.md). They are
// created before the configuration is locked, as TEMP macros of the
// sandbox's own connection; a query cannot create, replace or drop one
// (DDL is refused).
var macros = []struct{ name, def string }{
	// ci95_sum(ci95) is the 95% half-width of the SUM of the rows'
	// values, given each row's half-width: the noise of different rows is
	// independent, so variances (and with them squared half-widths) add.
	// Exact for Gaussian noise, slightly conservative for Laplace.
	{"ci95_sum", "(ci95) AS sqrt(sum(ci95 * ci95))"},
}

// createMacros creates the sandbox's macros.
func (db *DB) createMacros(ctx context.Context) error {
	for _, m := range macros {
		if err := db.eng.Exec(ctx, "CREATE TEMP MACRO "+sqlq.Ident(m.name)+m.def); err != nil {
			return fmt.Errorf("create macro %s: %w", m.name, err)
		}
	}
	return nil
}
