# `make verify`: the verification suite in full mode (10^5 audit
# trials per dataset, 200 kills, 60 s per fuzz target) and its summary table.
# The fast subset runs in `make test` as ordinary tests.
.PHONY: verify verify-fast
VERIFY_FUZZTIME ?= 60s

verify:
	go run ./internal/verify/cmd/verify -full -fuzztime $(VERIFY_FUZZTIME)

verify-fast:
	go run ./internal/verify/cmd/verify
