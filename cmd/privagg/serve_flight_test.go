package main

import (
	"bufio"
	"context"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

const flightToken = "flight-sql-test-token-0123456789"

// startFlight starts privagg serve with a token and --flight-addr
// 127.0.0.1:0 (and args) and returns the Flight SQL address it printed. The
// process is interrupted (and must exit 0) when the test ends.
func startFlight(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(cliBinary(t), append([]string{"serve", "--addr", "127.0.0.1:0", "--flight-addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), cliChildEnv+"=1", serveTokenEnv+"="+flightToken)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("privagg serve after an interrupt: %v\n%s", err, stderr.String())
			}
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("privagg serve did not stop on an interrupt")
		}
	})
	addr := make(chan string, 1)
	go func() {
		r := bufio.NewReader(out)
		re := regexp.MustCompile(`grpc://(127\.0\.0\.1:\d+)`)
		for {
			l, err := r.ReadString('\n')
			if m := re.FindStringSubmatch(l); m != nil {
				addr <- m[1]
				break
			}
			if err != nil {
				break
			}
		}
		_, _ = io.Copy(io.Discard, r)
		done <- cmd.Wait()
	}()
	select {
	case a := <-addr:
		return a
	case <-time.After(60 * time.Second):
		t.Fatalf("privagg serve --flight-addr printed no grpc:// address\n%s", stderr.String())
	}
	return ""
}

// flightClient is Arrow's own Flight SQL client, connected to addr.
func flightClient(t *testing.T, addr string) *flightsql.Client {
	t.Helper()
	cl, err := flightsql.NewClient(addr, nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

func withToken(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

// flightCSV reads every endpoint of info and renders the rows as CSV (a
// header line, then one line per row), as privagg query --format csv would
// for these columns.
func flightCSV(ctx context.Context, t *testing.T, cl *flightsql.Client, info *flight.FlightInfo) string {
	t.Helper()
	var b strings.Builder
	for i, ep := range info.Endpoint {
		rdr, err := cl.DoGet(ctx, ep.Ticket)
		if err != nil {
			t.Fatalf("DoGet: %v", err)
		}
		if i == 0 {
			var names []string
			for _, f := range rdr.Schema().Fields() {
				names = append(names, f.Name)
			}
			b.WriteString(strings.Join(names, ",") + "\n")
		}
		for rdr.Next() {
			rec := rdr.RecordBatch()
			for r := range int(rec.NumRows()) {
				var cells []string
				for _, col := range rec.Columns() {
					cells = append(cells, cell(t, col, r))
				}
				b.WriteString(strings.Join(cells, ",") + "\n")
			}
		}
		if err := rdr.Err(); err != nil {
			t.Fatalf("read the stream: %v", err)
		}
		rdr.Release()
	}
	return b.String()
}

func cell(t *testing.T, col arrow.Array, i int) string {
	if col.IsNull(i) {
		return ""
	}
	switch c := col.(type) {
	case *array.String:
		return c.Value(i)
	case *array.Int64:
		return strconv.FormatInt(c.Value(i), 10)
	case *array.Float64:
		return strconv.FormatFloat(c.Value(i), 'g', -1, 64)
	}
	t.Fatalf("column type %s not rendered by the test", col.DataType())
	return ""
}

// TestServeFlightSQL: Arrow's Flight SQL client reads a released table
// through privagg serve --flight-addr with the token, gets what privagg
// query prints, is refused the raw input with the CLI's message, and is
// refused without the token.
func TestServeFlightSQL(t *testing.T) {
	dir, ledger := publishTwo(t)
	addr := startFlight(t, "--ledger", ledger)
	cl := flightClient(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	authed := withToken(ctx, flightToken)

	cliCSV := func(sql string) string {
		t.Helper()
		code, stdout, stderr := cli(t, "--ledger", ledger, "query", "--format", "csv", sql)
		if code != 0 {
			t.Fatalf("privagg query %q: exit %d\n%s", sql, code, stderr)
		}
		return stdout
	}

	t.Run("reads a released table as the CLI does", func(t *testing.T) {
		for _, sql := range []string{
			"SELECT campaign, channel, people, revenue FROM by_channel ORDER BY ALL",
			"SELECT campaign, channel, people FROM by_channel__r1 ORDER BY ALL",
		} {
			info, err := cl.Execute(authed, sql)
			if err != nil {
				t.Fatalf("Execute(%s): %v", sql, err)
			}
			got := flightCSV(authed, t, cl, info)
			if want := cliCSV(sql); got != want || strings.Count(got, "\n") != 5 {
				t.Errorf("%s over Flight SQL:\n%s\nwant (privagg query):\n%s", sql, got, want)
			}
		}
	})

	t.Run("ci95_sum", func(t *testing.T) {
		sql := "SELECT ci95_sum(people_ci95) AS people_ci95 FROM by_channel"
		info, err := cl.Execute(authed, sql)
		if err != nil {
			t.Fatalf("Execute: %v", err)
		}
		got := strings.Split(strings.TrimSpace(flightCSV(authed, t, cl, info)), "\n")
		want := strings.Split(strings.TrimSpace(cliCSV(sql)), "\n")
		// Four rows of one half-width h: sqrt(4) h.
		each := strings.Split(strings.TrimSpace(cliCSV("SELECT DISTINCT people_ci95 FROM by_channel")), "\n")
		if len(got) != 2 || len(want) != 2 || len(each) != 2 {
			t.Fatalf("ci95_sum: Flight SQL %q, privagg query %q, half-widths %q", got, want, each)
		}
		g, _ := strconv.ParseFloat(got[1], 64)
		w, _ := strconv.ParseFloat(want[1], 64)
		h, _ := strconv.ParseFloat(each[1], 64)
		if g != w || h <= 0 || math.Abs(g-2*h) > 1e-9*h {
			t.Errorf("ci95_sum(people_ci95) = %v over Flight SQL, %v in privagg query; want 2 x %v", g, w, h)
		}
	})

	t.Run("prepared statement", func(t *testing.T) {
		prep, err := cl.Prepare(authed, "SELECT campaign, count(*) AS n FROM by_channel GROUP BY campaign ORDER BY campaign")
		if err != nil {
			t.Fatalf("Prepare: %v", err)
		}
		defer prep.Close(authed)
		if sc := prep.DatasetSchema(); sc == nil || sc.NumFields() != 2 || sc.Field(1).Name != "n" {
			t.Errorf("prepared statement's dataset schema = %v, want campaign, n", sc)
		}
		info, err := prep.Execute(authed)
		if err != nil {
			t.Fatalf("Execute: %v", err)
		}
		if got, want := flightCSV(authed, t, cl, info), "campaign,n\ncmp_a,2\ncmp_b,2\n"; got != want {
			t.Errorf("prepared statement read %q, want %q", got, want)
		}
	})

	t.Run("tables", func(t *testing.T) {
		info, err := cl.GetTables(authed, &flightsql.GetTablesOpts{})
		if err != nil {
			t.Fatalf("GetTables: %v", err)
		}
		var names []string
		for _, l := range strings.Split(strings.TrimSpace(flightCSV(authed, t, cl, info)), "\n")[1:] {
			f := strings.Split(l, ",")
			names = append(names, f[2]+":"+f[3])
		}
		if want := []string{"by_channel:TABLE", "by_channel__r1:TABLE", "by_channel__r2:TABLE"}; !slices.Equal(names, want) {
			t.Errorf("GetTables = %v, want %v", names, want)
		}
	})

	// The raw input and the ledger are refused, with privagg query's message.
	for _, sql := range []string{
		"SELECT * FROM '" + filepath.Join(dir, "events.csv") + "'",
		"SELECT * FROM read_csv('" + filepath.Join(dir, "events.csv") + "')",
		"SELECT * FROM read_blob('" + ledger + "')",
		"COPY by_channel TO '" + filepath.Join(dir, "x.csv") + "'",
	} {
		t.Run("refused "+sql, func(t *testing.T) {
			code, _, stderr := cli(t, "--ledger", ledger, "query", sql)
			if code != 2 || !strings.Contains(stderr, "query refused") {
				t.Fatalf("privagg query: exit %d, want 2 and a refusal\n%s", code, stderr)
			}
			_, err := cl.Execute(authed, sql)
			st, _ := status.FromError(err)
			if err == nil || st.Code() != codes.PermissionDenied {
				t.Fatalf("Execute: %v, want PermissionDenied", err)
			}
			if want := "privagg: " + st.Message() + "\n"; stderr != want {
				t.Errorf("Flight SQL refusal %q differs from privagg query's %q", st.Message(), stderr)
			}
			_, err = cl.Prepare(authed, sql)
			if st, _ := status.FromError(err); st.Code() != codes.PermissionDenied || "privagg: "+st.Message()+"\n" != stderr {
				t.Errorf("Prepare: %v, want PermissionDenied with privagg query's message", err)
			}
		})
	}

	t.Run("invalid SQL", func(t *testing.T) {
		info, err := cl.Execute(authed, "SELECT nope FROM by_channel")
		// Found when the query runs: Execute only checks it.
		if err == nil {
			var rdr *flight.Reader
			if rdr, err = cl.DoGet(authed, info.Endpoint[0].Ticket); err == nil {
				for rdr.Next() {
				}
				err = rdr.Err()
				rdr.Release()
			}
		}
		if st, _ := status.FromError(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "invalid SQL") {
			t.Errorf("invalid SQL: %v, want InvalidArgument naming invalid SQL", err)
		}
	})

	t.Run("without the token", func(t *testing.T) {
		for name, c := range map[string]context.Context{
			"no token":    ctx,
			"wrong token": withToken(ctx, "not-the-token-0123456789"),
			"basic auth":  metadata.AppendToOutgoingContext(ctx, "authorization", "Basic "+flightToken),
		} {
			_, err := cl.Execute(c, "SELECT * FROM by_channel")
			if st, _ := status.FromError(err); st.Code() != codes.Unauthenticated || strings.Contains(st.Message(), flightToken) {
				t.Errorf("%s: Execute: %v, want Unauthenticated", name, err)
			}
			if _, err := cl.GetTables(c, &flightsql.GetTablesOpts{}); status.Code(err) != codes.Unauthenticated {
				t.Errorf("%s: GetTables: %v, want Unauthenticated", name, err)
			}
			// A forged ticket is refused before it runs.
			tkt, _ := flightsql.CreateStatementQueryTicket([]byte("SELECT * FROM by_channel"))
			if rdr, err := cl.DoGet(c, &flight.Ticket{Ticket: tkt}); err == nil {
				rdr.Release()
				t.Errorf("%s: DoGet succeeded without the token", name)
			} else if status.Code(err) != codes.Unauthenticated {
				t.Errorf("%s: DoGet: %v, want Unauthenticated", name, err)
			}
		}
	})
}

// TestServeFlightSQLPublished: an analyst's console (--from) serves over
// Flight SQL the tables of privagg query --from, and nothing else.
func TestServeFlightSQLPublished(t *testing.T) {
	dir, _ := publishTwo(t)
	from := filepath.Join(dir, "out_parquet")
	cl := flightClient(t, startFlight(t, "--from", from))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	authed := withToken(ctx, flightToken)
	sql := "SELECT campaign, channel, people FROM by_channel ORDER BY ALL"
	info, err := cl.Execute(authed, sql)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	code, want, stderr := cli(t, "query", "--from", from, "--format", "csv", sql)
	if got := flightCSV(authed, t, cl, info); code != 0 || got != want {
		t.Errorf("over Flight SQL:\n%s\nwant (privagg query --from, exit %d):\n%s%s", got, code, want, stderr)
	}
	if _, err := cl.Execute(authed, "SELECT * FROM by_channel__r1"); status.Code(err) != codes.PermissionDenied {
		t.Errorf("a release not in the folder: %v, want PermissionDenied", err)
	}
}

// TestServeFlightAddrRules: --flight-addr follows the console's address
// rule: an address other than loopback needs a token the user gave.
func TestServeFlightAddrRules(t *testing.T) {
	noToken := cliRun{env: []string{serveTokenEnv + "="}}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--flight-addr", "0.0.0.0:0"}, "--flight-addr 0.0.0.0:0: is reachable from other machines"},
		{[]string{"serve", "--flight-addr", ":0"}, "Flight SQL needs a token"},
		{[]string{"serve", "--flight-addr", "nonsense"}, "--flight-addr: address"},
	} {
		code, _, stderr := noToken.privagg(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("privagg %v: exit %d, want 2 with %q\n%s", c.args, code, c.want, stderr)
		}
	}
}

// TestQueryCI95SumAndMissingRows: ci95_sum and the documented pattern that
// counts the rows a sum leaves out run through the binary.
func TestQueryCI95SumAndMissingRows(t *testing.T) {
	_, ledger := publishTwo(t)
	// The docs' pattern (docs/analysts.md), over a table with one row
	// taken out as partition selection would: every campaign x channel pair
	// the table holds anywhere, and which of them each campaign has.
	sql := `WITH t AS (SELECT * FROM by_channel WHERE NOT (campaign = 'cmp_b' AND channel = 'search')),
grid AS (SELECT c.campaign, k.channel FROM (SELECT DISTINCT campaign FROM t) c CROSS JOIN (SELECT DISTINCT channel FROM t) k)
SELECT g.campaign, count(t.channel) AS released, count(*) AS expected, count(*) - count(t.channel) AS missing,
       sum(t.people) AS people, ci95_sum(t.people_ci95) AS people_ci95
FROM grid g LEFT JOIN t USING (campaign, channel)
GROUP BY g.campaign ORDER BY g.campaign`
	code, stdout, stderr := cli(t, "--ledger", ledger, "query", "--format", "csv", sql)
	if code != 0 {
		t.Fatalf("privagg query: exit %d\n%s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 3 || lines[0] != "campaign,released,expected,missing,people,people_ci95" ||
		!strings.HasPrefix(lines[1], "cmp_a,2,2,0,") || !strings.HasPrefix(lines[2], "cmp_b,1,2,1,") {
		t.Fatalf("missing-rows pattern printed:\n%s", stdout)
	}
	// ci95_sum of n equal half-widths h is sqrt(n) h.
	code, stdout, stderr = cli(t, "--ledger", ledger, "query", "--format", "csv",
		"SELECT campaign, round(ci95_sum(people_ci95) / max(people_ci95), 9) AS r FROM by_channel GROUP BY campaign ORDER BY campaign")
	if want := "campaign,r\ncmp_a,1.414213562\ncmp_b,1.414213562\n"; code != 0 || stdout != want {
		t.Errorf("ci95_sum per campaign: exit %d\n%s%s\nwant\n%s", code, stdout, stderr, want)
	}
}
