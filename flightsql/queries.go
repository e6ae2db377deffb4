package flightsql

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	afsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/privagg/privagg/catalog"
	"github.com/privagg/privagg/release"
)

// Queries. The server keeps no state between calls: a statement's ticket
// and a prepared statement's handle are the SQL itself, checked again (in a
// new sandbox) whenever it runs, so a forged handle is just another query.
// GetFlightInfo checks the query without running it; DoGet runs it and
// streams DuckDB's batches. A prepared statement's result schema is known
// only by running the query, once, when it is prepared.

// GetFlightInfoStatement checks the query and returns the ticket that runs
// it.
func (s *Server) GetFlightInfoStatement(ctx context.Context, cmd afsql.StatementQuery, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	if err := noTransaction(cmd.GetTransactionId()); err != nil {
		return nil, err
	}
	if err := s.check(ctx, cmd.GetQuery()); err != nil {
		return nil, err
	}
	ticket, err := afsql.CreateStatementQueryTicket([]byte(cmd.GetQuery()))
	if err != nil {
		return nil, status.Errorf(codes.Internal, "privagg flight sql: ticket: %v", err)
	}
	return flightInfo(desc, ticket), nil
}

// GetSchemaStatement runs the query for its result's schema.
func (s *Server) GetSchemaStatement(ctx context.Context, cmd afsql.StatementQuery, _ *flight.FlightDescriptor) (*flight.SchemaResult, error) {
	if err := noTransaction(cmd.GetTransactionId()); err != nil {
		return nil, err
	}
	sc, err := s.schema(ctx, cmd.GetQuery())
	if err != nil {
		return nil, err
	}
	return &flight.SchemaResult{Schema: flight.SerializeSchema(sc, s.cfg.Alloc)}, nil
}

// DoGetStatement runs the query of a ticket and streams its result.
func (s *Server) DoGetStatement(ctx context.Context, cmd afsql.StatementQueryTicket) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	return s.stream(ctx, string(cmd.GetStatementHandle()))
}

// CreatePreparedStatement checks and runs the query for its result schema
// (which JDBC drivers need before they execute) and returns the handle.
// Parameters are not supported: the parameter schema is empty.
func (s *Server) CreatePreparedStatement(ctx context.Context, req afsql.ActionCreatePreparedStatementRequest) (afsql.ActionCreatePreparedStatementResult, error) {
	var res afsql.ActionCreatePreparedStatementResult
	if err := noTransaction(req.GetTransactionId()); err != nil {
		return res, err
	}
	sc, err := s.schema(ctx, req.GetQuery())
	if err != nil {
		return res, err
	}
	return afsql.ActionCreatePreparedStatementResult{
		Handle:          []byte(req.GetQuery()),
		DatasetSchema:   sc,
		ParameterSchema: arrow.NewSchema(nil, nil),
	}, nil
}

// ClosePreparedStatement has nothing to free: the handle is the query.
func (s *Server) ClosePreparedStatement(context.Context, afsql.ActionClosePreparedStatementRequest) error {
	return nil
}

// GetFlightInfoPreparedStatement checks the prepared query and returns the
// ticket that runs it.
func (s *Server) GetFlightInfoPreparedStatement(ctx context.Context, cmd afsql.PreparedStatementQuery, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	if err := s.check(ctx, string(cmd.GetPreparedStatementHandle())); err != nil {
		return nil, err
	}
	// The descriptor's command is the ticket: the framework routes it to
	// DoGetPreparedStatement.
	return flightInfo(desc, desc.Cmd), nil
}

// GetSchemaPreparedStatement runs the prepared query for its schema.
func (s *Server) GetSchemaPreparedStatement(ctx context.Context, cmd afsql.PreparedStatementQuery, _ *flight.FlightDescriptor) (*flight.SchemaResult, error) {
	sc, err := s.schema(ctx, string(cmd.GetPreparedStatementHandle()))
	if err != nil {
		return nil, err
	}
	return &flight.SchemaResult{Schema: flight.SerializeSchema(sc, s.cfg.Alloc)}, nil
}

// DoGetPreparedStatement runs the prepared query and streams its result.
func (s *Server) DoGetPreparedStatement(ctx context.Context, cmd afsql.PreparedStatementQuery) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	return s.stream(ctx, string(cmd.GetPreparedStatementHandle()))
}

// DoPutPreparedStatementQuery would bind parameters, which the sandbox does
// not take.
func (s *Server) DoPutPreparedStatementQuery(context.Context, afsql.PreparedStatementQuery, flight.MessageReader, flight.MetadataWriter) ([]byte, error) {
	return nil, status.Error(codes.InvalidArgument, "privagg flight sql: query parameters are not supported: write the values into the SQL")
}

func flightInfo(desc *flight.FlightDescriptor, ticket []byte) *flight.FlightInfo {
	return &flight.FlightInfo{
		Endpoint:         []*flight.FlightEndpoint{{Ticket: &flight.Ticket{Ticket: ticket}}},
		FlightDescriptor: desc,
		TotalRecords:     -1,
		TotalBytes:       -1,
	}
}

// noTransaction refuses a transaction id: the released tables are read-only.
func noTransaction(id []byte) error {
	if len(id) > 0 {
		return status.Error(codes.InvalidArgument, "privagg flight sql: transactions are not supported: the released tables are read-only")
	}
	return nil
}

// open opens a sandbox for one query.
func (s *Server) open(ctx context.Context) (*catalog.DB, error) {
	db, err := s.cfg.Open(ctx)
	if err != nil {
		return nil, s.status(err)
	}
	for _, w := range db.Warnings() {
		s.cfg.Logger.Warn("flight sql: " + w)
	}
	return db, nil
}

// check refuses sql as privagg query would, without running it.
func (s *Server) check(ctx context.Context, sql string) error {
	db, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Check(ctx, sql); err != nil {
		return s.status(err)
	}
	return nil
}

// schema runs sql for the schema of its result.
func (s *Server) schema(ctx context.Context, sql string) (*arrow.Schema, error) {
	db, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rr, err := db.Query(ctx, sql)
	if err != nil {
		return nil, s.status(err)
	}
	defer rr.Release()
	return rr.Schema(), nil
}

// stream runs sql in a new sandbox and streams DuckDB's batches; the
// sandbox closes when the stream ends.
func (s *Server) stream(ctx context.Context, sql string) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	db, err := s.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	rr, err := db.Query(ctx, sql)
	if err != nil {
		db.Close()
		return nil, nil, s.status(err)
	}
	r := &sandboxReader{RecordReader: rr, db: db, s: s}
	r.refs.Store(1)
	ch := make(chan flight.StreamChunk)
	go flight.StreamChunksFromReader(ctx, r, ch)
	return rr.Schema(), ch, nil
}

// sandboxReader is a query's result that closes its sandbox when released.
type sandboxReader struct {
	array.RecordReader
	db    *catalog.DB
	s     *Server
	refs  atomic.Int64
	close sync.Once
}

func (r *sandboxReader) Retain() {
	r.refs.Add(1)
	r.RecordReader.Retain()
}

func (r *sandboxReader) Release() {
	r.RecordReader.Release()
	if r.refs.Add(-1) == 0 {
		r.close.Do(func() {
			if err := r.db.Close(); err != nil {
				r.s.cfg.Logger.Warn("flight sql: close a query's sandbox", "err", err)
			}
		})
	}
}

// Err is the error that ended the stream, as the client is shown it.
func (r *sandboxReader) Err() error {
	if err := r.RecordReader.Err(); err != nil {
		return r.s.status(catalog.QueryErr(err))
	}
	return nil
}

// status turns an error into the status a client gets. A refused or
// invalid query keeps the message privagg query prints; an integrity error
// says which file changed; anything else is logged and reported without
// detail.
func (s *Server) status(err error) error {
	var qe *catalog.QueryError
	var ie *release.IntegrityError
	switch {
	case errors.As(err, &qe) && qe.Refused:
		return status.Error(codes.PermissionDenied, qe.Error())
	case errors.As(err, &qe):
		return status.Error(codes.InvalidArgument, qe.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "privagg flight sql: the call was cancelled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "privagg flight sql: the call's deadline passed")
	case errors.As(err, &ie):
		return status.Error(codes.FailedPrecondition, err.Error())
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	s.cfg.Logger.Error("flight sql: query failed", "err", err)
	return status.Error(codes.Internal, "privagg flight sql: the query failed on the server; its log says why")
}
