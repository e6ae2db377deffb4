// Package flightsql is the Arrow Flight SQL endpoint of privagg serve
// (--flight-addr): the sandbox of privagg query (catalog.DB) over gRPC, so
// that JDBC, ADBC, pandas, Polars and BI tools read the released tables, and
// nothing else, with the rules of the CLI.
//
// Every query runs in a sandbox of its own, opened by Config.Open when the
// query arrives and closed when its result has been sent: it sees the
// releases published at that moment, and a refused query is refused by
// catalog.DB.Check with the CLI's message. Results stream as DuckDB's Arrow
// record batches, unchanged.
//
// Every call needs the token as gRPC metadata "authorization: Bearer TOKEN"
// (console.BearerOK); a server on loopback answers only calls addressed to
// a loopback name, as the console does. There is no TLS: off the machine,
// use an SSH tunnel or a TLS-terminating proxy.
package flightsql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	afsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/privagg/privagg/catalog"
	"github.com/privagg/privagg/console"
	"github.com/privagg/privagg/internal/version"
)

// Opener opens a new sandbox over the released tables (catalog.OpenDB over
// a freshly loaded catalog); the server closes it.
type Opener func(ctx context.Context) (*catalog.DB, error)

// Config says what the endpoint serves and who may call it.
type Config struct {
	// Open opens the sandbox of one query. Required.
	Open Opener
	// Token is required on every call, at least console.MinTokenLength
	// characters. Required.
	Token string
	// Loopback says the server listens on a loopback address only: it then
	// answers only calls whose :authority is a loopback name.
	Loopback bool
	// Logger receives the errors a client is not shown; nil discards them.
	Logger *slog.Logger
	// Alloc allocates the batches the server builds itself (table lists,
	// SQL info); nil is memory.DefaultAllocator. Query results are
	// DuckDB's batches.
	Alloc memory.Allocator
}

// Server is the Flight SQL service. Its methods are called by arrow-go's
// Flight SQL framework; Serve runs it.
type Server struct {
	afsql.BaseServer
	cfg  Config
	grpc *grpc.Server
}

var _ afsql.Server = (*Server)(nil)

// New checks cfg and returns the server.
func New(cfg Config) (*Server, error) {
	if cfg.Open == nil {
		return nil, errors.New("flight sql: no sandbox to serve (Config.Open is nil)")
	}
	if len(cfg.Token) < console.MinTokenLength {
		return nil, fmt.Errorf("flight sql: token: has %d characters, want at least %d", len(cfg.Token), console.MinTokenLength)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Alloc == nil {
		cfg.Alloc = memory.DefaultAllocator
	}
	s := &Server{cfg: cfg}
	s.Alloc = cfg.Alloc
	if err := s.registerSQLInfo(); err != nil {
		return nil, err
	}
	s.grpc = grpc.NewServer(
		grpc.ChainUnaryInterceptor(s.unaryAuth),
		grpc.ChainStreamInterceptor(s.streamAuth),
	)
	flight.RegisterFlightServiceServer(s.grpc, afsql.NewFlightServerWithAllocator(s, cfg.Alloc))
	return s, nil
}

// Serve answers calls on ln until ctx ends, then lets calls in flight finish
// for up to 5 seconds before it cuts them.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- s.grpc.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("flight sql: %w", err)
	case <-ctx.Done():
	}
	stopped := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		s.grpc.Stop()
	}
	return nil
}

// errUnauthenticated is the answer to a call without the right token. It
// says how to send one, never what was sent.
var errUnauthenticated = status.Error(codes.Unauthenticated,
	`privagg flight sql: the token is missing or not valid: send it as gRPC metadata "authorization: Bearer TOKEN"`)

// authorize checks the call's metadata: the loopback rule, then the token.
func (s *Server) authorize(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	if s.cfg.Loopback {
		// As the console: a server on loopback answers only calls made to
		// a loopback name.
		if a := md.Get(":authority"); len(a) != 1 || !console.LoopbackHost(a[0]) {
			return status.Error(codes.PermissionDenied, "privagg flight sql: this endpoint answers only at 127.0.0.1, [::1] or localhost")
		}
	}
	if h := md.Get("authorization"); len(h) != 1 || !console.BearerOK(h[0], s.cfg.Token) {
		s.cfg.Logger.Warn("flight sql: a call without a valid token")
		return errUnauthenticated
	}
	return nil
}

func (s *Server) unaryAuth(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if err := s.authorize(ctx); err != nil {
		return nil, err
	}
	return h(ctx, req)
}

func (s *Server) streamAuth(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if err := s.authorize(ss.Context()); err != nil {
		return err
	}
	return h(srv, ss)
}

// registerSQLInfo answers the GetSqlInfo a JDBC or ADBC driver asks for on
// connecting.
func (s *Server) registerSQLInfo() error {
	for id, v := range map[afsql.SqlInfo]any{
		afsql.SqlInfoFlightSqlServerName:         "privagg",
		afsql.SqlInfoFlightSqlServerVersion:      version.Version,
		afsql.SqlInfoFlightSqlServerArrowVersion: "18",
		afsql.SqlInfoFlightSqlServerReadOnly:     true,
		afsql.SqlInfoFlightSqlServerSql:          true,
		afsql.SqlInfoFlightSqlServerSubstrait:    false,
		afsql.SqlInfoFlightSqlServerTransaction:  int32(0), // SqlSupportedTransaction NONE
		afsql.SqlInfoFlightSqlServerCancel:       false,
		afsql.SqlInfoIdentifierQuoteChar:         `"`,
		afsql.SqlInfoDDLCatalog:                  false,
		afsql.SqlInfoDDLSchema:                   false,
		afsql.SqlInfoDDLTable:                    false,
	} {
		if err := s.RegisterSqlInfo(id, v); err != nil {
			return fmt.Errorf("flight sql: %w", err)
		}
	}
	return nil
}
