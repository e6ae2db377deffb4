package flightsql

import (
	"github.com/privagg/privagg/internal/sqlq"

	"context"
	"regexp"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	afsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql/schema_ref"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The catalog as SQL clients browse it: the released tables of
// `privagg query --tables`, of type TABLE, with no catalog and no schema
// (clients show them at the top level and query them by their plain names,
// the only names the sandbox accepts).

// tableType is the type of every released table.
const tableType = "TABLE"

// GetFlightInfoCatalogs: there are no catalogs.
func (s *Server) GetFlightInfoCatalogs(_ context.Context, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.metadataInfo(desc, schema_ref.Catalogs), nil
}

// DoGetCatalogs streams an empty list.
func (s *Server) DoGetCatalogs(context.Context) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	return s.streamRows(schema_ref.Catalogs, nil)
}

// GetFlightInfoSchemas: there are no schemas.
func (s *Server) GetFlightInfoSchemas(_ context.Context, _ afsql.GetDBSchemas, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.metadataInfo(desc, schema_ref.DBSchemas), nil
}

// DoGetDBSchemas streams an empty list.
func (s *Server) DoGetDBSchemas(context.Context, afsql.GetDBSchemas) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	return s.streamRows(schema_ref.DBSchemas, nil)
}

// GetFlightInfoTableTypes returns the ticket of the table types.
func (s *Server) GetFlightInfoTableTypes(_ context.Context, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.metadataInfo(desc, schema_ref.TableTypes), nil
}

// DoGetTableTypes streams the one table type, TABLE.
func (s *Server) DoGetTableTypes(context.Context) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	return s.streamRows(schema_ref.TableTypes, [][]any{{tableType}})
}

// GetFlightInfoTables returns the ticket of the table list.
func (s *Server) GetFlightInfoTables(_ context.Context, cmd afsql.GetTables, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	sc := schema_ref.Tables
	if cmd.GetIncludeSchema() {
		sc = schema_ref.TablesWithIncludedSchema
	}
	return s.metadataInfo(desc, sc), nil
}

// DoGetTables streams the released tables that match the request's
// filters, with each table's Arrow schema if asked.
func (s *Server) DoGetTables(ctx context.Context, cmd afsql.GetTables) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	sc := schema_ref.Tables
	if cmd.GetIncludeSchema() {
		sc = schema_ref.TablesWithIncludedSchema
	}
	if !matchesNoCatalog(cmd) {
		return s.streamRows(sc, nil)
	}
	db, err := s.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer db.Close()
	var rows [][]any
	for _, t := range db.Tables() {
		if p := cmd.GetTableNameFilterPattern(); p != nil && !like(*p, t.Name) {
			continue
		}
		row := []any{nil, nil, t.Name, tableType}
		if cmd.GetIncludeSchema() {
			rr, err := db.Query(ctx, "SELECT * FROM "+sqlq.Ident(t.Name)+" LIMIT 0")
			if err != nil {
				return nil, nil, s.status(err)
			}
			row = append(row, flight.SerializeSchema(rr.Schema(), s.cfg.Alloc))
			rr.Release()
		}
		rows = append(rows, row)
	}
	return s.streamRows(sc, rows)
}

// matchesNoCatalog reports whether the request's catalog, schema and table
// type filters admit tables that have no catalog and no schema and are of
// type TABLE.
func matchesNoCatalog(cmd afsql.GetTables) bool {
	if c := cmd.GetCatalog(); c != nil && *c != "" {
		return false
	}
	if p := cmd.GetDBSchemaFilterPattern(); p != nil && !like(*p, "") {
		return false
	}
	if types := cmd.GetTableTypes(); len(types) > 0 && !slices.ContainsFunc(types, func(t string) bool { return strings.EqualFold(t, tableType) }) {
		return false
	}
	return true
}

// like reports whether s matches the SQL LIKE pattern p of a Flight SQL
// filter: % any run of characters, _ one character, \ escapes the next.
func like(p, s string) bool {
	var re strings.Builder
	re.WriteString("(?s)^")
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\' && i+1 < len(p):
			i++
			re.WriteString(regexp.QuoteMeta(p[i : i+1]))
		case c == '%':
			re.WriteString(".*")
		case c == '_':
			re.WriteString(".")
		default:
			re.WriteString(regexp.QuoteMeta(p[i : i+1]))
		}
	}
	re.WriteString("$")
	ok, err := regexp.MatchString(re.String(), s)
	return err == nil && ok
}

// metadataInfo is the FlightInfo of a metadata command: its schema, and
// the command itself as the ticket (the framework routes it to DoGet*).
func (s *Server) metadataInfo(desc *flight.FlightDescriptor, sc *arrow.Schema) *flight.FlightInfo {
	info := flightInfo(desc, desc.Cmd)
	info.Schema = flight.SerializeSchema(sc, s.cfg.Alloc)
	return info
}

// streamRows streams rows (Go values: string, []byte or nil per column of
// sc) as one batch.
func (s *Server) streamRows(sc *arrow.Schema, rows [][]any) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	b := array.NewRecordBuilder(s.cfg.Alloc, sc)
	defer b.Release()
	for _, row := range rows {
		for i, v := range row {
			switch fb := b.Field(i).(type) {
			case *array.StringBuilder:
				if str, ok := v.(string); ok {
					fb.Append(str)
				} else {
					fb.AppendNull()
				}
			case *array.BinaryBuilder:
				if bs, ok := v.([]byte); ok {
					fb.Append(bs)
				} else {
					fb.AppendNull()
				}
			default:
				return nil, nil, status.Errorf(codes.Internal, "privagg flight sql: metadata column %s has type %s", sc.Field(i).Name, sc.Field(i).Type)
			}
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	rr, err := array.NewRecordReader(sc, []arrow.RecordBatch{rec})
	if err != nil {
		return nil, nil, status.Errorf(codes.Internal, "privagg flight sql: %v", err)
	}
	ch := make(chan flight.StreamChunk, 1)
	go flight.StreamChunksFromReader(context.Background(), rr, ch)
	return sc, ch, nil
}
