//go:build duckdb_arrow

package duckarrow

import (
	"database/sql/driver"

	"github.com/duckdb/duckdb-go/v2"
)

// Available reports whether this binary was built with Tag.
const Available = true

// Open returns the Arrow interface of a DuckDB driver connection.
func Open(conn driver.Conn) (Conn, error) {
	a, err := duckdb.NewArrowFromConn(conn)
	if err != nil {
		return nil, err
	}
	return a, nil
}
