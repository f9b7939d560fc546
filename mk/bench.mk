# The Worker's benchmarks and load test. Included by the root Makefile after
# mk/package.mk; uses the root's ENV prefix and `build`, `fake-adobe` targets and package.mk's
# `package`, `package-tools`. `make bench` (mk/package.mk) runs the npm package's bench, then
# bench-worker with that output (BENCH_PACKAGE_RESULT), so it runs once.
# Knobs (make variables or environment): BENCH_ROUNDS, BENCH_SECONDS, BENCH_STARTUP_ROUNDS,
# BENCH_STRICT=1, BENCH_RECORD=1, LOAD_SECONDS, LOAD_CONNECTIONS (see bench/*.mjs).
#
#   make bench-worker  broker vs hello-world JS / bare workers-rs / JS+KV Workers (wrk, 64 conn.),
#                      IMS calls (1000 cold, one token lifetime), .wasm size, isolate start-up;
#                      BENCH_RECORD=1 writes the results into BENCHMARKS.md
#   make bench-tools   wrk (from Debian, at the pinned version) when it is missing
#   make load          60 s mixed load (hits, new scope sets, bad requests) at 64 connections

.PHONY: bench-worker load bench-tools

BENCH_BARE := bench/bare-worker/build/index.js

# wrk from Debian (pinned; installed only when missing).
bench-tools:
	@bench/ensure-wrk.sh

# Comparison Worker (b): its own crate and workspace, built like the broker.
$(BENCH_BARE): bench/bare-worker/Cargo.toml bench/bare-worker/Cargo.lock bench/bare-worker/src/lib.rs scripts/build-worker.sh
	@echo "== build bench/bare-worker (bare workers-rs Worker)"
	@$(ENV) IMS_CRATE_DIR="$(CURDIR)/bench/bare-worker" scripts/build-worker.sh

# package + package-tools: section 4 is the npm package's bench (tests/package/bench.mjs).
bench-worker: build fake-adobe bench-tools $(BENCH_BARE) package package-tools
	@echo "== Worker benchmark (bench/bench.mjs)"
	@$(ENV) node bench/bench.mjs

load: build fake-adobe
	@echo "== load test (bench/load.mjs)"
	@$(ENV) node bench/load.mjs
