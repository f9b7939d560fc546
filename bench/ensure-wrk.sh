#!/usr/bin/env bash
# Installs wrk (the load generator of `make bench-worker`) from Debian when it is missing, at
# the pinned version. Quiet no-op when wrk is already on PATH (its version is recorded with
# every benchmark result).
set -euo pipefail

WRK_DEB_VERSION=4.1.0-3+b2

if command -v wrk >/dev/null 2>&1; then
    exit 0
fi
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "wrk is missing and installing it needs root: apt-get install wrk=$WRK_DEB_VERSION" >&2; exit 1; }
    SUDO=(sudo)
fi
echo "== installing wrk=$WRK_DEB_VERSION (Debian)"
if ! "${SUDO[@]}" apt-get install -y -q "wrk=$WRK_DEB_VERSION" >/dev/null; then
    "${SUDO[@]}" apt-get update -q >/dev/null
    "${SUDO[@]}" apt-get install -y -q "wrk=$WRK_DEB_VERSION" >/dev/null
fi
command -v wrk >/dev/null
