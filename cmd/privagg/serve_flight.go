package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/spf13/pflag"

	"github.com/privagg/privagg/catalog"
	"github.com/privagg/privagg/console"
	"github.com/privagg/privagg/flightsql"
	"github.com/privagg/privagg/privacy"
)

// flightServe is privagg serve's --flight-addr: the sandbox of privagg query
// over Arrow Flight SQL, beside the console, with the console's token and
// address rules (docs/analysts.md).
type flightServe struct {
	addr     string
	loopback bool
}

func (f *flightServe) flags(fs *pflag.FlagSet) {
	fs.StringVar(&f.addr, "flight-addr", "", "also serve the released tables over Arrow Flight SQL (gRPC, no TLS) at HOST:PORT, "+
		"as privagg query does, with the console's token; other than loopback needs a token you give")
}

// check applies the console's address rule to --flight-addr: an address
// other than loopback needs a token the user gave (tokenGiven), not one
// drawn for this run.
func (f *flightServe) check(tokenGiven bool) error {
	if f.addr == "" {
		return nil
	}
	var err error
	if f.loopback, err = console.IsLoopback(f.addr); err != nil {
		return usageError{fmt.Errorf("--flight-addr: %w", err)}
	}
	if !f.loopback && !tokenGiven {
		return usageError{fmt.Errorf("--flight-addr %s: is reachable from other machines, so Flight SQL needs a token: "+
			"set %s (or --token) to a secret of at least %d characters, or bind 127.0.0.1", f.addr, serveTokenEnv, console.MinTokenLength)}
	}
	return nil
}

// start listens on --flight-addr and serves there, until ctx ends, what
// the console cfg reads; it prints the address on stdout. wait returns
// when the server has stopped. Without --flight-addr it does nothing.
func (f *flightServe) start(ctx context.Context, stdout io.Writer, logger *slog.Logger, cfg console.Config) (wait func() error, err error) {
	if f.addr == "" {
		return func() error { return nil }, nil
	}
	open, err := sandboxOpener(cfg)
	if err != nil {
		return nil, err
	}
	srv, err := flightsql.New(flightsql.Config{Open: open, Token: cfg.Token, Loopback: f.loopback, Logger: logger})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return nil, fmt.Errorf("serve: --flight-addr: %w", err)
	}
	fmt.Fprintf(stdout, "privagg serve: Flight SQL on grpc://%s (the released tables, as privagg query; send the token as \"authorization: Bearer TOKEN\")\n",
		ln.Addr())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	return func() error { return <-done }, nil
}

// sandboxOpener opens, for each query, the sandbox privagg query would:
// over the published folders of an analyst's console, or over the
// published releases of an officer's ledger (opened read-only).
func sandboxOpener(cfg console.Config) (flightsql.Opener, error) {
	if len(cfg.Published) > 0 {
		return func(ctx context.Context) (*catalog.DB, error) {
			c, err := catalog.LoadPublished(cfg.Published)
			if err != nil {
				return nil, err
			}
			return catalog.OpenDB(ctx, c)
		}, nil
	}
	if cfg.LedgerPath == "" {
		return nil, errors.New("serve: --flight-addr: no ledger and no published folders to serve")
	}
	led, err := privacy.OpenLedger(cfg.LedgerPath, privacy.WithReadOnly())
	if err != nil {
		return nil, fmt.Errorf("serve: --flight-addr: %w", err)
	}
	return func(ctx context.Context) (*catalog.DB, error) {
		c, err := catalog.Load(ctx, led)
		if err != nil {
			return nil, err
		}
		return catalog.OpenDB(ctx, c)
	}, nil
}
