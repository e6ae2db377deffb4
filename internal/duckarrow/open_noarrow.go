//go:build !duckdb_arrow

package duckarrow

import "database/sql/driver"

// Available reports whether this binary was built with Tag.
const Available = false

// Open returns ErrNotBuilt: this binary was built without Tag.
func Open(driver.Conn) (Conn, error) { return nil, ErrNotBuilt }
