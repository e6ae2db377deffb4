package privacy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/privagg/privagg/internal/atomicfile"
)

// JournalSuffix is appended to the ledger's path to name its journal.
const JournalSuffix = ".journal.jsonl"

// genesisPrev is the prev of the first journal entry.
var genesisPrev = strings.Repeat("0", 64)

// Journal operations. Each one changes the ledger in exactly one way; replaying
// them in order rebuilds the ledger's rows.
const (
	opLedgerCreated = "ledger_created" // fields: ledger_id, schema_version
	opBudgetSet     = "budget_set"     // fields: dataset, epsilon, delta, period, created
	opReserved      = "reserved"       // fields: the release columns set at reservation
	opWriting       = "writing"        // fields: release_id, writing_at (noised values may reach disk from now on)
	opStored        = "stored"         // fields: release_id, stored_at [, files, published]
	opPublished     = "published"      // fields: release_id, published_at
	opRepublished   = "republished"    // fields: release_id, republished_at (published again, without new noise)
)

// journalEntry is one line of the append-only journal. Hash is the SHA-256 of
// the entry's other fields (JSON, in this field order, map keys sorted); Prev
// is the SHA-256 of the previous line's bytes, so editing, removing or
// reordering any line breaks the chain.
type journalEntry struct {
	Seq    int64             `json:"seq"`
	Time   string            `json:"time"`
	Op     string            `json:"op"`
	Fields map[string]string `json:"fields"`
	Prev   string            `json:"prev"`
	Hash   string            `json:"hash"`
}

// journalBody is what an entry's Hash covers.
type journalBody struct {
	Seq    int64             `json:"seq"`
	Time   string            `json:"time"`
	Op     string            `json:"op"`
	Fields map[string]string `json:"fields"`
	Prev   string            `json:"prev"`
}

func (e *journalEntry) bodyHash() (string, error) {
	b, err := json.Marshal(journalBody{Seq: e.Seq, Time: e.Time, Op: e.Op, Fields: e.Fields, Prev: e.Prev})
	if err != nil {
		return "", fmt.Errorf("encode journal entry %d: %w", e.Seq, err)
	}
	return sha256Hex(b), nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// journal is the verified content of a journal file.
type journal struct {
	exists     bool
	entries    []journalEntry
	lineHashes []string // SHA-256 of each complete line, without its newline
	lineLens   []int64  // bytes of each complete line, with its newline
	size       int64    // bytes of the complete lines
	partial    bool     // the file ends in an incomplete line (an interrupted append)
}

// last returns the hash the next entry's Prev must carry.
func (j *journal) lastLineHash() string {
	if len(j.lineHashes) == 0 {
		return genesisPrev
	}
	return j.lineHashes[len(j.lineHashes)-1]
}

// journalDamage says which line of the journal breaks the rules and how.
type journalDamage struct {
	line int
	msg  string
}

func (e *journalDamage) Error() string { return fmt.Sprintf("journal line %d: %s", e.line, e.msg) }

// readJournal reads and checks the hash chain of the journal at path. A
// missing file is an empty journal with exists false. An incomplete last line
// (no newline) is not an entry: it is reported in partial and left to the
// caller, who knows whether the ledger applied it.
func readJournal(path string) (*journal, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &journal{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	j := &journal{exists: true}
	rest := data
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			j.partial = true
			break
		}
		line := rest[:i]
		rest = rest[i+1:]
		n := len(j.entries) + 1
		var e journalEntry
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return nil, &journalDamage{n, fmt.Sprintf("not a journal entry: %v", err)}
		}
		if dec.More() {
			return nil, &journalDamage{n, "trailing data after the entry"}
		}
		if e.Seq != int64(n) {
			return nil, &journalDamage{n, fmt.Sprintf("seq %d, want %d", e.Seq, n)}
		}
		if e.Prev != j.lastLineHash() {
			return nil, &journalDamage{n, "prev does not match the hash of the previous line (a line was removed, reordered or edited)"}
		}
		h, err := e.bodyHash()
		if err != nil {
			return nil, &journalDamage{n, err.Error()}
		}
		if e.Hash != h {
			return nil, &journalDamage{n, "hash does not match the entry's content (the line was edited)"}
		}
		j.entries = append(j.entries, e)
		j.lineHashes = append(j.lineHashes, sha256Hex(line))
		j.lineLens = append(j.lineLens, int64(len(line))+1)
		j.size += int64(len(line)) + 1
	}
	return j, nil
}

// newEntry makes the entry that follows j's last one.
func (j *journal) newEntry(op, at string, fields map[string]string) (journalEntry, []byte, error) {
	e := journalEntry{Seq: int64(len(j.entries)) + 1, Time: at, Op: op, Fields: fields, Prev: j.lastLineHash()}
	h, err := e.bodyHash()
	if err != nil {
		return journalEntry{}, nil, err
	}
	e.Hash = h
	line, err := json.Marshal(e)
	if err != nil {
		return journalEntry{}, nil, fmt.Errorf("encode journal entry %d: %w", e.Seq, err)
	}
	return e, line, nil
}

// append writes line (one entry, without newline) durably at the end of the
// journal and records it in j. The caller holds the ledger's lock.
func (j *journal) append(path string, e journalEntry, line []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, ledgerFileMode)
	if err != nil {
		return fmt.Errorf("append to journal: %w", err)
	}
	if !j.exists {
		// Whatever the umask: privacy officers read the journal.
		if err := f.Chmod(ledgerFileMode); err != nil {
			f.Close()
			return fmt.Errorf("append to journal: %w", err)
		}
	}
	buf := make([]byte, 0, len(line)+1)
	buf = append(append(buf, line...), '\n')
	if _, err := f.Write(buf); err != nil {
		f.Close()
		return fmt.Errorf("append to journal: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync journal: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close journal: %w", err)
	}
	if !j.exists {
		if err := atomicfile.SyncDir(filepath.Dir(path)); err != nil {
			return err
		}
		j.exists = true
	}
	j.entries = append(j.entries, e)
	j.lineHashes = append(j.lineHashes, sha256Hex(line))
	j.lineLens = append(j.lineLens, int64(len(buf)))
	j.size += int64(len(buf))
	return nil
}

// undoLast removes the entry just appended (its transaction did not commit).
func (j *journal) undoLast(path string) error {
	n := len(j.entries)
	if n == 0 {
		return nil
	}
	lineLen := j.lineLens[n-1]
	if err := os.Truncate(path, j.size-lineLen); err != nil {
		return fmt.Errorf("remove uncommitted journal entry %d: %w", n, err)
	}
	j.entries = j.entries[:n-1]
	j.lineHashes = j.lineHashes[:n-1]
	j.lineLens = j.lineLens[:n-1]
	j.size -= lineLen
	return nil
}

// dropPartial removes an incomplete last line left by an interrupted append.
func (j *journal) dropPartial(path string) error {
	if err := os.Truncate(path, j.size); err != nil {
		return fmt.Errorf("remove incomplete last journal line: %w", err)
	}
	j.partial = false
	return nil
}
