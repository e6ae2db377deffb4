package duckdb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privagg/privagg/transforms"
)

// TestIdsReadAsIsOnlyWhenAllCanonical: __src passes the person ids through
// as read only when every id of the input is canonical already; one id with
// surrounding white space anywhere in the input (here the last row of
// thousands) makes every row canonicalized, so that " u7\u00a0" and "u7" stay
// one person.
func TestIdsReadAsIsOnlyWhenAllCanonical(t *testing.T) {
	for _, tc := range []struct {
		name      string
		last      string // the id of the input's last row
		canonical bool
	}{
		{"all canonical", "u7", true},
		{"blank id", "", true}, // "" is canonical; the malformed rules reject it
		{"leading space", " u7", false},
		{"trailing no-break space", "u7\u00a0", false},
		{"inner space", "u 7", true}, // only surrounding white space is trimmed
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var lines []string
			for i := range 3000 {
				lines = append(lines, fmt.Sprintf("u%d,g%d,1,true", i%10, i%3))
			}
			lines = append(lines, `"`+tc.last+`",g0,1,true`)
			data := "user_id,g,v,ok\n" + strings.Join(lines, "\n") + "\n"
			if err := os.WriteFile(filepath.Join(dir, "events.csv"), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
			eng, qp := openPlan(t, loadBoundingJob(t, dir, 5, 10, 0, 10), 1)
			if qp.in.idsCanonical != tc.canonical {
				t.Errorf("idsCanonical = %v, want %v", qp.in.idsCanonical, tc.canonical)
			}
			if got := strings.Contains(qp.sourceSQL(), transforms.CanonicalUnitSQL(`"user_id"`, false)); got == tc.canonical {
				t.Errorf("__src canonicalizes each row: %v, want %v", got, !tc.canonical)
			}
			rows, err := eng.QueryRows(context.Background(), "SELECT count(DISTINCT __unit)::BIGINT FROM "+viewClean)
			if err != nil {
				t.Fatal(err)
			}
			want := int64(10)
			if tc.last == "u 7" {
				want = 11
			}
			if got := toInt64(rows[0][0]); got != want {
				t.Errorf("%d people among the clean rows, want %d", got, want)
			}
		})
	}
}
