# privagg: `make demo` runs the example job on synthetic data; `make test` runs
# the tests. DuckDB's Arrow interface needs the duckdb_arrow build tag.
export GOFLAGS := -buildvcs=false -tags=duckdb_arrow
# Test builds add privagg_testnoise: only they can swap the library's noise for
# a test double (privacy/testnoise_hook.go). The binaries are built without it.
TESTFLAGS := -buildvcs=false -tags=duckdb_arrow,privagg_testnoise
test vet lint test-race verify verify-fast test-beam test-beam-prism: export GOFLAGS := $(TESTFLAGS)
BIN := bin/privagg
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
DEMO := demo
LEDGER := $(DEMO)/privagg-ledger.duckdb

.PHONY: build test test-race demo vet lint tidy-check clean schema

build:
	go build -ldflags "-X github.com/privagg/privagg/internal/version.Version=$(VERSION)" -o $(BIN) ./cmd/privagg

vet:
	go vet ./...

# golangci-lint with the checked-in .golangci.yml, on both modules: the main
# one and the Beam engine's (beam/, same configuration). The Beam module's
# dependency tree is large, and loading it (compiling the packages the Beam
# tests compile too) is most of a lint run there: 6 minutes (3.4 of CPU)
# on a busy 2-core machine with a warm build cache. A reduced linter set
# would not shorten the loading, hence the full set and a longer timeout.
# A golangci-lint on PATH is used as it is; otherwise the
# pinned version is installed into $(go env GOPATH)/bin the first time lint
# runs (a few minutes of compiling on a 2-core machine, once; it outlives
# make clean). GOFLAGS is cleared for that build: the project's tags are not
# the linter's.
GOLANGCI_VERSION := v2.15.0
GOPATH_BIN := $(shell go env GOPATH)/bin
GOLANGCI := $(shell command -v golangci-lint 2>/dev/null || echo $(GOPATH_BIN)/golangci-lint)
lint: $(GOLANGCI) tidy-check beam-deps
	$(GOLANGCI) run ./...
	cd beam && $(GOLANGCI) run --config ../.golangci.yml --timeout 20m ./...

# CI fails when a checked-in file is not what the tools would write: go.mod
# and go.sum of both modules (the main one and beam/) must be what go mod
# tidy writes, and every Go file what gofmt writes. Nothing is changed here;
# the message says which command fixes it.
GOFILES = $(shell git ls-files '*.go' 2>/dev/null)
tidy-check:
	@go mod tidy -diff || { echo "tidy-check: go.mod/go.sum are not tidy (diff above); run: go mod tidy"; exit 1; }
	@(cd beam && go mod tidy -diff) || { echo "tidy-check: beam/go.mod/go.sum are not tidy (diff above); run: cd beam && go mod tidy"; exit 1; }
	@files=$$(gofmt -l $(GOFILES)); test -z "$$files" || { echo "$$files"; echo "tidy-check: gofmt would change the files above; run: gofmt -w <file>"; exit 1; }

$(GOLANGCI):
	@echo "installing golangci-lint $(GOLANGCI_VERSION) into $(GOPATH_BIN) (once)"
	GOFLAGS= GOBIN=$(GOPATH_BIN) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)

# The job file's JSON Schema, generated from the job types (job.JSONSchema);
# a test fails when the checked-in file differs.
schema:
	go run ./internal/cmd/jobschema -o configs/job.schema.json

# The tests of both modules: the main one, and the Beam engine's (beam/, its own
# Go module; see beam.mk), on Beam's direct runner and on its portable runner
# prism. The main module's run prints its coverage: per package in the go
# test lines, then the total over all statements (bin/coverage.out; see it
# with go tool cover -html=bin/coverage.out).
COVER_OUT := bin/coverage.out
test: vet lint
	@mkdir -p $(dir $(COVER_OUT))
	go test -count=1 -timeout 30m -coverprofile=$(COVER_OUT) ./...
	@go tool cover -func=$(COVER_OUT) | tail -1 | awk '{print "coverage, main module:", $$NF, "of statements"}'
	$(MAKE) test-race
	$(MAKE) test-beam

# The demo: the project file privagg.yaml (written once, at the repository
# root: every privagg command run in the repository then uses the demo's
# ledger with no flags), 1M synthetic events, a budget for the dataset (set
# once), the plan, the run, and the released table. Running it again
# re-publishes the same release (same job, same input) without new noise or
# charge. configs/example.yaml names the same ledger.
PROJECT := privagg.yaml
PROJECT_MARK := \# written by make demo; make clean removes it

demo: build
	@mkdir -p $(DEMO)
	@test -f $(PROJECT) || printf '%s\nversion: 1\nledger: $(LEDGER)\npublished: [$(DEMO)/out]\n' "$(PROJECT_MARK)" > $(PROJECT)
	@test -f $(DEMO)/events.parquet || $(BIN) gen --events 1000000 --users 100000 --seed 1 --out $(DEMO)/events.parquet
	@test -f $(LEDGER) || $(BIN) budget set web_events --epsilon 10 --delta 5e-6 --period none --reason "make demo"
	$(BIN) plan configs/example.yaml
	$(BIN) run -q configs/example.yaml
	$(BIN) query --format table "SELECT * FROM campaign_weekly ORDER BY campaign, week LIMIT 12"
	$(BIN) query --format table "SELECT * FROM campaign_value"
	$(BIN) query --format table "SELECT * FROM audience WHERE region = 'europe'"

# The race detector on the packages with concurrency of their own (the
# ledger's process and file locks, the sinks' writers, atomic writes). The
# engine packages are left out: DuckDB's C++ threads are invisible to the
# race detector and make the run several times slower.
RACE_PKGS := ./privacy/ ./release/ ./internal/atomicfile/ ./transforms/ ./job/
test-race:
	go test -race -count=1 $(RACE_PKGS)

clean:
	rm -rf bin $(DEMO)
	@! grep -qs 'written by make demo' $(PROJECT) || rm -f $(PROJECT)

-include bench.mk
-include beam.mk
-include verify.mk
