package transforms

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"regexp"

	"github.com/duckdb/duckdb-go/v2"
)

// udfNameRE is what RegisterUDF accepts as a function name: a plain SQL
// identifier that needs no quoting.
var udfNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// RegisterUDF registers on conn the DuckDB scalar function fn(VARCHAR) ->
// VARCHAR computing p.Pseudonym(value), the keyed pseudonym of the value as
// given: pass the canonical person id (CanonicalUnitSQL), the form every
// other step uses. NULL gives NULL. The function is deterministic, so DuckDB
// may fold it over constants.
//
// With it a staging query pseudonymizes in one vectorized statement, such as
//
//	SELECT fn(CAST("user_id" AS VARCHAR)) AS "user_id", ... FROM events
//
// and the key never appears in SQL text. Cast non-text columns to VARCHAR
// explicitly: DuckDB does not cast implicitly to VARCHAR. fn must match
// [a-z_][a-z0-9_]* and is visible to every connection of conn's database.
func RegisterUDF(conn *sql.Conn, fn string, p *Pseudonymizer) error {
	if conn == nil || p == nil {
		return errors.New("register pseudonym function: nil connection or pseudonymizer")
	}
	if !udfNameRE.MatchString(fn) {
		return fmt.Errorf("register pseudonym function %q: name must match %s", fn, udfNameRE)
	}
	varchar, err := duckdb.NewTypeInfo(duckdb.TYPE_VARCHAR)
	if err != nil {
		return fmt.Errorf("register pseudonym function %s: %w", fn, err)
	}
	f := &pseudonymUDF{p: p, varchar: varchar}
	if err := duckdb.RegisterScalarUDF(conn, fn, f); err != nil {
		return fmt.Errorf("register pseudonym function %s: %w", fn, err)
	}
	return nil
}

// pseudonymUDF implements duckdb.ScalarFunc.
type pseudonymUDF struct {
	p       *Pseudonymizer
	varchar duckdb.TypeInfo
}

var _ duckdb.ScalarFunc = (*pseudonymUDF)(nil)

func (u *pseudonymUDF) Config() duckdb.ScalarFuncConfig {
	return duckdb.ScalarFuncConfig{
		InputTypeInfos: []duckdb.TypeInfo{u.varchar},
		ResultTypeInfo: u.varchar,
		// Default NULL handling: NULL in, NULL out, without calling the executor.
	}
}

func (u *pseudonymUDF) Executor() duckdb.ScalarFuncExecutor {
	return duckdb.ScalarFuncExecutor{RowExecutor: u.row}
}

func (u *pseudonymUDF) row(values []driver.Value) (any, error) {
	s, ok := values[0].(string)
	if !ok {
		// Never print the value itself.
		return nil, fmt.Errorf("pseudonym function: argument is %T, want VARCHAR", values[0])
	}
	return u.p.Pseudonym(s), nil
}
