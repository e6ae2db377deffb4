package privacy

import (
	"github.com/privagg/privagg/internal/sqlq"

	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	_ "github.com/duckdb/duckdb-go/v2" // database/sql driver "duckdb"
)

// The ledger's sessions attach the ledger file to an in-memory DuckDB
// instance (its host) instead of opening a database instance on the file
// each time. Starting a DuckDB instance (catalog, buffer manager, first
// queries) cost 30 to 50 ms, and a run holds about seven sessions; ATTACH
// and DETACH cost about 1 ms. The file is attached only for the session, so
// DuckDB's file lock is held exactly as long as before and other processes
// see the ledger as they did when each session opened the file.
//
// Each ledger path has a host of its own, used by one session at a time
// (lockProcess): DuckDB keeps a detached database, and its file, until every
// transaction of the instance that started before the DETACH has ended, so
// a host shared with sessions on other ledgers could still hold a file
// another session of this path then fails to attach. At most maxHosts idle
// hosts are kept; the least recently used ones beyond that are closed.
var ledgerHosts struct {
	mu    sync.Mutex
	hosts map[string]*ledgerHost // by ledger path
	tick  uint64
}

// ledgerHost is one ledger path's host instance.
type ledgerHost struct {
	db       *sql.DB
	busy     bool   // a session is using it
	lastUsed uint64 // ledgerHosts.tick when it was last taken
}

// maxHosts is how many idle hosts are kept open.
const maxHosts = 4

// takeHost returns path's host, starting it on first use, and marks it busy.
func takeHost(path string) (*ledgerHost, error) {
	ledgerHosts.mu.Lock()
	defer ledgerHosts.mu.Unlock()
	if ledgerHosts.hosts == nil {
		ledgerHosts.hosts = map[string]*ledgerHost{}
	}
	h := ledgerHosts.hosts[path]
	if h == nil {
		// One thread: a session reads and writes a few small tables.
		db, err := sql.Open("duckdb", "?threads=1")
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(1)
		h = &ledgerHost{db: db}
		ledgerHosts.hosts[path] = h
	}
	ledgerHosts.tick++
	h.busy, h.lastUsed = true, ledgerHosts.tick
	closeIdleHosts()
	return h, nil
}

// closeIdleHosts closes the least recently used idle hosts beyond maxHosts.
// The caller holds ledgerHosts.mu.
func closeIdleHosts() {
	for len(ledgerHosts.hosts) > maxHosts {
		var oldest string
		for p, h := range ledgerHosts.hosts {
			if !h.busy && (oldest == "" || h.lastUsed < ledgerHosts.hosts[oldest].lastUsed) {
				oldest = p
			}
		}
		if oldest == "" {
			return
		}
		ledgerHosts.hosts[oldest].db.Close()
		delete(ledgerHosts.hosts, oldest)
	}
}

// releaseHost marks path's host idle again, or closes and forgets it when
// broken (its ledger could not be detached, so closing the instance releases
// the file as closing a database does).
func releaseHost(path string, h *ledgerHost, broken bool) {
	ledgerHosts.mu.Lock()
	defer ledgerHosts.mu.Unlock()
	h.busy = false
	if broken {
		h.db.Close()
		if ledgerHosts.hosts[path] == h {
			delete(ledgerHosts.hosts, path)
		}
		return
	}
	closeIdleHosts()
}

// ledgerConn is a session's connection to the host with the ledger file
// attached as its default database: unqualified table names are the
// ledger's.
type ledgerConn struct {
	*sql.Conn
	host   *ledgerHost
	path   string
	closed bool
}

// ledgerAlias is the name the ledger file is attached under in its host
// (each host holds one ledger path, one session at a time).
const ledgerAlias = "ledger"

// attach attaches the ledger file at path (read-only if readOnly, which takes
// DuckDB's shared lock instead of its exclusive one) on a connection of its
// own and makes it the connection's default database.
func attach(ctx context.Context, path string, readOnly bool) (*ledgerConn, error) {
	host, err := takeHost(path)
	if err != nil {
		return nil, err
	}
	conn, err := host.db.Conn(ctx)
	if err != nil {
		releaseHost(path, host, false)
		return nil, err
	}
	c := &ledgerConn{Conn: conn, host: host, path: path}
	opts := ""
	if readOnly {
		opts = " (READ_ONLY)"
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("ATTACH %s AS %s%s", sqlq.String(path), ledgerAlias, opts)); err != nil {
		conn.Close()
		releaseHost(path, host, false)
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, "USE "+ledgerAlias); err != nil {
		return nil, errors.Join(err, c.Close())
	}
	return c, nil
}

// Close detaches the ledger file, which checkpoints it and releases DuckDB's
// file lock, and returns the connection to the host. It runs even when the
// session's context has ended. If the file cannot be detached, the host is
// closed instead, which releases the file as closing a database does.
// Closing it again does nothing.
func (c *ledgerConn) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	ctx := context.Background()
	_, err := c.ExecContext(ctx, "USE memory")
	if err == nil {
		_, err = c.ExecContext(ctx, "DETACH "+ledgerAlias)
	}
	cerr := c.Conn.Close()
	releaseHost(c.path, c.host, err != nil)
	if err != nil {
		return err
	}
	return cerr
}

// sqlString quotes s as an SQL string literal.
