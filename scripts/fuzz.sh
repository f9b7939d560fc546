#!/usr/bin/env bash
# Fuzzes ims-core with cargo-fuzz (libFuzzer): every target of fuzz/ (or those named as
# arguments) for a bounded time each, then prints a table of executions and crashes.
# Exits non-zero if any target crashed (or failed to run). See docs/fuzzing.md.
#
#   scripts/fuzz.sh [target…]        (make fuzz)
#
# Environment:
#   FUZZ_SECONDS    seconds per target (default 60)
#   FUZZ_SANITIZER  none (default) | address: ims-core forbids unsafe code, so the bugs hunted
#                   are panics and broken invariants; address adds ASan (about 2-3x slower)
#   FUZZ_ARGS       extra libFuzzer flags, e.g. "-max_len=4096 -dict=…"
#
# Corpora grow in fuzz/corpus/<target> (git-ignored) from the committed seeds in
# fuzz/seeds/<target>; a crashing input is written to fuzz/artifacts/<target>/ (git-ignored)
# and is replayed with: RUSTC_BOOTSTRAP=1 cargo fuzz run -a -s none <target> <file>
# (from fuzz/), which prints the panic; the rotation target's panic carries a trace.
set -euo pipefail

ROOT=${IMS_REPO_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
FUZZ_DIR="$ROOT/fuzz"
CARGO_FUZZ_VERSION=0.13.1
SECONDS_EACH=${FUZZ_SECONDS:-60}
SANITIZER=${FUZZ_SANITIZER:-none}
read -r -a EXTRA <<<"${FUZZ_ARGS:-}"

case "$SECONDS_EACH" in
    '' | *[!0-9]*) echo "FUZZ_SECONDS must be a whole number of seconds" >&2; exit 2 ;;
esac

CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
case ":$PATH:" in *":$CARGO_BIN:"*) ;; *) PATH="$CARGO_BIN:$PATH" ;; esac

# cargo-fuzz, pinned; installed only when missing or another version.
if [ "$(cargo fuzz --version 2>/dev/null || true)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
    echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

# cargo-fuzz passes nightly-only flags (-Zsanitizer, -Cpasses=sancov-module …) to rustc. This
# machine has the stable toolchain only; RUSTC_BOOTSTRAP=1 lets stable accept them. Scoped to
# this script: the rest of the build never sees it.
export RUSTC_BOOTSTRAP=1
cd "$FUZZ_DIR"

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

# -a: debug assertions and overflow checks on, so an arithmetic overflow is a crash.
BUILD_FLAGS=(-a -s "$SANITIZER")
echo "== cargo fuzz build (sanitizer: $SANITIZER)"
for t in "${targets[@]}"; do
    cargo fuzz build "${BUILD_FLAGS[@]}" "$t"
done

LOG_DIR="$FUZZ_DIR/target/fuzz-logs"
mkdir -p "$LOG_DIR"
rows=()
failed=0
for t in "${targets[@]}"; do
    corpus="corpus/$t"
    mkdir -p "$corpus" "artifacts/$t"
    if [ -d "seeds/$t" ]; then
        cp -n seeds/"$t"/* "$corpus"/ 2>/dev/null || true
    fi
    before=$(find "artifacts/$t" -type f | wc -l)
    log="$LOG_DIR/$t.log"
    echo "== fuzzing $t for ${SECONDS_EACH}s (log: ${log#"$ROOT"/})"
    rc=0
    cargo fuzz run "${BUILD_FLAGS[@]}" "$t" "$corpus" -- \
        -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 "${EXTRA[@]}" >"$log" 2>&1 || rc=$?
    after=$(find "artifacts/$t" -type f | wc -l)
    crashes=$((after - before))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    execs=${execs:-0}
    files=$(find "$corpus" -type f | wc -l)
    status=ok
    if [ "$crashes" -gt 0 ]; then
        status=CRASH
    elif [ "$rc" -ne 0 ]; then
        status="ERROR (exit $rc)"
    fi
    if [ "$status" != ok ]; then
        failed=1
        grep -m 1 -A 3 -E "panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer" "$log" >&2 || tail -n 20 "$log" >&2
    fi
    rows+=("$t|$SECONDS_EACH|$execs|$((execs / (SECONDS_EACH > 0 ? SECONDS_EACH : 1)))|$files|$crashes|$status")
done

echo
printf '%-16s %8s %14s %10s %8s %8s  %s\n' target seconds executions exec/s corpus crashes status
for row in "${rows[@]}"; do
    IFS='|' read -r t s e r c k st <<<"$row"
    printf '%-16s %8s %14s %10s %8s %8s  %s\n' "$t" "$s" "$e" "$r" "$c" "$k" "$st"
done
if [ "$failed" -ne 0 ]; then
    echo
    echo "fuzzing found crashes: inputs in fuzz/artifacts/<target>/, logs in fuzz/target/fuzz-logs/" >&2
    exit 1
fi
