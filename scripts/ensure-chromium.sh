#!/usr/bin/env bash
# Make sure Debian's headless-capable Chromium is installed at /usr/bin/chromium, for the
# operator-console browser test (tests/console/, driven by playwright-core with
# executablePath '/usr/bin/chromium'). Idempotent: does nothing when it is already there.
# Never lets a tool download its own browser (that fails offline); only apt is used.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    exit 0
fi

say() { echo "ensure-chromium: $*" >&2; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        say "ERROR: $CHROMIUM is missing and this user cannot run apt-get (not root, no sudo)."
        say "Install it with: apt-get update && apt-get install -y chromium"
        exit 1
    fi
fi

say "$CHROMIUM missing; installing Debian's chromium package with apt-get (takes a minute or two)"
start=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y chromium
[ -x "$CHROMIUM" ] || { say "ERROR: apt-get finished but $CHROMIUM is still missing"; exit 1; }
say "installed $("$CHROMIUM" --version 2>/dev/null || echo chromium) in $(( $(date +%s) - start )) s"
