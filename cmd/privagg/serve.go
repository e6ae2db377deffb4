package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/privagg/privagg/console"
	"github.com/privagg/privagg/privacy"
)

func init() { register(newServeCmd) }

// serveTokenEnv holds the console's token (safer than --token, which other
// users of the machine can see in the process list).
const serveTokenEnv = "PRIVAGG_SERVE_TOKEN"

const defaultServeAddr = "127.0.0.1:8080"

func newServeCmd(g *globals) *cobra.Command {
	var (
		addr, token, jobs string
		from              []string
		internal          bool
		flight            flightServe
	)
	cmd := &cobra.Command{
		Use: "serve [--addr 127.0.0.1:8080] [--from DIR]... [--jobs DIR] [--internal] [--token TOKEN] [--flight-addr HOST:PORT]",
		Example: `  privagg serve                                   # the project's ledger, on http://127.0.0.1:8080
  privagg serve --from /shared/published          # published folders only (analysts)
  privagg serve --jobs configs --internal         # officers: what-if over job files, internal reports
  privagg serve --flight-addr 127.0.0.1:31337     # also Arrow Flight SQL (JDBC, ADBC, pandas) on 31337`,
		Short: "A read-only console in the browser: budgets, releases and what-if",
		Long: `Serve a read-only web console (see docs/console.md):
  Datasets  budget bars (epsilon and delta spent and remaining) and the spend
            over time per dataset and period (officers)
  Releases  every release with its report, its tables with 95% confidence
            intervals as error bars, and its files for download
  What if   for the job files of --jobs DIR, the expected error per metric
            and the chance of release at the epsilons you type; reads no data

An officer's console reads the ledger (--ledger, else PRIVAGG_LEDGER, else the
project file's ledger:), opened read-only. With --from DIR (repeatable), or a
project file that names only published: folders, it is an analyst's console:
it reads those published folders and nothing else. The exact, non-private
counts of the release reports are shown only with --internal (officers).

Nothing is written: every page is GET only. Every request needs a token
(--token, or PRIVAGG_SERVE_TOKEN, which other users cannot see in the process
list), at least 16 characters, sent as "Authorization: Bearer TOKEN" or given
to the login page. Without one, the console draws a random token and prints a
login URL (http://127.0.0.1:8080/login?token=...) that signs a browser in: on
a shared machine, loopback is every local account's. The console binds
127.0.0.1 by default; any other --addr needs a token you give. Plain HTTP: off
this machine, put it behind a TLS proxy or an SSH tunnel.

--flight-addr HOST:PORT also serves the tables privagg query reads (and
nothing else, with the same refusals) over Arrow Flight SQL for JDBC, ADBC,
pandas and Polars (docs/analysts.md). It takes the same token, as gRPC
metadata "authorization: Bearer TOKEN", and the same address rule.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if token == "" {
				token = os.Getenv(serveTokenEnv)
			}
			loopback, err := console.IsLoopback(addr)
			if err != nil {
				return usageError{fmt.Errorf("--addr: %w", err)}
			}
			if !loopback && token == "" {
				return usageError{fmt.Errorf("--addr %s: is reachable from other machines, so the console needs a token: "+
					"set %s (or --token) to a secret of at least %d characters, or bind 127.0.0.1", addr, serveTokenEnv, console.MinTokenLength)}
			}
			if token != "" && len(token) < console.MinTokenLength {
				return usageError{fmt.Errorf("token: has %d characters, want at least %d", len(token), console.MinTokenLength)}
			}
			if err := flight.check(token != ""); err != nil {
				return err
			}
			drawn := token == ""
			if drawn {
				if token, err = console.NewToken(); err != nil {
					return err
				}
			}
			cfg, err := serveConfig(g, from, jobs, internal, token)
			if err != nil {
				return err
			}
			cfg.Loopback = loopback
			srv, err := console.New(cfg)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("serve: %w", err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			base := "http://" + ln.Addr().String()
			fmt.Fprintf(g.stdout, "privagg serve: %s console on %s/ (read-only; Ctrl-C stops it)\n", srv.Mode(), base)
			if drawn {
				fmt.Fprintf(g.stdout, "  sign in: open %s (a token drawn for this run; programs send it as \"Authorization: Bearer TOKEN\")\n",
					console.LoginURL(base, token))
			}
			waitFlight, err := flight.start(ctx, g.stdout, g.logger, cfg)
			if err != nil {
				ln.Close()
				return err
			}
			err = serve(ctx, ln, srv)
			stop() // the Flight SQL server stops with the console
			return errors.Join(err, waitFlight())
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", defaultServeAddr, "address to listen on; other than loopback needs a token you give")
	f.StringVar(&token, "token", "", "token every request must carry (default: "+serveTokenEnv+", else one drawn at random and printed in a login URL)")
	f.StringArrayVar(&from, "from", nil, "analyst's console: read the published folder DIR instead of the ledger (repeatable)")
	f.StringVar(&jobs, "jobs", "", "folder of job files for the what-if page")
	f.BoolVar(&internal, "internal", false, "show the exact, non-private counts of the release reports (officers)")
	flight.flags(f)
	return cmd
}

// serveConfig decides what the console reads: --from, else the ledger, else
// a project file's published folders (a project without a ledger).
func serveConfig(g *globals, from []string, jobs string, internal bool, token string) (console.Config, error) {
	cfg := console.Config{JobsDir: jobs, Internal: internal, Token: token, Logger: g.logger}
	if jobs != "" {
		if st, err := os.Lstat(jobs); err != nil || !st.IsDir() {
			return cfg, usageError{fmt.Errorf("--jobs %s: not a folder (symlinks are refused)", jobs)}
		}
	}
	if len(from) > 0 {
		if g.ledger != "" {
			return cfg, usageError{errors.New("--from and --ledger: the console reads either published folders (analyst) or a ledger (officer), not both")}
		}
		for _, d := range from {
			if _, err := os.Lstat(d); errors.Is(err, fs.ErrNotExist) {
				return cfg, usageError{fmt.Errorf("--from %s: no such folder", d)}
			}
		}
		cfg.Published = from
	} else {
		// As for query: a project without a ledger, or whose ledger this
		// user may not read, is an analyst's project.
		published, err := publishedFallback(g)
		if err != nil {
			return cfg, err
		}
		if len(published) > 0 {
			cfg.Published = published
		} else {
			path, _, err := ledgerPath(g)
			if err != nil {
				return cfg, err
			}
			if !exists(path) && !exists(path+privacy.JournalSuffix) {
				return cfg, usageError{fmt.Errorf("no ledger at %s: give --ledger PATH (officer) or --from DIR (analyst), or run in a project with privagg.yaml", path)}
			}
			cfg.LedgerPath = path
		}
	}
	if internal && len(cfg.Published) > 0 {
		return cfg, usageError{errors.New("--internal: the exact counts are in the ledger's release store; an analyst's console (published folders) has none")}
	}
	return cfg, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// serve runs the console on ln until ctx ends, then lets requests in flight
// finish (for up to 5 seconds).
func serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("serve: shut down: %w", err)
	}
	return nil
}
