# The Apache Beam engine (issue 7): a separate Go module in beam/ so that
# Beam's dependency tree stays out of bin/privagg. `privagg run --engine beam`
# runs bin/privagg-beam. Included from the Makefile.
.PHONY: beam test-beam

beam:
	cd beam && go build -ldflags "-X github.com/privagg/privagg/pipeline.Version=$(VERSION)" -o ../bin/privagg-beam ./cmd/privagg-beam

test-beam:
	cd beam && go vet ./... && go test -count=1 ./...
