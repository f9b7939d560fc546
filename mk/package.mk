# The npm package ims-broker-core: the core compiled to WebAssembly.
# Included by the root Makefile; uses its ENV prefix and `bootstrap` target.
#
#   make package        build crates/ims-wasm + packages/ims-broker-core -> dist/ims-broker-core-<version>.tgz
#   make package-tools Deno, Bun and aio-lib-core-auth for the package tests and bench (pinned)
#   make package-test   bindings under Node (wasm-bindgen-test), then the tarball installed in an
#                       empty folder: node:test suite vs the fake Adobe, Deno, Bun, workerd
#   make bench          .wasm gzip size, getToken cache-hit ops/s vs @adobe/aio-lib-core-auth,
#                       then the Worker's benchmark (make bench-worker, mk/bench.mk)

.PHONY: package package-tools package-test bench

PACKAGE_VERSION := $(shell sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' packages/ims-broker-core/package.json | head -1)
PACKAGE_TARBALL := dist/ims-broker-core-$(PACKAGE_VERSION).tgz
PACKAGE_INPUTS := $(shell find crates/ims-core crates/ims-wasm packages/ims-broker-core -type f -not -path '*/target/*' 2>/dev/null) \
	Cargo.lock LICENSE scripts/build-package.sh mk/package.mk

package: bootstrap $(PACKAGE_TARBALL)

$(PACKAGE_TARBALL): $(PACKAGE_INPUTS)
	@$(ENV) scripts/build-package.sh

# Deno, Bun and aio-lib-core-auth, pinned in tests/package/package-lock.json.
package-tools: bootstrap
	@scripts/bootstrap-package.sh

package-test: package package-tools
	@echo "== ims-wasm bindings: clippy (wasm32) + wasm-bindgen-test under Node"
	@$(ENV) cargo clippy -p ims-wasm --target wasm32-unknown-unknown --all-targets --quiet -- -D warnings
	@$(ENV) CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
		cargo test -p ims-wasm --target wasm32-unknown-unknown
	@$(ENV) cargo build -p fake-adobe --quiet
	@echo "== package tests (node --test, tarball installed in a temp folder; Node, Deno, Bun, workerd)"
	@mkdir -p tests/artifacts
	@$(ENV) node --test --test-concurrency=2 --test-reporter=spec 'tests/package/*.test.mjs'

bench: package package-tools
	@$(ENV) cargo build -p fake-adobe --quiet
	@mkdir -p bench/results
	@$(ENV) node tests/package/bench.mjs | tee bench/results/package-bench.txt
	@$(MAKE) --no-print-directory bench-worker BENCH_PACKAGE_RESULT=bench/results/package-bench.txt
