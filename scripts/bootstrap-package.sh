#!/usr/bin/env bash
# Installs (only when missing or out of date) the pinned test-only tools of the npm package
# ims-broker-core: tests/package/package.json + package-lock.json pin Deno and Bun (as npm
# packages: their binaries arrive inside @deno/* and @oven/* registry packages), the oldest
# supported Node 20 and Node 22 (npm packages node@20.19.0 and node@22.12.0 under the aliases
# node20/node22: their preinstall fetches the matching node-<os>-<arch> registry package),
# TypeScript for `tsc --strict` of the declarations, and Adobe's @adobe/aio-lib-core-auth for
# the comparison test and the benchmark. Kept apart from the main dev install.
# Idempotent and silent when up to date; called by mk/package.mk after scripts/bootstrap.sh.
set -euo pipefail

cd "$(dirname "$0")/.."
IMS_REPO_ROOT=$(pwd)
# shellcheck source=scripts/env.sh
. scripts/env.sh

say() { echo "bootstrap-package: $*" >&2; }

dir=tests/package
if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    say "npm ci in $dir (deno, bun, node 20 and 22, typescript, @adobe/aio-lib-core-auth)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
fi

want() { node -p "require('./$dir/package.json').devDependencies['$1']"; }
deno_v=$("$dir/node_modules/.bin/deno" --version 2>/dev/null | awk 'NR==1{print $2}' || true)
bun_v=$("$dir/node_modules/.bin/bun" --version 2>/dev/null || true)
[ "$deno_v" = "$(want deno)" ] || { say "ERROR: deno reports '$deno_v', want $(want deno) (rm -rf $dir/node_modules and retry)"; exit 1; }
[ "$bun_v" = "$(want bun)" ] || { say "ERROR: bun reports '$bun_v', want $(want bun) (rm -rf $dir/node_modules and retry)"; exit 1; }
for alias in node20 node22; do
    v=$("$dir/node_modules/$alias/bin/node" --version 2>/dev/null || true)
    [ "npm:node@${v#v}" = "$(want $alias)" ] || { say "ERROR: $alias reports '$v', want $(want $alias) (rm -rf $dir/node_modules and retry)"; exit 1; }
done
tsc_v=$("$dir/node_modules/.bin/tsc" --version 2>/dev/null | awk '{print $2}' || true)
[ "$tsc_v" = "$(want typescript)" ] || { say "ERROR: tsc reports '$tsc_v', want $(want typescript) (rm -rf $dir/node_modules and retry)"; exit 1; }
exit 0
