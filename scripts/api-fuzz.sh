#!/usr/bin/env bash
# API fuzzing: schemathesis against the /openapi.json served by the Worker under
# `wrangler dev --local`, with the fake Adobe behind it. Needs build/ (make build) and
# target/debug/fake-adobe (make fake-adobe). See docs/api-fuzzing.md.
#
#   scripts/api-fuzz.sh                        (make api-fuzz; make test; make fuzz with more examples)
#
# Environment: API_FUZZ_EXAMPLES (default 50), API_FUZZ_SEED (default 1; empty = random),
# API_FUZZ_WORKERS (default 1), API_FUZZ_ARGS (extra schemathesis arguments); PYTHON (default
# python3, CPython 3.11: the hashes in requirements.txt are of its wheels).
#
# schemathesis and every package it needs come from PyPI, pinned with hashes in
# tests/api-fuzz/requirements.txt (regenerate with tests/api-fuzz/lock.sh), and are installed into
# the git-ignored venv .tools/schemathesis-venv only when it is missing or was made from another
# requirements.txt or Python (stamp file), so repeated runs start at once.
set -euo pipefail

ROOT=${IMS_REPO_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
REQ="$ROOT/tests/api-fuzz/requirements.txt"
VENV="$ROOT/.tools/schemathesis-venv"
STAMP="$VENV/.ims-installed"
PYTHON=${PYTHON:-python3}

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "api-fuzz: $PYTHON not found (CPython 3.11 with pip and venv is needed)" >&2
    exit 1
fi
want="$(sha256sum "$REQ" | cut -d' ' -f1) $("$PYTHON" -c 'import sys; print(sys.implementation.name, sys.version.split()[0])')"
if [ ! -x "$VENV/bin/schemathesis" ] || [ "$(cat "$STAMP" 2>/dev/null || true)" != "$want" ]; then
    echo "== installing schemathesis into ${VENV#"$ROOT"/} (pinned, hashes checked)"
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV"
    # --no-deps: requirements.txt lists every package itself; --require-hashes refuses any file
    # whose sha256 differs; --only-binary: the recorded hashes are of wheels.
    # PyPI only: no --find-links directory from the environment (PIP_FIND_LINKS).
    env -u PIP_FIND_LINKS -u PIP_NO_INDEX "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-input \
        --no-deps --require-hashes --only-binary :all: -r "$REQ"
    "$VENV/bin/pip" check --disable-pip-version-check
    echo "$want" >"$STAMP"
fi

export SCHEMATHESIS="$VENV/bin/schemathesis"
cd "$ROOT"
exec node tests/api-fuzz/run.mjs
