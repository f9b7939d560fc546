# shellcheck shell=sh
# Environment for building and running the ims-broker Worker on an offline machine.
#
# Source it (POSIX sh or bash) from the repository root or from any script:
#     . scripts/env.sh
# The Makefile recipes, scripts/build-worker.sh (wrangler's [build] command),
# scripts/dev.sh and scripts/bootstrap.sh all source this file, so this is the ONE
# place where these settings live.
#
# It only sets variables; it never installs anything (that is scripts/bootstrap.sh).

# Repository root: the parent of the directory holding this file. $IMS_REPO_ROOT may be
# preset by the caller (scripts do that, because a sourced file cannot reliably find
# its own path in POSIX sh); otherwise assume the current directory is the root.
if [ -z "${IMS_REPO_ROOT:-}" ]; then
    IMS_REPO_ROOT=$(pwd)
fi
export IMS_REPO_ROOT

# Pinned tool versions (keep in sync with package.json and Cargo.toml).
export IMS_WORKER_BUILD_VERSION=0.8.7    # cargo install worker-build --locked
export IMS_WASM_BINDGEN_VERSION=0.2.130  # must equal wasm-bindgen in Cargo.lock; built with tools/wasm-bindgen-cli/Cargo.lock
export IMS_NODE_VERSION=22.23.3          # used only if the machine's node is < 22.12
export IMS_NODE_MIN=22.12.0              # wrangler 4.15x / miniflare 5 need Node 22 (newer wrangler: 22.12)

# PATH: a project-local Node 22 (installed by bootstrap when the system Node is too
# old) comes first, then cargo-installed tools, then the npm binaries of this repo.
IMS_NODE_BIN="$IMS_REPO_ROOT/.tools/node/node_modules/node/bin"
export IMS_NODE_BIN
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
case ":$PATH:" in
    *":$CARGO_BIN:"*) ;;
    *) PATH="$CARGO_BIN:$PATH" ;;
esac
if [ -x "$IMS_NODE_BIN/node" ]; then
    case ":$PATH:" in
        *":$IMS_NODE_BIN:"*) ;;
        *) PATH="$IMS_NODE_BIN:$PATH" ;;
    esac
fi
case ":$PATH:" in
    *":$IMS_REPO_ROOT/node_modules/.bin:"*) ;;
    *) PATH="$PATH:$IMS_REPO_ROOT/node_modules/.bin" ;;
esac
export PATH

# worker-build downloads wasm-bindgen, wasm-opt and esbuild from the internet unless
# these point at local binaries (it checks <NAME>_BIN first). All three come from a
# registry: wasm-bindgen from crates.io (cargo install), the other two from npm.
#  - wasm-opt from the npm package binaryen@132.0.0 is an emscripten-compiled JS
#    program with a `#!/usr/bin/env node` line; it runs with the node on PATH.
#  - esbuild@0.28.2 is the version worker-build 0.8.7 expects; its postinstall
#    puts the native binary at node_modules/esbuild/bin/esbuild.
export WASM_BINDGEN_BIN="$CARGO_BIN/wasm-bindgen"
export WASM_OPT_BIN="$IMS_REPO_ROOT/node_modules/binaryen/bin/wasm-opt"
export ESBUILD_BIN="$IMS_REPO_ROOT/node_modules/esbuild/bin/esbuild"

# wrangler/miniflare fetch https://workers.cloudflare.com/cf.json at start (fails
# offline) and send usage metrics unless told not to.
export CLOUDFLARE_CF_FETCH_ENABLED=false
export WRANGLER_SEND_METRICS=false
