# API fuzzing: schemathesis (PyPI, pinned with hashes in tests/api-fuzz/requirements.txt,
# installed into the git-ignored .tools/schemathesis-venv when missing) against the /openapi.json
# the Worker serves under `wrangler dev --local`, with the fake Adobe behind it. Included by the
# root Makefile; uses its ENV prefix. Needs build/ and target/debug/fake-adobe (make build
# fake-adobe), like `make integration`. Details: docs/api-fuzzing.md.
#
#   make api-fuzz      API_FUZZ_EXAMPLES (default 50) test cases per operation and phase, seed
#                      API_FUZZ_SEED (default 1; empty = random); part of `make test`
#   make fuzz          also runs it with API_FUZZ_LONG_EXAMPLES (default 500) and a random seed
#
# Other knobs (make variables or environment): API_FUZZ_WORKERS (default 1), API_FUZZ_ARGS
# (extra schemathesis arguments, e.g. "--include-operation-id oauthToken").

API_FUZZ_EXAMPLES ?= 50
API_FUZZ_SEED ?= 1
API_FUZZ_LONG_EXAMPLES ?= 500

.PHONY: api-fuzz

api-fuzz:
	@echo "== API fuzzing (schemathesis against the served /openapi.json)"
	@$(ENV) API_FUZZ_EXAMPLES='$(API_FUZZ_EXAMPLES)' API_FUZZ_SEED='$(API_FUZZ_SEED)' scripts/api-fuzz.sh
