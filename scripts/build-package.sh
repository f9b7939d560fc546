#!/usr/bin/env bash
# Builds the npm package `ims-broker-core` from crates/ims-wasm and packages/ims-broker-core,
# and writes its `npm pack` tarball into dist/. Used by `make package` (mk/package.mk).
#
#   1. cargo build -p ims-wasm for wasm32-unknown-unknown with a size profile
#      (opt-level "z", LTO, one codegen unit, panic=abort; no `strip`: wasm-bindgen reads the
#      target_features section, wasm-opt strips afterwards), defined here with --config so the
#      workspace's release profile (the Worker's) is left alone;
#   2. wasm-bindgen 0.2.130 (the cargo-installed CLI, never a download) --target web: one
#      .wasm and one ESM glue file, shared by every runtime entry (node.mjs, web.mjs,
#      workerd.mjs pick how the .wasm is loaded);
#   3. wasm-opt -Oz from the npm package binaryen@132.0.0 (a node script);
#   4. stage the package sources + wasm/ in target/ims-broker-core/package and `npm pack`.
#
# Prints the tarball path and the .wasm sizes (raw, gzip -9, against the 80 KB target) at the end.
set -euo pipefail

cd "$(dirname "$0")/.."
IMS_REPO_ROOT=$(pwd)
# shellcheck source=scripts/env.sh
. scripts/env.sh

say() { echo "package: $*" >&2; }

PROFILE=wasm-package
TARGET_DIR="$IMS_REPO_ROOT/target"
WASM_IN="$TARGET_DIR/wasm32-unknown-unknown/$PROFILE/ims_wasm.wasm"
STAGE="$TARGET_DIR/ims-broker-core/package"
SRC=packages/ims-broker-core
OUT_NAME=ims_broker_core

say "cargo build -p ims-wasm (wasm32, profile $PROFILE)"
cargo build -p ims-wasm --target wasm32-unknown-unknown --profile "$PROFILE" \
    --config "profile.$PROFILE.inherits=\"release\"" \
    --config "profile.$PROFILE.opt-level=\"z\"" \
    --config "profile.$PROFILE.lto=true" \
    --config "profile.$PROFILE.codegen-units=1" \
    --config "profile.$PROFILE.panic=\"abort\"" \
    --config "profile.$PROFILE.debug=false"

rm -rf "$STAGE"
mkdir -p "$STAGE/wasm"
say "wasm-bindgen --target web"
"$WASM_BINDGEN_BIN" --target web --no-typescript --out-name "$OUT_NAME" --out-dir "$STAGE/wasm" "$WASM_IN"

if [ "${IMS_PACKAGE_WASM_OPT:-1}" != "0" ]; then
    say "wasm-opt -Oz"
    # The features rustc enables by default for wasm32-unknown-unknown.
    "$WASM_OPT_BIN" -Oz --strip-debug --strip-producers \
        --enable-bulk-memory --enable-mutable-globals --enable-nontrapping-float-to-int \
        --enable-sign-ext --enable-reference-types --enable-multivalue \
        -o "$STAGE/wasm/${OUT_NAME}_bg.wasm.opt" "$STAGE/wasm/${OUT_NAME}_bg.wasm"
    mv "$STAGE/wasm/${OUT_NAME}_bg.wasm.opt" "$STAGE/wasm/${OUT_NAME}_bg.wasm"
fi

cp "$SRC"/package.json "$SRC"/README.md "$SRC"/index.d.ts "$SRC"/*.mjs "$STAGE/"
# The repository's license file ships in the tarball (package.json "license" names it).
cp LICENSE "$STAGE/"

mkdir -p dist
rm -f dist/ims-broker-core-*.tgz
say "npm pack"
(cd "$STAGE" && npm pack --pack-destination "$IMS_REPO_ROOT/dist" --loglevel=error >/dev/null)

wasm="$STAGE/wasm/${OUT_NAME}_bg.wasm"
raw=$(wc -c < "$wasm")
gz=$(gzip -9 -c "$wasm" | wc -c)
tarball=$(ls dist/ims-broker-core-*.tgz)
say "wrote $tarball"
# Reported, not a target: what users feel is load and call time (tests/package/bench.mjs).
say "wasm: $raw bytes raw, $gz bytes gzip -9 ($(( (gz + 1023) / 1024 )) KiB)"
