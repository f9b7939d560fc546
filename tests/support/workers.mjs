// Running Workers under Miniflare (the real workerd) from Node, as the integration tests
// (tests/integration/harness.mjs) and the benchmarks (bench/lib.mjs) both do: the repository's
// wrangler.toml settings, the module list of a built Worker, one Miniflare instance listening on
// 127.0.0.1 only, and the caller keys the broker Worker accepts.
//
// Nothing here reaches the internet: Miniflare is started with `cf: false` and telemetry off.
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { Miniflare, convertV4MiniflareOptions } from "miniflare";

/** Absolute path of the repository root. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

// Never let wrangler/miniflare reach out to the internet.
process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= "false";
process.env.WRANGLER_SEND_METRICS ??= "false";

/**
 * Read `compatibility_date`, the `[vars]` table and the `[assets]` table from wrangler.toml (a
 * deliberately tiny reader: only `KEY = "string"` lines and, in `[assets]`, one-line arrays of
 * strings are understood, which is all the file uses).
 * @returns {{compatibilityDate: string, vars: Record<string, string>,
 *   assets: {directory?: string, html_handling?: string, not_found_handling?: string,
 *   run_worker_first?: string[]}}}
 */
export function readWranglerToml() {
  const text = fs.readFileSync(path.join(REPO_ROOT, "wrangler.toml"), "utf8");
  let section = "";
  let compatibilityDate;
  const vars = {};
  const assets = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const sec = /^\[\[?([^\]]+)\]\]?$/.exec(line);
    if (sec) {
      section = sec[1].trim();
      continue;
    }
    const list = /^([A-Za-z0-9_]+)\s*=\s*(\[(?:\s*"(?:[^"\\]|\\.)*"\s*,?)*\s*\])\s*(?:#.*)?$/.exec(line);
    if (list && section === "assets") assets[list[1]] = JSON.parse(list[2].replace(/,\s*\]$/, "]"));
    const kv = /^([A-Za-z0-9_]+)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:#.*)?$/.exec(line);
    if (!kv) continue;
    const value = JSON.parse(`"${kv[2]}"`);
    if (section === "" && kv[1] === "compatibility_date") compatibilityDate = value;
    if (section === "vars") vars[kv[1]] = value;
    if (section === "assets") assets[kv[1]] = value;
  }
  if (!compatibilityDate) throw new Error("wrangler.toml has no compatibility_date");
  return { compatibilityDate, vars, assets };
}

/** `compatibility_date` of the root wrangler.toml (the broker's; used for every Worker). */
export function compatibilityDate() {
  return readWranglerToml().compatibilityDate;
}

/**
 * The module list for a Worker whose entry is `scriptPath`: the entry first, then every
 * other `*.js`/`*.mjs` (ESModule) and `*.wasm` (CompiledWasm) file next to it. This is the
 * usual module rules (each .js file an ESModule, each .wasm file CompiledWasm), spelled out because
 * miniflare 5 no longer locates modules itself. worker-build 0.8.7 emits
 * build/index.js (ES module, `import ... from "./index_bg.wasm"`) and
 * build/index_bg.wasm (plus build/worker/shim.mjs, a backwards-compat re-export that
 * is not needed).
 * @param {string} scriptPath
 * @returns {{modules: {type: string, path: string}[], modulesRoot: string}}
 */
export function moduleList(scriptPath) {
  const dir = path.dirname(scriptPath);
  const modules = [{ type: "ESModule", path: scriptPath }];
  for (const f of fs.readdirSync(dir).sort()) {
    const p = path.join(dir, f);
    if (p === scriptPath || !fs.statSync(p).isFile()) continue;
    if (f.endsWith(".js") || f.endsWith(".mjs")) modules.push({ type: "ESModule", path: p });
    else if (f.endsWith(".wasm")) modules.push({ type: "CompiledWasm", path: p });
  }
  return { modules, modulesRoot: dir };
}

/**
 * The URL of Worker `name`'s direct socket (its `unsafeDirectSockets` entry), without a
 * trailing slash, e.g. "http://127.0.0.1:40111".
 * @param {import("miniflare").Miniflare} mf
 * @param {string} name
 * @returns {Promise<string>}
 */
export async function directUrl(mf, name) {
  return (await mf.unsafeGetDirectURL(name)).href.replace(/\/+$/, "");
}

/**
 * Start one Miniflare instance (one workerd process) running `workers` (v4-style Worker options)
 * on 127.0.0.1, with every resource's state (KV, Cache, Durable Objects) persisted under
 * `persistDir` (same directory => same data), and wait until it is ready. Answers `{mf, urls,
 * dispose}`: `urls[name]` is the direct URL (`directUrl`) of each Worker named in `urlsOf`
 * (default: all of them; each needs a direct socket), and `dispose` stops workerd (idempotent).
 * If the start fails, the instance is disposed of before the error is thrown.
 * @param {object[]} workers
 * @param {{persistDir: string, log: import("miniflare").Log,
 *   handleStructuredLogs: (entry: {timestamp: number, level: string, message: string}) => void,
 *   urlsOf?: string[]}} opts
 *   `log` takes Miniflare's own messages, `handleStructuredLogs` the Workers' console output.
 * @returns {Promise<{mf: import("miniflare").Miniflare, urls: Record<string, string>, dispose: () => Promise<void>}>}
 */
export async function launchMiniflare(workers, { persistDir, log, handleStructuredLogs, urlsOf = workers.map((w) => w.name) }) {
  fs.mkdirSync(persistDir, { recursive: true });
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: 0,
      resourcePersistencePath: persistDir,
      cf: false, // never fetch https://workers.cloudflare.com/cf.json
      telemetry: { enabled: false },
      logRequests: false,
      log,
      handleStructuredLogs,
      unsafeRuntimeEnv: { CLOUDFLARE_CF_FETCH_ENABLED: "false" },
      workers,
    }),
  );
  let disposed = false;
  const dispose = async () => {
    if (disposed) return;
    disposed = true;
    await mf.dispose();
  };
  try {
    await mf.ready;
    const urls = {};
    for (const name of urlsOf) urls[name] = await directUrl(mf, name);
    return { mf, urls, dispose };
  } catch (e) {
    await dispose().catch(() => {});
    throw e;
  }
}

/**
 * A caller key as scripts/new-caller-key.mjs makes one.
 * @returns {{key: string, sha256: string}} the key (`ibk_` + base64url of 32 random
 *   bytes) and the lowercase hex SHA-256 of the full key string (for CALLER_KEYS).
 */
export function newCallerKey() {
  const key = "ibk_" + randomBytes(32).toString("base64url");
  return { key, sha256: createHash("sha256").update(key).digest("hex") };
}

/**
 * When a run's Worker log file (tests/artifacts/worker-logs.txt, truncated by `make integration`)
 * began: the time of its first line minus 60 s (NaN when it has none). Files that collect values
 * across runs (caller keys, identity tokens) keep only what is newer.
 */
export function logFileStartMs(file) {
  if (!fs.existsSync(file)) return NaN;
  const fd = fs.openSync(file, "r");
  try {
    const buf = Buffer.alloc(64);
    const n = fs.readSync(fd, buf, 0, 64, 0);
    const m = /^(\d{4}-\d\d-\d\dT[\d:.]+Z)/.exec(buf.subarray(0, n).toString("utf8"));
    return m ? Date.parse(m[1]) - 60_000 : NaN;
  } finally {
    fs.closeSync(fd);
  }
}
