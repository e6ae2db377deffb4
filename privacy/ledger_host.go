package privacy

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	_ "github.com/duckdb/duckdb-go/v2" // database/sql driver "duckdb"
)

// The ledger's sessions attach the ledger file to one in-memory DuckDB
// instance per process (the host) instead of opening a database instance on
// the file each time. Starting a DuckDB instance (catalog, buffer manager,
// first queries) cost 30 to 50 ms, and a run holds about seven sessions;
// ATTACH and DETACH cost about 1 ms. The file is attached only for the
// session, so DuckDB's file lock is held exactly as long as before and other
// processes see the ledger as they did when each session opened the file.
var ledgerHost struct {
	mu sync.Mutex
	db *sql.DB
}

// hostDB returns the process's host instance, starting it on first use.
func hostDB() (*sql.DB, error) {
	ledgerHost.mu.Lock()
	defer ledgerHost.mu.Unlock()
	if ledgerHost.db == nil {
		// One thread: a session reads and writes a few small tables.
		db, err := sql.Open("duckdb", "?threads=1")
		if err != nil {
			return nil, err
		}
		ledgerHost.db = db
	}
	return ledgerHost.db, nil
}

// resetHost closes the host instance after a session could not detach its
// ledger, so that no ledger file stays attached (and locked) in it. The next
// session starts a new instance.
func resetHost(db *sql.DB) {
	ledgerHost.mu.Lock()
	defer ledgerHost.mu.Unlock()
	if ledgerHost.db == db {
		ledgerHost.db = nil
	}
	db.Close()
}

// ledgerConn is a session's connection to the host with the ledger file
// attached as its default database: unqualified table names are the
// ledger's.
type ledgerConn struct {
	*sql.Conn
	host   *sql.DB
	alias  string
	closed bool
}

// attachAlias is the name a ledger file is attached under: one per path, so
// that sessions on different ledgers of one process do not collide (sessions
// on one path are serialized by lockProcess).
func attachAlias(path string) string {
	sum := sha256.Sum256([]byte(path))
	return "ledger_" + hex.EncodeToString(sum[:8])
}

// attach attaches the ledger file at path (read-only if readOnly, which takes
// DuckDB's shared lock instead of its exclusive one) on a connection of its
// own and makes it the connection's default database.
func attach(ctx context.Context, path string, readOnly bool) (*ledgerConn, error) {
	host, err := hostDB()
	if err != nil {
		return nil, err
	}
	conn, err := host.Conn(ctx)
	if err != nil {
		return nil, err
	}
	c := &ledgerConn{Conn: conn, host: host, alias: attachAlias(path)}
	opts := ""
	if readOnly {
		opts = " (READ_ONLY)"
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("ATTACH %s AS %s%s", sqlString(path), c.alias, opts)); err != nil {
		conn.Close()
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, "USE "+c.alias); err != nil {
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
		_, err = c.ExecContext(ctx, "DETACH "+c.alias)
	}
	if err != nil {
		c.Conn.Close()
		resetHost(c.host)
		return err
	}
	return c.Conn.Close()
}

// sqlString quotes s as an SQL string literal.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
