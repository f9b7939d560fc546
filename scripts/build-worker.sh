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
exec worker-build "$@"
