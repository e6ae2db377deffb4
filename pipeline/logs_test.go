package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/privagg/privagg/internal/testfixture"
)

// documentedLogs reads docs/run.md's table of what logs contain: message ->
// the keys its records may carry. Messages and keys are the table's `code`.
func documentedLogs(t *testing.T) map[string][]string {
	t.Helper()
	doc, err := os.ReadFile("../docs/run.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "## What logs and errors contain\n")
	if !ok {
		t.Fatal("docs/run.md has no section What logs and errors contain")
	}
	section, _, _ = strings.Cut(section, "\n#")
	code := regexp.MustCompile("`([^`]+)`")
	docs := map[string][]string{}
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 4 || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") {
			continue
		}
		var keys []string
		for _, m := range code.FindAllStringSubmatch(cells[2], -1) {
			keys = append(keys, m[1])
		}
		for _, m := range code.FindAllStringSubmatch(cells[1], -1) {
			docs[m[1]] = keys
		}
	}
	if len(docs) < 5 {
		t.Fatalf("docs/run.md's log table lists %d messages: %v", len(docs), docs)
	}
	return docs
}

// TestLogsAreDocumented runs a job (a release, then a re-publication) with
// every log level on and checks each record against docs/run.md's table:
// a documented message with documented keys only. A new log line must be
// documented first, so the docs say exactly what logs contain.
func TestLogsAreDocumented(t *testing.T) {
	docs := documentedLogs(t)
	j := testfixture.CSVJob(t, goldenJob, eventsCSV, 10)
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for range 2 {
		if _, err := Run(context.Background(), j, RunOptions{NewEngine: embedded, Logger: log}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(&logs)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		msg, _ := rec[slog.MessageKey].(string)
		keys, ok := docs[msg]
		if !ok {
			t.Errorf("log message %q is not in docs/run.md's table", msg)
			continue
		}
		seen[msg] = true
		for k := range rec {
			if k != slog.TimeKey && k != slog.LevelKey && k != slog.MessageKey && !slices.Contains(keys, k) {
				t.Errorf("log message %q has key %q, which docs/run.md does not list (%v)", msg, k, keys)
			}
		}
	}
	for _, msg := range []string{"input scanned", "budget reserved", "release published", "release already stored: re-published without new noise or charge"} {
		if !seen[msg] {
			t.Errorf("no %q record: the test no longer runs what it checks", msg)
		}
	}
}
