# ims-broker developer tasks. Everything runs offline once `make bootstrap` has
# installed the pinned toolchain (see scripts/bootstrap.sh); the environment for the
# build (WASM_BINDGEN_BIN, WASM_OPT_BIN, ESBUILD_BIN, Node 22 on PATH, no cf.json fetch,
# no wrangler metrics) lives in scripts/env.sh and is sourced by every recipe.
#
#   make bootstrap   install what is missing (rust target, worker-build, wasm-bindgen, Node 22, npm ci)
#   make build       build the Worker -> build/index.js + build/index_bg.wasm
#   make fake-adobe  build the fake Adobe IMS -> target/debug/fake-adobe
#   make dev         fake IMS + wrangler dev on http://127.0.0.1:8787 with a demo caller key
#   make test        fmt check, clippy, cargo test, build, integration tests (what CI runs)
#   make integration the integration tests only (needs build/ and target/debug/fake-adobe)
#   make deploy-check  `wrangler deploy --dry-run` on the real wrangler.toml: a configuration or
#                    bundle Cloudflare would refuse (or wrangler warns about) fails here
#   make console-test the operator console in headless Chromium (installs chromium when missing)
#   make dev-test    runs `make dev` on free ports, gets a token with its printed curl, stops it
#   make caller-key NAME=<id> [ADMIN=1 | ROLE=viewer] [CREDENTIALS=a,b|*] [SCOPES=x,y|*]  add a caller to callers.json, print its key once
#   make publish-callers [WRANGLER_ENV=<env>]  callers.json -> the CALLER_KEYS secret (wrangler secret put)
#   make store-key   a new random STORE_KEY (AES-256 key for secrets and tokens in KV)
#   make fmt         cargo fmt
#   make lint        cargo fmt --check + clippy
#   make clean       remove build/, tests/artifacts/ and .wrangler/

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Prefix for recipes that need the toolchain environment.
ENV := IMS_REPO_ROOT="$(CURDIR)" && . "$(CURDIR)/scripts/env.sh" &&

.PHONY: help bootstrap build fake-adobe dev dev-test deploy-check test integration console-test caller-key publish-callers store-key fmt lint clean

# Every target of this file and of mk/*.mk, from their "#   make <target>" comment lines and the
# indented comment lines that continue them.
help:
	@awk '/^#   make /{on=1; sub(/^#/, ""); print; next} on && /^#     +[^ ]/{sub(/^#/, ""); print; next} {on=0}' $(MAKEFILE_LIST)

bootstrap:
	@scripts/bootstrap.sh

build: bootstrap
	@$(ENV) scripts/build-worker.sh

fake-adobe:
	@$(ENV) cargo build -p fake-adobe

dev: bootstrap fake-adobe
	@$(ENV) scripts/dev.sh

fmt:
	@$(ENV) cargo fmt --all

lint: bootstrap
	@$(ENV) cargo fmt --all --check
	@$(ENV) cargo clippy --workspace --all-targets -- -D warnings

# The whole gate, in order; stops at the first failure (non-zero exit).
test: bootstrap
	@echo "== cargo fmt --check"
	@$(ENV) cargo fmt --all --check
	@echo "== cargo clippy"
	@$(ENV) cargo clippy --workspace --all-targets -- -D warnings
	@echo "== cargo test"
	@$(ENV) cargo test --workspace
	@echo "== build the Worker"
	@$(ENV) scripts/build-worker.sh
	@echo "== build fake-adobe"
	@$(ENV) cargo build -p fake-adobe
	@$(MAKE) --no-print-directory deploy-check
	@$(MAKE) --no-print-directory integration
	@$(MAKE) --no-print-directory api-fuzz
	@$(MAKE) --no-print-directory package-test
	@$(MAKE) --no-print-directory console-test
	@$(MAKE) --no-print-directory dev-test

# The deploy as Cloudflare would take it, without sending anything: wrangler builds the Worker
# through [build], checks the configuration and bindings, bundles, and stops. Its warnings
# (an unknown or misplaced key, a deprecated setting) fail the target too.
deploy-check: bootstrap
	@echo "== deploy check (wrangler deploy --dry-run)"
	@out=$$(mktemp -d) && trap 'rm -rf "$$out"' EXIT && \
		$(ENV) wrangler deploy --dry-run --outdir "$$out/bundle" > "$$out/log" 2>&1 \
		|| { cat "$$out/log"; echo "deploy-check: wrangler deploy --dry-run failed" >&2; exit 1; }; \
		if grep -q 'WARNING' "$$out/log"; then cat "$$out/log"; echo "deploy-check: wrangler warned (above)" >&2; exit 1; fi; \
		test -s "$$out/bundle/index.js" || { echo "deploy-check: no bundle written" >&2; exit 1; }; \
		grep -E '^(Total Upload|--dry-run)' "$$out/log"

# Integration tests only (needs build/ and target/debug/fake-adobe). The Worker log
# file is truncated first so the final log-scanning test sees exactly this run.
integration:
	@echo "== integration tests (node --test)"
	@mkdir -p tests/artifacts && : > tests/artifacts/worker-logs.txt && : > tests/artifacts/fake-adobe-logs.txt && : > tests/artifacts/responses.jsonl
	@$(ENV) node --test --test-concurrency=1 --test-reporter=spec 'tests/integration/**/*.test.mjs'

# The operator console in headless Chromium against `wrangler dev` + the fake Adobe (needs
# build/ and target/debug/fake-adobe). Installs Debian's chromium first when it is missing.
console-test:
	@echo "== console test (headless chromium)"
	@scripts/ensure-chromium.sh
	@$(ENV) node --test --test-reporter=spec 'tests/console/*.test.mjs'

# `make dev` itself, as a user runs it (tests/dev/): token through the printed curl, Ctrl-C stops all.
dev-test:
	@echo "== make dev test (wrangler dev + fake Adobe, then Ctrl-C)"
	@$(ENV) node --test --test-reporter=spec 'tests/dev/*.test.mjs'

# Usage: make caller-key NAME=<caller id> [ADMIN=1 | ROLE=viewer] [CREDENTIALS=a,b|*] [SCOPES=x,y|*]
# Without SCOPES= the caller gets the configured scopes of its credentials (wrangler.toml [vars]
# SCOPES / CREDENTIALS, .dev.vars winning), never read_client_secret / manage_client_secrets;
# SCOPES=* is whatever each credential allows. ROLE=viewer: a read-only operator key (no tokens).
# The callers file: reviewable (it holds digests, not keys), committed by the operator.
CALLERS ?= callers.json

caller-key:
	@test -n "$(NAME)" || { echo "usage: make caller-key NAME=<caller id> [ADMIN=1 | ROLE=viewer] [CREDENTIALS=a,b|*] [SCOPES=x,y|*]" >&2; exit 2; }
	@$(ENV) node scripts/new-caller-key.mjs '$(NAME)' --file '$(CALLERS)' \
		$(if $(filter 1 true yes,$(ADMIN)),--admin) \
		$(if $(ROLE),--role '$(ROLE)') \
		$(if $(CREDENTIALS),--credentials '$(CREDENTIALS)') \
		$(if $(SCOPES),--scopes '$(SCOPES)')

publish-callers:
	@$(ENV) node scripts/publish-callers.mjs --file '$(CALLERS)' $(if $(WRANGLER_ENV),--env '$(WRANGLER_ENV)')

store-key:
	@$(ENV) node scripts/new-store-key.mjs

# The npm package ims-broker-core (make package, package-test, bench).
include mk/package.mk
# The Worker's benchmarks and load test (make bench-worker, load; make bench runs both benches).
include mk/bench.mk
include mk/api-fuzz.mk

#   make fuzz        cargo fuzz every target in fuzz/ for FUZZ_SECONDS (default 60) each (docs/fuzzing.md)
.PHONY: fuzz
fuzz:
	@$(ENV) scripts/fuzz.sh
	@$(MAKE) --no-print-directory api-fuzz API_FUZZ_EXAMPLES='$(API_FUZZ_LONG_EXAMPLES)' API_FUZZ_SEED=

clean:
	rm -rf build tests/artifacts .wrangler
