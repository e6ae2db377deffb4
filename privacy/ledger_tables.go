package privacy

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"time"
)

var schemaSQL = []string{
	`CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL)`,
	`CREATE TABLE ledger_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)`,
	`CREATE TABLE budgets (
		dataset VARCHAR PRIMARY KEY,
		epsilon VARCHAR NOT NULL, -- exact decimal text
		delta   VARCHAR NOT NULL, -- exact decimal text
		period  VARCHAR NOT NULL, -- none | month | <N>d
		created TIMESTAMP NOT NULL
	)`,
	`CREATE TABLE releases (
		release_id   VARCHAR PRIMARY KEY,
		dataset      VARCHAR NOT NULL,
		job          VARCHAR NOT NULL,
		purpose      VARCHAR NOT NULL,
		epsilon      VARCHAR NOT NULL, -- exact decimal text
		delta        VARCHAR NOT NULL, -- exact decimal text
		state        VARCHAR NOT NULL CHECK (state IN ('reserved', 'stored', 'published')),
		reserved_at  TIMESTAMP NOT NULL,
		stored_at    TIMESTAMP,
		published_at TIMESTAMP,
		outputs      VARCHAR NOT NULL, -- JSON array of output names
		output_dir   VARCHAR NOT NULL,
		job_sha256   VARCHAR NOT NULL,
		period_start TIMESTAMP
	)`,
}

var ledgerTables = []string{"budgets", "ledger_meta", "releases", "schema_version"}

func nullTime(s string) (any, error) {
	if s == "" {
		return nil, nil
	}
	return parseTime(s)
}

// applyToDB changes the ledger's rows as e says and records e as the last
// applied journal entry. e has been validated by ledgerState.apply.
func applyToDB(ctx context.Context, tx *sql.Tx, e journalEntry, lineHash string) error {
	f := e.Fields
	at, err := parseTime(e.Time)
	if err != nil {
		return err
	}
	exec := func(q string, args ...any) error {
		_, err := tx.ExecContext(ctx, q, args...)
		return err
	}
	switch e.Op {
	case opLedgerCreated:
		for _, q := range schemaSQL {
			if err := exec(q); err != nil {
				return err
			}
		}
		if err := exec(`INSERT INTO schema_version VALUES (?, ?)`, LedgerSchemaVersion, at); err != nil {
			return err
		}
		if err := exec(`INSERT INTO ledger_meta VALUES ('ledger_id', ?), ('journal_seq', '0'), ('journal_head', '')`, f["ledger_id"]); err != nil {
			return err
		}
	case opBudgetSet:
		created, err := parseTime(f["created"])
		if err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM budgets WHERE dataset = ?`, f["dataset"]).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			err = exec(`INSERT INTO budgets VALUES (?, ?, ?, ?, ?)`, f["dataset"], f["epsilon"], f["delta"], f["period"], created)
		} else {
			err = exec(`UPDATE budgets SET epsilon = ?, delta = ?, period = ?, created = ? WHERE dataset = ?`,
				f["epsilon"], f["delta"], f["period"], created, f["dataset"])
		}
		if err != nil {
			return err
		}
	case opReserved:
		reservedAt, err := parseTime(f["reserved_at"])
		if err != nil {
			return err
		}
		periodStart, err := nullTime(f["period_start"])
		if err != nil {
			return err
		}
		if err := exec(`INSERT INTO releases VALUES (?, ?, ?, ?, ?, ?, 'reserved', ?, NULL, NULL, ?, ?, ?, ?)`,
			f["release_id"], f["dataset"], f["job"], f["purpose"], f["epsilon"], f["delta"], reservedAt,
			f["outputs"], f["output_dir"], f["job_sha256"], periodStart); err != nil {
			return err
		}
	case opWriting, opRepublished:
		// Recorded in the journal only (releaseJournal).
	case opStored:
		t, err := parseTime(f["stored_at"])
		if err != nil {
			return err
		}
		if err := exec(`UPDATE releases SET state = 'stored', stored_at = ? WHERE release_id = ?`, t, f["release_id"]); err != nil {
			return err
		}
	case opPublished:
		t, err := parseTime(f["published_at"])
		if err != nil {
			return err
		}
		if err := exec(`UPDATE releases SET state = 'published', published_at = ? WHERE release_id = ?`, t, f["release_id"]); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown operation %q", e.Op)
	}
	if err := exec(`UPDATE ledger_meta SET value = ? WHERE key = 'journal_seq'`, strconv.FormatInt(e.Seq, 10)); err != nil {
		return err
	}
	return exec(`UPDATE ledger_meta SET value = ? WHERE key = 'journal_head'`, lineHash)
}

// loadDBState reads the ledger's rows. A file without the ledger's tables
// (just created, or a first write interrupted) is an empty ledger.
func loadDBState(ctx context.Context, db *sql.Conn) (*ledgerState, bool, error) {
	st := newState()
	tables, err := mainTables(ctx, db)
	if err != nil {
		return nil, false, err
	}
	if len(tables) == 0 {
		return st, false, nil
	}
	if !slices.Equal(tables, ledgerTables) {
		return nil, true, fmt.Errorf("tables %v, want %v", tables, ledgerTables)
	}
	var version sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT max(version) FROM schema_version`).Scan(&version); err != nil {
		return nil, true, err
	}
	if version.Int64 != LedgerSchemaVersion {
		return nil, true, fmt.Errorf("schema version %d: this privagg reads version %d", version.Int64, LedgerSchemaVersion)
	}
	st.schema = strconv.FormatInt(version.Int64, 10)
	meta := map[string]string{}
	if err := scanRows(ctx, db, `SELECT key, value FROM ledger_meta`, func(r *sql.Rows) error {
		var k, v string
		if err := r.Scan(&k, &v); err != nil {
			return err
		}
		meta[k] = v
		return nil
	}); err != nil {
		return nil, true, err
	}
	st.ledgerID, st.headHash = meta["ledger_id"], meta["journal_head"]
	if st.head, err = strconv.ParseInt(meta["journal_seq"], 10, 64); err != nil || st.head < 1 || len(meta) != 3 {
		return nil, true, fmt.Errorf("ledger_meta: want ledger_id, journal_seq >= 1 and journal_head")
	}
	if err := scanRows(ctx, db, `SELECT dataset, epsilon, delta, period, created FROM budgets`, func(r *sql.Rows) error {
		var b budgetRow
		var created time.Time
		if err := r.Scan(&b.Dataset, &b.Epsilon, &b.Delta, &b.Period, &created); err != nil {
			return err
		}
		b.Created = formatTime(created)
		st.budgets[b.Dataset] = b
		return nil
	}); err != nil {
		return nil, true, err
	}
	if err := scanRows(ctx, db, `SELECT release_id, dataset, job, purpose, epsilon, delta, state, reserved_at,
			stored_at, published_at, outputs, output_dir, job_sha256, period_start FROM releases`, func(r *sql.Rows) error {
		var x releaseRow
		var reserved time.Time
		var stored, published, periodStart sql.NullTime
		if err := r.Scan(&x.ReleaseID, &x.Dataset, &x.Job, &x.Purpose, &x.Epsilon, &x.Delta, &x.State, &reserved,
			&stored, &published, &x.Outputs, &x.OutputDir, &x.JobSHA256, &periodStart); err != nil {
			return err
		}
		x.ReservedAt = formatTime(reserved)
		for _, t := range []struct {
			v   sql.NullTime
			dst *string
		}{{stored, &x.StoredAt}, {published, &x.PublishedAt}, {periodStart, &x.PeriodStart}} {
			if t.v.Valid {
				*t.dst = formatTime(t.v.Time)
			}
		}
		st.releases[x.ReleaseID] = x
		return nil
	}); err != nil {
		return nil, true, err
	}
	return st, true, nil
}

func scanRows(ctx context.Context, db *sql.Conn, q string, each func(*sql.Rows) error) error {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// mainTables lists the tables of the ledger's main schema (the attached
// ledger file is the connection's current database), by name.
func mainTables(ctx context.Context, db *sql.Conn) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() AND table_schema = 'main' ORDER BY table_name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		tables = append(tables, t)
	}
	return tables, rows.Err()
}
