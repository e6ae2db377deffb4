package duckdb

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// consentEvents writes random events where consent varies within a person:
// most people grant consent on every row, some refuse on one row (perhaps a
// row that is malformed for another reason, or in a partition the person
// would not keep), some have a malformed consent value, and some rows have
// no person id.
func consentEvents(t *testing.T, r *rand.Rand, dir string, numeric bool) {
	t.Helper()
	var lines []string
	for u := range 200 {
		unit := fmt.Sprintf("u%d", u)
		if numeric {
			unit = fmt.Sprint(u)
		}
		rows := 1 + r.IntN(12)
		odd := r.IntN(rows) // the row that may refuse
		kind := r.IntN(6)   // 0: refuses, 1: malformed consent, 2: refuses on a malformed row, else: grants
		for i := range rows {
			ok, v := "true", fmt.Sprint(r.IntN(50))
			if i == odd {
				switch kind {
				case 0:
					ok = "false"
				case 1:
					ok = "maybe"
				case 2:
					ok, v = "false", "not a number"
				}
			}
			lines = append(lines, fmt.Sprintf("%s,g%02d,%s,%s", unit, r.IntN(15), v, ok))
		}
	}
	for range 5 {
		lines = append(lines, fmt.Sprintf(",g%02d,1,false", r.IntN(15)), fmt.Sprintf(",g%02d,1,true", r.IntN(15)))
	}
	r.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	data := "user_id,g,v,ok\n" + strings.Join(lines, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "events.csv"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestConsentInTheWindow: when the bounding window decides consent per
// person (foldsConsent), the run builds no table of people who refused (no
// scan of the input for consent alone), and it keeps exactly the pairs, and
// counts exactly the excluded rows, of the run that excludes every person
// with a refusing or malformed consent value through that table: a single
// refusal anywhere (a malformed row, a partition the person would not keep)
// excludes all of the person's rows.
func TestConsentInTheWindow(t *testing.T) {
	paths := []struct {
		name     string
		numeric  bool
		weakHash bool
	}{{name: "hashed"}, {name: "collisions", weakHash: true}, {name: "integer", numeric: true}}
	ctx := context.Background()
	for seed := uint64(1); seed <= 3; seed++ {
		for _, path := range paths {
			t.Run(fmt.Sprintf("%s/seed%d", path.name, seed), func(t *testing.T) {
				r := rand.New(rand.NewPCG(seed, 11))
				dir := t.TempDir()
				consentEvents(t, r, dir, path.numeric)
				j := loadBoundingJob(t, dir, 1+r.IntN(3), 2, 0, 20)
				runSeed := r.Uint64()
				open := func(table bool) (*DB, *queryPlan, rowCounts) {
					eng, qp := openPlanWith(t, j, runSeed, func(qp *queryPlan) {
						qp.needClean = table
						if path.weakHash {
							qp.unitHash = "hash(" + colUnit + ") % 3"
						}
					})
					if qp.foldsConsent() == table {
						t.Fatalf("foldsConsent = %v with needClean %v", qp.foldsConsent(), table)
					}
					c, err := countRows(ctx, eng, qp)
					if err != nil {
						t.Fatal(err)
					}
					return eng, qp, c
				}
				eng, qp, folded := open(false)
				refEng, refQP, ref := open(true)
				if folded.read != ref.read || folded.rejected != ref.rejected || folded.excluded != ref.excluded {
					t.Errorf("window: read %d, rejected %d, excluded %d; refusal table: %d, %d, %d",
						folded.read, folded.rejected, folded.excluded, ref.read, ref.rejected, ref.excluded)
				}
				if ref.excluded == 0 {
					t.Fatal("the input excludes nobody: the test data is wrong")
				}
				if _, err := eng.QueryRows(ctx, "SELECT 1 FROM "+tabRefused); err == nil {
					t.Errorf("the window decides consent, yet %s exists", tabRefused)
				}
				got := pairRows(t, eng, fmt.Sprintf("(%s) WHERE %s <> %d", qp.pairsSQL(0, bounding{}), colPid, excludedPid))
				want := pairRows(t, refEng, "("+refQP.pairsSQL(0, bounding{})+")")
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("kept pairs differ:\nwindow:        %v\nrefusal table: %v", got, want)
				}
				// The statistics hold no partition 0 once prepared.
				rows, err := eng.QueryRows(ctx, fmt.Sprintf("SELECT count(*) FROM %s WHERE %s = %d", statsTable(0), colPid, excludedPid))
				if err != nil {
					t.Fatal(err)
				}
				if n := toInt64(rows[0][0]); n != 0 {
					t.Errorf("%d statistics rows of partition %d", n, excludedPid)
				}
			})
		}
	}
}

// pairRows lists a relation of bounded pairs as sorted "ukey pid rows
// total" lines.
func pairRows(t *testing.T, eng *DB, pairs string) []string {
	t.Helper()
	rows, err := eng.QueryRows(context.Background(), fmt.Sprintf(
		"SELECT CAST(%s AS VARCHAR) || ' ' || %s || ' ' || %s || ' ' || coalesce(CAST(__t0 AS VARCHAR), '-') AS l FROM %s ORDER BY l",
		colUkey, colPid, colRows, pairs))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r[0].(string)
	}
	return out
}
