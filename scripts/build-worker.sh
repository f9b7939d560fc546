#!/usr/bin/env bash
# Build the Worker: Rust -> wasm32 -> wasm-bindgen -> wasm-opt -> esbuild, all via
# worker-build, with every helper binary taken from a local registry install (see
# scripts/env.sh). Output: build/index.js + build/index_bg.wasm (what wrangler.toml's
# `main` and the integration-test harness load).
#
# This is wrangler.toml's [build] command, so `wrangler dev` / `wrangler deploy`
# rebuild through it; `make build` calls it too. Extra arguments go to worker-build
# (default: --release).
#
# IMS_CRATE_DIR (default: the repository root) selects the crate to build; it exists
# so the toolchain can be exercised on a scratch crate outside the repo.
#
# worker-build always keeps the wasm name section (it passes --debuginfo to wasm-opt); it is
# about 150 KB of the module and nothing at runtime needs it, so it is stripped afterwards
# (another wasm-opt run without optimisation passes). IMS_KEEP_NAMES=1 keeps it, for
# profiles that show Rust function names (bench/profile.mjs) and readable panic traces.
set -euo pipefail

cd "$(dirname "$0")/.."
IMS_REPO_ROOT=$(pwd)
# shellcheck source=scripts/env.sh
. scripts/env.sh

# Quiet no-op when the toolchain is already installed.
scripts/bootstrap.sh

cd "${IMS_CRATE_DIR:-$IMS_REPO_ROOT}"
if [ "$#" -eq 0 ]; then
    set -- --release
fi
worker-build "$@"
if [ "${IMS_KEEP_NAMES:-0}" != "1" ]; then
    wasm=build/index_bg.wasm
    # The feature set worker-build itself enables (never --all-features: newer encodings
    # might not load in workerd).
    "$WASM_OPT_BIN" --strip-debug --strip-producers \
        --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
        --enable-bulk-memory --enable-multivalue --enable-reference-types \
        --enable-exception-handling \
        -o "$wasm.stripped" "$wasm"
    mv "$wasm.stripped" "$wasm"
fi
