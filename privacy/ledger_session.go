package privacy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// processLocks serializes operations on one ledger within this process:
// DuckDB's file lock only excludes other processes (and the driver shares one
// database instance per path within a process).
var processLocks sync.Map // absolute path -> chan struct{} (capacity 1)

func lockProcess(ctx context.Context, path string) (unlock func(), err error) {
	v, _ := processLocks.LoadOrStore(path, make(chan struct{}, 1))
	ch := v.(chan struct{})
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// session is one open-verify-act-close cycle; it holds the ledger's locks.
type session struct {
	l         *Ledger
	db        *ledgerConn // nil for a read of a ledger whose file does not exist yet
	j         *journal
	st        *ledgerState // verified: equals both the journal's replay and the ledger's rows
	now       time.Time
	recovered string
}

func (l *Ledger) withSession(ctx context.Context, write bool, fn func(*session) error) error {
	if write && l.readOnly {
		return l.readOnlyError()
	}
	lctx, cancel := context.WithTimeout(ctx, l.lockTimeout)
	defer cancel()
	unlock, err := lockProcess(lctx, l.path)
	if err != nil {
		return l.busy(ctx, err)
	}
	defer unlock()
	_, err = os.Stat(l.path)
	created := errors.Is(err, fs.ErrNotExist)
	if created {
		// Check the journal before DuckDB creates the file: a lost ledger
		// file must not be replaced by an empty one.
		s, err := l.journalOnly(write)
		switch {
		case err == nil && !write:
			return fn(s)
		case err != nil:
			if _, serr := os.Stat(l.path); serr != nil {
				return err
			}
			// The ledger file appeared meanwhile: verify it under its lock.
			created = false
		}
	}
	db, err := l.openDB(ctx, lctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if created {
		// DuckDB made the file with the umask's mode; officers read it.
		if err := os.Chmod(l.path, ledgerFileMode); err != nil {
			return fmt.Errorf("ledger %s: %w", l.path, err)
		}
	}
	s := &session{l: l, db: db, now: l.now()}
	if err := s.load(ctx); err != nil {
		return err
	}
	if write && s.st.head == 0 {
		id := make([]byte, 16)
		if _, err := rand.Read(id); err != nil {
			return fmt.Errorf("create ledger %s: %w", l.path, err)
		}
		if err := s.apply(ctx, opLedgerCreated, map[string]string{
			"ledger_id":      hex.EncodeToString(id),
			"schema_version": strconv.Itoa(LedgerSchemaVersion),
		}); err != nil {
			return err
		}
	}
	if err := fn(s); err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("close ledger %s: %w", l.path, err)
	}
	return nil
}

// journalOnly serves a read while the ledger file does not exist: the journal
// must be missing, empty, or hold only the ledger's creation (a first write
// that was interrupted before the ledger file was made).
func (l *Ledger) journalOnly(write bool) (*session, error) {
	j, err := readJournal(l.journalPath)
	if err != nil {
		if perr := l.accessError(err, write); perr != nil {
			return nil, perr
		}
		return nil, l.ledgerError("the journal is damaged", err)
	}
	st := newState()
	switch {
	case len(j.entries) > 1:
		return nil, l.ledgerError(fmt.Sprintf("the ledger file is missing but its journal has %d entries", len(j.entries)), nil)
	case len(j.entries) == 1:
		if err := st.apply(j.entries[0]); err != nil {
			return nil, l.ledgerError("the journal is damaged", err)
		}
	}
	return &session{l: l, j: j, st: st, now: l.now()}, nil
}

func (l *Ledger) ledgerError(reason string, err error) error {
	return &LedgerError{Path: l.path, Reason: reason, Hint: restoreHint(l.path), Err: err}
}

func (s *session) damaged(what string, err error) error {
	return s.l.ledgerError(what+" is damaged", err)
}

func (l *Ledger) busy(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("ledger %s: %w", l.path, ctx.Err())
	}
	return &LedgerError{Path: l.path,
		Reason: fmt.Sprintf("the ledger is held by another process for more than %v", l.lockTimeout),
		Hint:   "wait for the other privagg command to finish and try again", Err: err}
}

// openDB attaches the ledger file read-write, which takes DuckDB's exclusive
// file lock, retrying with backoff while another process holds it, until
// lctx ends. A ledger opened WithReadOnly is attached read-only (a shared
// lock; several readers at once) and never written.
func (l *Ledger) openDB(ctx, lctx context.Context) (*ledgerConn, error) {
	delay := 2 * time.Millisecond
	for attempt := 1; ; attempt++ {
		db, err := attach(lctx, l.path, l.readOnly)
		if err == nil {
			return db, nil
		}
		if !isLockConflict(err) {
			if lctx.Err() != nil {
				return nil, l.busy(ctx, err)
			}
			if perr := l.accessError(err, !l.readOnly); perr != nil {
				return nil, perr
			}
			return nil, l.ledgerError("cannot open the ledger file", err)
		}
		// Jitter from the process id and attempt, so that waiting processes
		// do not retry in lockstep.
		jitter := time.Duration((os.Getpid()*7919+attempt*104729)%1000) * delay / 1000
		t := time.NewTimer(delay + jitter)
		select {
		case <-lctx.Done():
			t.Stop()
			return nil, l.busy(ctx, err)
		case <-t.C:
		}
		delay = min(delay*2, 200*time.Millisecond)
	}
}

func isLockConflict(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "Could not set lock on file") || strings.Contains(msg, "Conflicting lock")
}

// load reads the ledger's rows and the journal, verifies that they agree, and
// completes or removes what an interrupted write left behind.
func (s *session) load(ctx context.Context) error {
	l := s.l
	dbst, hasSchema, err := loadDBState(ctx, s.db.Conn)
	if err != nil {
		return l.ledgerError("cannot read the ledger file", err)
	}
	j, err := readJournal(l.journalPath)
	if err != nil {
		if perr := l.accessError(err, !l.readOnly); perr != nil {
			return perr
		}
		return l.ledgerError("the journal is damaged", err)
	}
	applied, entries := dbst.head, int64(len(j.entries))
	switch {
	case applied > 0 && !j.exists:
		return l.ledgerError(fmt.Sprintf("the journal %s is missing; the ledger has %d entries", l.journalPath, applied), nil)
	case j.partial && entries != applied:
		return l.ledgerError("the journal ends in an incomplete line", nil)
	case entries < applied:
		return l.ledgerError(fmt.Sprintf("the journal has %d entries but the ledger has applied %d: the journal is missing entries", entries, applied), nil)
	case entries > applied+1 && !hasSchema:
		return l.ledgerError(fmt.Sprintf("the ledger file is empty but its journal has %d entries", entries), nil)
	case entries > applied+1:
		return l.ledgerError(fmt.Sprintf("the journal has %d entries but the ledger has applied only %d: the ledger is missing entries", entries, applied), nil)
	}
	replay := newState()
	for _, e := range j.entries[:applied] {
		if err := replay.apply(e); err != nil {
			return l.ledgerError("the journal is damaged", err)
		}
	}
	if applied > 0 {
		replay.headHash = j.lineHashes[applied-1]
		if dbst.headHash != replay.headHash {
			return l.ledgerError(fmt.Sprintf("the ledger's last applied entry %d is not the journal's entry %d (hash differs)", applied, applied), nil)
		}
	}
	// The ledger file has no columns for what only the journal records
	// (releaseJournal): it comes from the journal, whose hash chain was just
	// verified.
	for id, r := range replay.releases {
		if g, ok := dbst.releases[id]; ok {
			g.journal = r.journal
			dbst.releases[id] = g
		}
	}
	if d := diff(replay, dbst); d != "" {
		return l.ledgerError("the ledger and the journal disagree: "+d, nil)
	}
	s.j, s.st = j, dbst
	if j.partial && l.readOnly {
		s.recovered = "the journal ends in an incomplete line left by an interrupted write (it was never committed; " +
			"read-only, so not removed: the next command that writes the ledger removes it)"
	} else if j.partial {
		if err := j.dropPartial(l.journalPath); err != nil {
			return l.ledgerError("cannot repair the journal", err)
		}
		s.recovered = "removed an incomplete last journal line left by an interrupted write (it was never committed)"
	}
	if entries == applied+1 {
		e := j.entries[applied]
		next := s.st.clone()
		if err := next.apply(e); err != nil {
			return l.ledgerError("the journal is damaged", err)
		}
		next.headHash = j.lineHashes[applied]
		if l.readOnly {
			// Read as the next write will complete it, without writing.
			s.st = next
			s.recovered = fmt.Sprintf("journal entry %d (%s) is not yet committed to the ledger file by an interrupted write; "+
				"read-only, so it is read from the journal: the next command that writes the ledger commits it", e.Seq, e.Op)
			return nil
		}
		if err := s.commit(ctx, e, j.lineHashes[applied], nil); err != nil {
			return err
		}
		s.st = next
		s.recovered = fmt.Sprintf("applied journal entry %d (%s), which an interrupted write had not yet committed to the ledger", e.Seq, e.Op)
	}
	return nil
}

// apply makes a new journal entry and commits it to the ledger and the
// journal: the rows change and the entry is appended in one transaction.
func (s *session) apply(ctx context.Context, op string, fields map[string]string) error {
	e, line, err := s.j.newEntry(op, formatTime(s.now), fields)
	if err != nil {
		return err
	}
	next := s.st.clone()
	if err := next.apply(e); err != nil {
		return fmt.Errorf("ledger %s: %w", s.l.path, err)
	}
	lineHash := sha256Hex(line)
	if err := s.commit(ctx, e, lineHash, func() error { return s.j.append(s.l.journalPath, e, line) }); err != nil {
		return err
	}
	next.headHash = lineHash
	s.st = next
	return nil
}

// commit applies e to the ledger's rows in one transaction; beforeCommit (the
// journal append) runs last inside it. If the commit fails after the append,
// the appended entry is removed again.
func (s *session) commit(ctx context.Context, e journalEntry, lineHash string, beforeCommit func() error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("ledger %s: begin: %w", s.l.path, err)
	}
	if err := applyToDB(ctx, tx, e, lineHash); err != nil {
		tx.Rollback()
		return fmt.Errorf("ledger %s: entry %d (%s): %w", s.l.path, e.Seq, e.Op, err)
	}
	if beforeCommit != nil {
		if err := beforeCommit(); err != nil {
			tx.Rollback()
			if perr := s.l.accessError(err, true); perr != nil {
				return perr
			}
			return fmt.Errorf("ledger %s: %w", s.l.path, err)
		}
	}
	if err := tx.Commit(); err != nil {
		err = fmt.Errorf("ledger %s: commit entry %d: %w", s.l.path, e.Seq, err)
		if beforeCommit != nil {
			if uerr := s.j.undoLast(s.l.journalPath); uerr != nil {
				return errors.Join(err, uerr)
			}
		}
		return err
	}
	return nil
}
