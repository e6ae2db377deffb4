# Benchmark targets, included by the Makefile. See benchmarks/README.md.
#   make bench                                  1M and 10M events
#   make bench-large                            adds 100M events
#   make bench BENCH_FLAGS="--memory-limit 4GB --reps 5"
BENCH_FLAGS ?=
BENCH_SIZES ?= 1M,10M
BENCH_LARGE_SIZES ?= 1M,10M,100M

.PHONY: bench bench-large bench-tools

bench-tools: build
	go build -o bin/plainquery ./benchmarks/cmd/plainquery
	go build -o bin/bench ./benchmarks/cmd/bench

bench: bench-tools
	bin/bench --privagg $(BIN) --plainquery bin/plainquery --sizes $(BENCH_SIZES) $(BENCH_FLAGS)

bench-large: bench-tools
	bin/bench --privagg $(BIN) --plainquery bin/plainquery --sizes $(BENCH_LARGE_SIZES) $(BENCH_FLAGS)

# `make bench-utility`: the utility of released values (issue "Utility";
# benchmarks/UTILITY.md): per plan in UTILITY_PLANS and 5 seeds, partitions
# released and, per metric, the error against the true values split into
# bounding bias and noise, and the share of released values whose 95%
# interval contains the truth (coverage), on three data shapes
# (UTILITY_SHAPES: the issue's --skew 1.2, gen's default --skew 3, and Zipf
# --zipf 1.2). The tables are also written to benchmarks/data/utility/latest.md.
UTILITY_PLANS ?= $(foreach p,$(wildcard benchmarks/utility/*.yaml),--plan $(p))
UTILITY_FLAGS ?=
UTILITY_SHAPES ?= --skew=1.2 --skew=3 --zipf=1.2

.PHONY: bench-utility
bench-utility: build
	go build -o bin/utility ./benchmarks/cmd/utility
	@mkdir -p benchmarks/data/utility
	@rm -f benchmarks/data/utility/latest.md
	@for shape in $(UTILITY_SHAPES); do \
		echo "== data shape $$shape" | tee -a benchmarks/data/utility/latest.md; \
		bin/utility --privagg privagg=$(BIN) $(UTILITY_PLANS) $(UTILITY_FLAGS) $$shape | tee -a benchmarks/data/utility/latest.md || exit 1; \
	done
