export GOFLAGS := -buildvcs=false -tags=duckdb_arrow
BIN := bin/privagg
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: build test demo vet bench bench-large verify clean

build:
	go build -ldflags "-X github.com/privagg/privagg/pipeline.Version=$(VERSION)" -o $(BIN) ./cmd/privagg

vet:
	go vet ./...

test: vet
	go test -count=1 ./...

clean:
	rm -rf bin demo
