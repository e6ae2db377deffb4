# The Apache Beam engine: a separate Go module in beam/ so that
# Beam's dependency tree stays out of bin/privagg. `privagg run --engine beam`
# runs bin/privagg-beam. Included from the Makefile (GOFLAGS come from there).
# beam-deps downloads the beam module's dependencies (they are not in the top
# module's go.sum), so both targets work from a clean clone.
.PHONY: beam beam-deps test-beam test-beam-prism

beam-deps:
	cd beam && go mod download

beam: beam-deps
	cd beam && go build -ldflags "-X github.com/privagg/privagg/internal/version.Version=$(VERSION)" -o ../bin/privagg-beam ./cmd/privagg-beam

# The beam engine's tests: equivalence with the embedded engine (CSV and
# Parquet; auto bounds), noise scale (Laplace and Gaussian), re-publication across engines,
# refusals, selection and consent table. They run twice: on Beam's in-process
# direct runner, and on prism, Beam's portable runner, which goes through the
# job service that Flink, Spark and Dataflow use and so catches what the
# direct runner hides (encoding, registration).
test-beam: beam-deps
	cd beam && go vet ./... && go test -count=1 ./...
	$(MAKE) test-beam-prism

test-beam-prism: beam-deps
	cd beam && go test -count=1 ./beamengine/ -args --runner prism
