#!/usr/bin/env bash
# Local development loop (`make dev`), fully offline:
#   1. the fake Adobe IMS on http://127.0.0.1:$FAKE_PORT (client demo-client:demo-secret),
#   2. a .dev.vars (git-ignored) pointing the broker at it, with a freshly generated
#      admin caller key "demo" in CALLER_KEYS; a .dev.vars this script did not write (its first
#      line is not MARKER) is the user's own settings: it is left as it is and make dev stops
#      with a message saying how to go on,
#   3. `wrangler dev --local` on http://127.0.0.1:$DEV_PORT (wrangler runs the [build]
#      command, i.e. scripts/build-worker.sh, and rebuilds on edits under src/, crates/), with
#      a fresh local KV for the run (like the fake and STORE_KEY, nothing is kept between runs),
# then prints the demo key and a ready-to-paste curl command. Ctrl-C stops everything.
#
# Expects `make bootstrap` and `cargo build -p fake-adobe` to have run (`make dev` does).
# Ports: FAKE_PORT (default 9999), DEV_PORT (default 8787).
set -euo pipefail

cd "$(dirname "$0")/.."
IMS_REPO_ROOT=$(pwd)
# shellcheck source=scripts/env.sh
. scripts/env.sh

FAKE_PORT=${FAKE_PORT:-9999}
DEV_PORT=${DEV_PORT:-8787}
FAKE_BIN=target/debug/fake-adobe

say() { echo "dev: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# The first line of every .dev.vars this script writes.
MARKER="# Written by scripts/dev.sh (make dev) — local demo configuration, regenerated each run."
if [ -e .dev.vars ] && [ "$(head -n 1 .dev.vars)" != "$MARKER" ]; then
    die ".dev.vars exists and was not written by make dev: it holds your own local settings, which make dev would replace. Move it aside (e.g. mv .dev.vars .dev.vars.mine) and run make dev again, or run wrangler dev yourself with it."
fi

[ -x "$FAKE_BIN" ] || die "$FAKE_BIN missing: run \`cargo build -p fake-adobe\` (or \`make dev\`)"
[ -x node_modules/.bin/wrangler ] || die "wrangler missing: run \`make bootstrap\`"

fake_pid=""
wrangler_pid=""
tmp_dir=$(mktemp -d)

# Stop both servers however we exit (Ctrl-C, error, or wrangler ending on its own).
cleanup() {
    trap - EXIT INT TERM
    if [ -n "$wrangler_pid" ] && kill -0 "$wrangler_pid" 2>/dev/null; then
        kill -TERM "$wrangler_pid" 2>/dev/null || true
        # wrangler shuts its workerd down on SIGTERM; give it a moment.
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$wrangler_pid" 2>/dev/null || break
            sleep 0.5
        done
        kill -KILL "$wrangler_pid" 2>/dev/null || true
    fi
    if [ -n "$fake_pid" ] && kill -0 "$fake_pid" 2>/dev/null; then
        kill -TERM "$fake_pid" 2>/dev/null || true
        wait "$fake_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp_dir"
    say "stopped"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- 1. fake Adobe IMS ----------------------------------------------------------------
# stdout (its one "listening on" line) goes to a file we poll; its per-request log
# lines (stderr) go to the terminal with a prefix.
"$FAKE_BIN" --port "$FAKE_PORT" --client demo-client:demo-secret --credential 4242:1717:demo-client \
    >"$tmp_dir/fake.out" 2> >(sed -u 's/^/[fake-adobe] /' >&2) &
fake_pid=$!
for _ in $(seq 1 100); do
    grep -q 'listening on' "$tmp_dir/fake.out" 2>/dev/null && break
    kill -0 "$fake_pid" 2>/dev/null || die "fake-adobe exited (is port $FAKE_PORT in use? set FAKE_PORT=...)"
    sleep 0.1
done
fake_url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$tmp_dir/fake.out" | head -1)
[ -n "$fake_url" ] || die "fake-adobe did not report its URL"
say "fake Adobe IMS at $fake_url (client demo-client / demo-secret)"

# --- 2. .dev.vars with a fresh demo caller key ----------------------------------------
# Secrets and overrides for `wrangler dev` only (git-ignored). Values are single-quoted
# so the JSON is taken literally.
key_json=$(node scripts/new-caller-key.mjs demo --admin --credentials '*' --scopes '*' --json)
demo_key=$(printf '%s' "$key_json" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).key))')
caller_keys=$(printf '%s' "$key_json" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);process.stdout.write(JSON.stringify({[j.id]:j.entry}))})')
umask 077
cat > .dev.vars <<EOF
$MARKER
CLIENT_ID='demo-client'
CLIENT_SECRET='demo-secret'
IMS_TOKEN_URL='$fake_url/ims/token/v3'
IO_API_BASE_URL='$fake_url'
ORG_ID='4242'
CREDENTIAL_ID='1717'
ROTATION_GRACE_S='30'
CALLER_KEYS='$caller_keys'
STORE_KEY='$(node scripts/new-store-key.mjs --raw)'
EOF
umask 022
say "wrote .dev.vars (CLIENT_ID=demo-client, IMS_TOKEN_URL=$fake_url/ims/token/v3, CALLER_KEYS with admin caller \"demo\")"

# --- 3. wrangler dev ------------------------------------------------------------------
say "starting wrangler dev on http://127.0.0.1:$DEV_PORT (first build can take ~1 min)"
# Local KV and Durable Object state live in the run's temporary directory: the fake Adobe and
# STORE_KEY are new on every run, so state kept from an earlier run (tokens of clients the fake no
# longer knows, secrets sealed with another STORE_KEY) could only fail.
wrangler dev --local --ip 127.0.0.1 --port "$DEV_PORT" --show-interactive-dev-session=false \
    --persist-to "$tmp_dir/state" &
wrangler_pid=$!

# Wait until the Worker answers (any HTTP status), then print how to call it.
ready=""
for _ in $(seq 1 600); do
    kill -0 "$wrangler_pid" 2>/dev/null || die "wrangler dev exited (see its output above)"
    if node -e 'fetch(process.argv[1]).then(()=>process.exit(0),()=>process.exit(1))' \
        "http://127.0.0.1:$DEV_PORT/healthz" 2>/dev/null; then
        ready=1
        break
    fi
    sleep 0.5
done
[ -n "$ready" ] || die "wrangler dev did not answer on port $DEV_PORT within 5 minutes"

cat >&2 <<EOF

================================================================================
 ims-broker is running at http://127.0.0.1:$DEV_PORT  (fake Adobe IMS: $fake_url)

 Demo caller key (admin, regenerated each \`make dev\`; also hashed in .dev.vars):
   $demo_key

 Get a token:
   curl -s -X POST http://127.0.0.1:$DEV_PORT/v1/token -H "Authorization: Bearer $demo_key"

 Ctrl-C stops the broker and the fake.
================================================================================

EOF

# Stay in the foreground until wrangler ends or Ctrl-C.
set +e
wait "$wrangler_pid"
rc=$?
wrangler_pid=""
exit "$rc"
