package transforms

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
)

// Identifier kinds understood by Normalize.
const (
	KindEmail = "email" // trimmed and lower-cased
)

// Normalize returns the canonical form of an identifier v of the given kind,
// so that the same person always gets the same pseudonym:
//
//   - every kind: leading and trailing Unicode white space removed;
//   - KindEmail: also lower-cased (Unicode, strings.ToLower).
//
// Other kinds (phone, ip, ...) are only trimmed. No Unicode normalization
// (NFC) is applied. The privacy unit is not an identifier kind: its
// canonical form is CanonicalUnit, which folds case only when the job says
// so (privacy_unit_case: fold).
func Normalize(kind, v string) string {
	v = strings.TrimSpace(v)
	if kind == KindEmail {
		v = strings.ToLower(v)
	}
	return v
}

// Key requirements. A key is raw bytes: the value of the key variable is used
// as is, without decoding. A 64-character output of `openssl rand -hex 32`
// carries 256 bits of entropy and passes both checks.
const (
	MinKeyLen          = 32 // bytes
	minKeyDistinctByte = 8  // a key with fewer distinct byte values is a placeholder, not a secret
)

// keyVersionRE is what a key version may look like; it is written into every
// pseudonym and into file metadata, so it is kept short and plain.
var keyVersionRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,32}$`)

// Pseudonymizer turns normalized identifiers into keyed pseudonyms:
//
//	"v" + keyVersion + ":" + hex(HMAC-SHA256(key, value))
//
// e.g. "v1:5f0c...". Without the key a pseudonym cannot be linked to its
// identifier, not even by hashing a list of candidate identifiers; with the
// key it can, so the output is pseudonymous personal data, not anonymous.
// A new key must come with a new key version.
//
// A Pseudonymizer is safe for concurrent use. Its key is never printed: all
// fmt verbs render it as "Pseudonymizer(v<version>, key redacted)".
type Pseudonymizer struct {
	version string
	prefix  string // "v" + version + ":"
	// macs holds HMAC states keyed with the key. The key itself lives only in
	// the closure of macs.New, never in a field, so that even printing a
	// copy of the struct cannot show it.
	macs sync.Pool // of hash.Hash
}

// NewPseudonymizer returns a Pseudonymizer for key, which must hold at least
// MinKeyLen bytes and at least 8 distinct byte values, and keyVersion, which
// must match [A-Za-z0-9._-]{1,32}. The key is copied. Errors never contain
// the key.
func NewPseudonymizer(key []byte, keyVersion string) (*Pseudonymizer, error) {
	if err := checkKey(key); err != nil {
		return nil, fmt.Errorf("pseudonym key: %w", err)
	}
	if !keyVersionRE.MatchString(keyVersion) {
		return nil, fmt.Errorf("pseudonym key version %q: must match %s", keyVersion, keyVersionRE)
	}
	return newPseudonymizer(key, keyVersion), nil
}

// newPseudonymizer builds a Pseudonymizer without checking the key, so tests
// can run the short keys of RFC 4231 through the real code path.
func newPseudonymizer(key []byte, version string) *Pseudonymizer {
	key = append([]byte(nil), key...)
	p := &Pseudonymizer{version: version, prefix: "v" + version + ":"}
	p.macs.New = func() any { return hmac.New(sha256.New, key) }
	return p
}

func checkKey(key []byte) error {
	if len(key) < MinKeyLen {
		return fmt.Errorf("has %d bytes, need at least %d", len(key), MinKeyLen)
	}
	var seen [256]bool
	distinct := 0
	for _, b := range key {
		if !seen[b] {
			seen[b] = true
			distinct++
		}
	}
	if distinct < minKeyDistinctByte {
		return fmt.Errorf("has fewer than %d distinct byte values, so it is not a random secret (generate one with `openssl rand -hex 32`)",
			minKeyDistinctByte)
	}
	return nil
}

// KeyVersion returns the key version recorded in every pseudonym.
func (p *Pseudonymizer) KeyVersion() string { return p.version }

// Pseudonym returns "v<version>:" + hex(HMAC-SHA256(key, v)). v is used as
// given: call Normalize first.
func (p *Pseudonymizer) Pseudonym(v string) string {
	mac := p.macs.Get().(hash.Hash)
	mac.Reset()
	_, _ = io.WriteString(mac, v) // hash.Hash writes never fail
	var sum [sha256.Size]byte
	mac.Sum(sum[:0])
	p.macs.Put(mac)

	out := make([]byte, len(p.prefix)+hex.EncodedLen(sha256.Size))
	n := copy(out, p.prefix)
	hex.Encode(out[n:], sum[:])
	return string(out)
}

// String, GoString and Format keep the key out of logs, errors and
// debugging output.
func (p *Pseudonymizer) String() string {
	return "Pseudonymizer(v" + p.version + ", key redacted)"
}

// GoString implements fmt.GoStringer without the key.
func (p *Pseudonymizer) GoString() string { return p.String() }

// Format implements fmt.Formatter: every verb prints String().
func (p *Pseudonymizer) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, p.String()) }

// KeyFromEnv returns the pseudonym key held in the environment variable
// name. The variable's value is the key, byte for byte: no hex or base64
// decoding and no trimming. It must meet the requirements of
// NewPseudonymizer. Errors name the variable, never its value.
func KeyFromEnv(name string) ([]byte, error) {
	if name == "" {
		return nil, errors.New("pseudonym key: no environment variable named")
	}
	v, ok := os.LookupEnv(name)
	if !ok {
		return nil, fmt.Errorf("pseudonym key: environment variable %s is not set", name)
	}
	if v == "" {
		return nil, fmt.Errorf("pseudonym key: environment variable %s is empty", name)
	}
	key := []byte(v)
	if err := checkKey(key); err != nil {
		return nil, fmt.Errorf("pseudonym key: environment variable %s: value %w", name, err)
	}
	return key, nil
}
