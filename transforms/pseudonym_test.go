package transforms

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// testKey is a 32-byte key made of many distinct bytes.
var testKey = []byte("0123456789abcdefghijklmnopqrstuv")

func mustPseudonymizer(t testing.TB, key []byte, version string) *Pseudonymizer {
	t.Helper()
	p, err := NewPseudonymizer(key, version)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHMACKnownAnswersRFC4231 runs the seven HMAC-SHA256 test cases of RFC
// 4231 through Pseudonym itself. Their keys are shorter than MinKeyLen
// (cases 1-5) or repeat one byte (6-7), so they go through the unexported
// constructor, which skips only the key checks.
func TestHMACKnownAnswersRFC4231(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("testdata", "rfc4231.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vectors struct {
		Cases []struct {
			Case           int
			Key, Data, MAC string
		}
	}
	if err := json.Unmarshal(raw, &vectors); err != nil {
		t.Fatal(err)
	}
	if len(vectors.Cases) != 7 {
		t.Fatalf("%d test cases in the golden file, want 7", len(vectors.Cases))
	}
	for _, c := range vectors.Cases {
		t.Run(fmt.Sprintf("case %d", c.Case), func(t *testing.T) {
			key, err := hex.DecodeString(c.Key)
			if err != nil {
				t.Fatal(err)
			}
			data, err := hex.DecodeString(c.Data)
			if err != nil {
				t.Fatal(err)
			}
			got := newPseudonymizer(key, "7").Pseudonym(string(data))
			mac, ok := strings.CutPrefix(got, "v7:")
			if !ok {
				t.Fatalf("pseudonym %q lacks the key version prefix v7:", got)
			}
			if len(mac) != 64 {
				t.Fatalf("MAC %q has %d hex digits, want 64", mac, len(mac))
			}
			// Case 5 specifies only the first 128 bits (32 hex digits).
			if !strings.HasPrefix(mac, c.MAC) {
				t.Errorf("HMAC-SHA256 = %s, want %s", mac, c.MAC)
			}
		})
	}
}

func TestPseudonymFormat(t *testing.T) {
	t.Parallel()
	p := mustPseudonymizer(t, testKey, "1")
	re := regexp.MustCompile(`^v1:[0-9a-f]{64}$`)
	for _, v := range []string{"", "alice@example.com", "ünïcødé", strings.Repeat("x", 10_000)} {
		got := p.Pseudonym(v)
		if !re.MatchString(got) {
			t.Errorf("Pseudonym(%.20q) = %q, want match of %s", v, got, re)
		}
		if again := p.Pseudonym(v); again != got {
			t.Errorf("Pseudonym(%.20q) not deterministic: %q then %q", v, got, again)
		}
	}
	if p.KeyVersion() != "1" {
		t.Errorf("KeyVersion() = %q, want 1", p.KeyVersion())
	}
}

func TestPseudonymizerCopiesKey(t *testing.T) {
	t.Parallel()
	key := append([]byte(nil), testKey...)
	p := mustPseudonymizer(t, key, "1")
	before := p.Pseudonym("alice@example.com")
	key[0] ^= 0xff
	if after := p.Pseudonym("alice@example.com"); after != before {
		t.Error("changing the caller's key slice changed the pseudonyms")
	}
}

func TestPseudonymConcurrent(t *testing.T) {
	t.Parallel()
	p := mustPseudonymizer(t, testKey, "1")
	want := make([]string, 1000)
	for i := range want {
		want[i] = p.Pseudonym(fmt.Sprintf("user%d@example.com", i))
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range want {
				j := (i + g*131) % len(want)
				if got := p.Pseudonym(fmt.Sprintf("user%d@example.com", j)); got != want[j] {
					t.Errorf("goroutine %d: pseudonym %d differs", g, j)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestNewPseudonymizerErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, version string
		key           []byte
		fragment      string
	}{
		{"empty key", "1", nil, "has 0 bytes, need at least 32"},
		{"short key", "1", []byte("short-but-secret-value-31-bytes"), "has 31 bytes, need at least 32"},
		{"repeated byte", "1", []byte(strings.Repeat("a", 64)), "fewer than 8 distinct byte values"},
		{"few distinct bytes", "1", []byte(strings.Repeat("abcdefg", 10)), "fewer than 8 distinct byte values"},
		{"empty version", "", testKey, "key version"},
		{"version with colon", "1:2", testKey, "key version"},
		{"version with space", "v 2", testKey, "key version"},
		{"version too long", strings.Repeat("9", 33), testKey, "key version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewPseudonymizer(tc.key, tc.version)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.fragment) {
				t.Errorf("error %q does not contain %q", err, tc.fragment)
			}
			if len(tc.key) > 0 && strings.Contains(err.Error(), string(tc.key)) {
				t.Errorf("error %q contains the key", err)
			}
		})
	}
	for _, v := range []string{"1", "v2", "2024-06.rotated_B"} {
		if _, err := NewPseudonymizer(testKey, v); err != nil {
			t.Errorf("version %q: %v", v, err)
		}
	}
}

// TestPseudonymizerNeverPrintsKey formats a Pseudonymizer with every common
// verb and checks that no encoding of the key shows up.
func TestPseudonymizerNeverPrintsKey(t *testing.T) {
	t.Parallel()
	p := mustPseudonymizer(t, testKey, "3")
	encodings := []string{
		string(testKey), hex.EncodeToString(testKey), base64.StdEncoding.EncodeToString(testKey),
		fmt.Sprint([]byte(testKey)), fmt.Sprintf("%x", testKey), fmt.Sprintf("%q", testKey), string(testKey[:8]),
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v"} {
		for _, arg := range []any{p, []any{p}, struct{ P *Pseudonymizer }{p}, map[string]*Pseudonymizer{"p": p}} {
			out := fmt.Sprintf(verb, arg)
			for _, e := range encodings {
				if strings.Contains(out, e) {
					t.Errorf("fmt %s of %T prints the key: %q", verb, arg, out)
				}
			}
		}
	}
	if got := fmt.Sprint(p); got != "Pseudonymizer(v3, key redacted)" {
		t.Errorf("fmt.Sprint = %q", got)
	}
	if b, err := json.Marshal(p); err != nil || string(b) != "{}" {
		t.Errorf("json.Marshal = %s, %v; want {}", b, err)
	}
}

// syntheticEmails returns n distinct, deterministic email addresses shaped
// like real ones (names, digits, several domains, mixed case, padding).
func syntheticEmails(n int) []string {
	first := []string{"anna", "Ben", "chloé", "david", "Eva", "finn", "grace", "hugo", "ida", "jonas", "kim", "Lea"}
	last := []string{"müller", "smith", "o'neil", "garcía", "nguyen", "Rossi", "kowalski", "dubois", "ito", "berg"}
	domains := []string{"example.com", "Example.org", "mail.example.net", "exämple.de", "corp.example.co.uk"}
	seps := []string{".", "_", "", "-"}
	out := make([]string, n)
	for i := range out {
		e := fmt.Sprintf("%s%s%s%d@%s", first[i%len(first)], seps[(i/7)%len(seps)], last[(i/3)%len(last)], i,
			domains[(i/11)%len(domains)])
		if i%17 == 0 {
			e = "  " + e + "\t"
		}
		out[i] = e
	}
	return out
}

// TestDictionaryAttackFindsNothing plays an attacker holding a dictionary of
// unkeyed SHA-256 and MD5 hashes (hex, of both the raw and the normalized
// forms) of 10^5 candidate emails, and a leaked staging file with the
// pseudonyms of exactly those emails: no pseudonym may match any dictionary
// entry, with or without its version prefix.
func TestDictionaryAttackFindsNothing(t *testing.T) {
	t.Parallel()
	const n = 100_000
	emails := syntheticEmails(n)
	dict := make(map[string]bool, 4*n)
	for _, e := range emails {
		for _, v := range []string{e, Normalize(KindEmail, e)} {
			s := sha256.Sum256([]byte(v))
			m := md5.Sum([]byte(v))
			dict[hex.EncodeToString(s[:])] = true
			dict[hex.EncodeToString(m[:])] = true
		}
	}
	if len(dict) < 2*n {
		t.Fatalf("dictionary has %d entries, want at least %d", len(dict), 2*n)
	}
	p := mustPseudonymizer(t, testKey, "1")
	seen := make(map[string]bool, n)
	matches := 0
	for _, e := range emails {
		ps := p.Pseudonym(Normalize(KindEmail, e))
		mac := strings.TrimPrefix(ps, "v1:")
		if dict[ps] || dict[mac] || dict[mac[:32]] {
			matches++
		}
		seen[ps] = true
	}
	if matches != 0 {
		t.Errorf("%d of %d pseudonyms found in the unkeyed hash dictionary", matches, n)
	}
	if len(seen) != n {
		t.Errorf("%d distinct pseudonyms for %d distinct emails", len(seen), n)
	}
}

// TestKeyVersionsDisjoint checks that rotating to a new key (and version)
// gives pseudonyms that share nothing with the old ones, so files written
// under different keys cannot be joined on the pseudonym.
func TestKeyVersionsDisjoint(t *testing.T) {
	t.Parallel()
	const n = 10_000
	v1 := mustPseudonymizer(t, testKey, "1")
	v2 := mustPseudonymizer(t, []byte("a different key, 32 bytes long!!"), "2")
	old := make(map[string]bool, 2*n)
	for i := range n {
		ps := v1.Pseudonym(fmt.Sprintf("user%d@example.com", i))
		old[ps] = true
		old[strings.TrimPrefix(ps, "v1:")] = true
	}
	shared := 0
	for i := range n {
		ps := v2.Pseudonym(fmt.Sprintf("user%d@example.com", i))
		if !strings.HasPrefix(ps, "v2:") {
			t.Fatalf("pseudonym %q lacks prefix v2:", ps)
		}
		if old[ps] || old[strings.TrimPrefix(ps, "v2:")] {
			shared++
		}
	}
	if shared != 0 {
		t.Errorf("%d of %d inputs got the same pseudonym under both keys", shared, n)
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ kind, in, want string }{
		{KindEmail, "  Alice@Example.COM\t", "alice@example.com"},
		{KindEmail, "ÉMILE@EXÄMPLE.DE", "émile@exämple.de"},
		{KindEmail, "\u00a0bob@example.com\u2003", "bob@example.com"}, // Unicode spaces
		{KindEmail, "", ""},
		{"phone", " +49 30 1234 ", "+49 30 1234"},
		{"ip", "10.0.0.1\n", "10.0.0.1"},
		{"", " MixedCase ", "MixedCase"},
	} {
		t.Run(tc.kind+"/"+tc.in, func(t *testing.T) {
			if got := Normalize(tc.kind, tc.in); got != tc.want {
				t.Errorf("Normalize(%q, %q) = %q, want %q", tc.kind, tc.in, got, tc.want)
			}
		})
	}
}

func TestKeyFromEnv(t *testing.T) {
	const name = "PRIVAGG_TEST_PSEUDONYM_KEY"
	good := "c2f1e6b0d97a4b58a3e01f6c7d9b2e4a8f3c5d7e9a1b3c5d7e9f0a2b4c6d8e0f" // 64 hex chars = 64 key bytes
	t.Run("good", func(t *testing.T) {
		t.Setenv(name, good)
		key, err := KeyFromEnv(name)
		if err != nil {
			t.Fatal(err)
		}
		if string(key) != good {
			t.Error("key is not the raw bytes of the variable")
		}
	})
	for _, tc := range []struct {
		name     string
		value    *string
		fragment string
	}{
		{"unset", nil, "is not set"},
		{"empty", ptr(""), "is empty"},
		{"short", ptr("a-secret-value-of-30-bytes-xyz"), "has 30 bytes, need at least 32"},
		{"placeholder", ptr(strings.Repeat("changeme", 8)), "fewer than 8 distinct byte values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.value == nil {
				t.Setenv(name, "")
				os.Unsetenv(name)
			} else {
				t.Setenv(name, *tc.value)
			}
			_, err := KeyFromEnv(name)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.Contains(msg, name) || !strings.Contains(msg, tc.fragment) {
				t.Errorf("error %q does not name %s and contain %q", msg, name, tc.fragment)
			}
			if tc.value != nil && *tc.value != "" {
				for _, leak := range []string{*tc.value, (*tc.value)[:8], hex.EncodeToString([]byte(*tc.value))[:16]} {
					if strings.Contains(msg, leak) {
						t.Errorf("error %q contains (part of) the key", msg)
					}
				}
			}
		})
	}
	if _, err := KeyFromEnv(""); err == nil {
		t.Error("empty variable name: no error")
	}
}

func ptr[T any](v T) *T { return &v }

func ExamplePseudonymizer() {
	// In production the key comes from KeyFromEnv("PRIVAGG_PSEUDONYM_KEY").
	p, err := NewPseudonymizer([]byte("example key: never use a key from source code!"), "1")
	if err != nil {
		fmt.Println(err)
		return
	}
	a := p.Pseudonym(Normalize(KindEmail, " Alice@Example.com "))
	b := p.Pseudonym(Normalize(KindEmail, "alice@example.com"))
	fmt.Println(a[:3], len(a), a == b)
	fmt.Println(p)
	// Output:
	// v1: 67 true
	// Pseudonymizer(v1, key redacted)
}

func BenchmarkPseudonym(b *testing.B) {
	p := mustPseudonymizer(b, testKey, "1")
	b.ReportAllocs()
	for b.Loop() {
		p.Pseudonym("alice.smith1234@example.com")
	}
}
