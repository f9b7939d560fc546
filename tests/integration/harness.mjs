// Integration-test harness for ims-broker.
//
// Starts the fake Adobe IMS (tests/fake-adobe, a Rust binary) and the BUILT Worker
// (build/index.js + build/index_bg.wasm from worker-build) inside the real workerd
// runtime through Miniflare, and gives tests small handles to drive them.
//
// Prerequisites (`make test` does all of this):
//   - `cargo build -p fake-adobe`   -> target/debug/fake-adobe
//   - `make build`                  -> build/index.js
//   - Node >= 22.12 (miniflare 5 / workerd), run with
//     `node --test --test-concurrency=1 tests/integration/`
//
// Everything the Worker logs (console.log/console.error from workerd's stdout/stderr)
// is kept per instance (`handle.logs()`) AND appended to tests/artifacts/worker-logs.txt
// (WORKER_LOG_FILE), so a final test can grep the whole run's logs, e.g. for leaked
// secrets. `make test` truncates that file before the run.
//
// Typical use:
//
//   import { test, after } from "node:test";
//   import assert from "node:assert/strict";
//   import { startFakeAdobe, startWorker, tempDir } from "./harness.mjs";
//
//   test("vends a token", async (t) => {
//     const fake = await startFakeAdobe({ clients: { "demo-client": "demo-secret" } });
//     t.after(() => fake.stop());
//     const key = newCallerKey();                       // from tests/support/workers.mjs
//     const w = await startWorker({
//       fake,                                           // sets IMS_TOKEN_URL to the fake
//       vars: { CLIENT_ID: "demo-client" },
//       secrets: { CLIENT_SECRET: "demo-secret", CALLER_KEYS: JSON.stringify({
//         t1: { sha256: key.sha256, credentials: "*", scopes: "*", admin: false } }) },
//     });
//     t.after(() => w.stop());
//     const res = await w.fetch("/v1/token", { method: "POST",
//       headers: { authorization: `Bearer ${key.key}` } });
//     assert.equal(res.status, 200);
//     assert.equal((await fake.stats()).token_requests, 1); // shape depends on the fake
//   });

import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

import { Log, LogLevel } from "miniflare";

import { tempDir } from "../support/cleanup.mjs";
import { startFakeAdobe as spawnFakeAdobe } from "../support/fake-adobe.mjs";
import { REPO_ROOT, directUrl, launchMiniflare, moduleList, readWranglerToml } from "../support/workers.mjs";

// The Miniflare and fake-Adobe plumbing is shared with the benchmarks (bench/lib.mjs) and lives
// in tests/support/; re-exported here so that tests keep importing everything from this file.
export { tempDir } from "../support/cleanup.mjs";
export { FAKE_ADOBE_BIN, fakeAdobeBuilt } from "../support/fake-adobe.mjs";
export { REPO_ROOT, newCallerKey, readWranglerToml } from "../support/workers.mjs";

/** The built Worker entry (`make build`). */
export const WORKER_SCRIPT = path.join(REPO_ROOT, "build", "index.js");
/** The caller example Worker (examples/caller-worker). */
export const CALLER_EXAMPLE_SCRIPT = path.join(REPO_ROOT, "examples", "caller-worker", "src", "index.js");
/** Directory for test artifacts (git-ignored). */
export const ARTIFACTS_DIR = path.join(REPO_ROOT, "tests", "artifacts");
/** Every Worker log line of the run is appended here. */
export const WORKER_LOG_FILE = path.join(ARTIFACTS_DIR, "worker-logs.txt");
/** Every fake-adobe stdout/stderr line of the run is appended here (for debugging). */
export const FAKE_LOG_FILE = path.join(ARTIFACTS_DIR, "fake-adobe-logs.txt");
/** KV namespace id used for the TOKENS binding (same id => same stored data). */
export const KV_NAMESPACE_ID = "ims-broker-TOKENS";
/** The test-only KV fault-injection / staleness wrapper Worker (options `kvWrapper`, `kvLocations`). */
export const KV_WRAPPER_SCRIPT = path.join(REPO_ROOT, "tests", "support", "kv-wrapper.mjs");
/** Name of the wrapper Worker inside a Miniflare instance. */
export const KV_WRAPPER_NAME = "kv-wrapper";
/** The wrapper's entrypoint class that broker `TOKENS` Service Bindings point at. */
export const KV_WRAPPER_ENTRYPOINT = "KvWrapper";

fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });

// ---------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------

/** True once `make build` has produced build/index.js. */
export function workerBuilt() {
  return fs.existsSync(WORKER_SCRIPT);
}

/**
 * Build a CALLER_KEYS JSON string.
 * @param {Record<string, {sha256: string, credentials?: string[]|"*", scopes?: string[]|"*", admin?: boolean}>} entries
 * @returns {string}
 */
export function callerKeysJson(entries) {
  const out = {};
  for (const [id, e] of Object.entries(entries)) {
    out[id] = {
      sha256: e.sha256,
      credentials: e.credentials ?? ["default"],
      scopes: e.scopes ?? "*",
      admin: e.admin ?? false,
    };
  }
  return JSON.stringify(out);
}

/**
 * Poll `predicate` until it returns a truthy value (returned) or `timeoutMs` passes
 * (throws).
 * @template T
 * @param {() => T | Promise<T>} predicate
 * @param {{timeoutMs?: number, intervalMs?: number, what?: string}} [opts]
 * @returns {Promise<T>}
 */
export async function waitFor(predicate, { timeoutMs = 5000, intervalMs = 25, what = "condition" } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await predicate();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * The Miniflare (v4-style) `assets` option for wrangler.toml's `[assets]`, as `wrangler dev`
 * passes it: the directory (www/), the router's settings (a user Worker behind the assets;
 * `run_worker_first`) and `html_handling`. Miniflare itself reads the directory's `_headers` and
 * `_redirects` (its assets plugin parses them, as on deploy Cloudflare does), so the console's
 * security headers and the "/" rewrite are the files' own, not a copy here.
 * @returns {object | undefined} undefined when wrangler.toml has no `[assets]`
 */
export function assetsOptions() {
  const { assets } = readWranglerToml();
  if (!assets.directory) return undefined;
  return {
    directory: path.resolve(REPO_ROOT, assets.directory),
    ...(assets.run_worker_first !== undefined ? { run_worker_first: assets.run_worker_first } : {}),
    routerConfig: { has_user_worker: true },
    assetConfig: {
      ...(assets.html_handling ? { html_handling: assets.html_handling } : {}),
      ...(assets.not_found_handling ? { not_found_handling: assets.not_found_handling } : {}),
    },
  };
}

// ---------------------------------------------------------------------------------
// Fake Adobe IMS
// ---------------------------------------------------------------------------------

/** @typedef {import("../support/fake-adobe.mjs").FakeAdobe} FakeAdobe */

/**
 * Start the fake Adobe IMS (tests/support/fake-adobe.mjs `startFakeAdobe`, same options and
 * handle) with every line of its output appended to FAKE_LOG_FILE.
 * @param {Parameters<typeof spawnFakeAdobe>[0]} [opts]
 * @returns {Promise<FakeAdobe>}
 */
export function startFakeAdobe(opts = {}) {
  return spawnFakeAdobe({ ...opts, logFile: FAKE_LOG_FILE });
}

// ---------------------------------------------------------------------------------
// The Worker under Miniflare (real workerd)
// ---------------------------------------------------------------------------------

/**
 * @typedef {object} LogEntry
 * @property {number} timestamp  ms since epoch (from workerd)
 * @property {string} level      "log" | "info" | "warn" | "error" | "debug" | ... (from workerd),
 *                               or "mf-warn"/"mf-error"/... for Miniflare's own messages
 * @property {string} message
 * @property {string} instance   label of the instance that produced it
 */

/**
 * @typedef {object} WorkerHandle
 * @property {string} url   Base URL of the broker, e.g. "http://127.0.0.1:40111" (no trailing slash).
 * @property {(path: string, init?: RequestInit) => Promise<Response>} fetch
 *   `fetch(url + path, init)` against the broker over real HTTP.
 * @property {() => string[]} logs           messages logged so far by this instance
 * @property {() => LogEntry[]} logEntries   same, with level/timestamp
 * @property {(re: RegExp|string, opts?: {timeoutMs?: number}) => Promise<string>} waitForLog
 *   resolves with the first log message matching `re` (logs arrive asynchronously)
 * @property {{list: (opts?: {prefix?: string, limit?: number, cursor?: string}) => Promise<{keys: {name: string, expiration?: number, metadata?: any}[], list_complete: boolean, cursor?: string}>,
 *             get: (key: string, type?: "text"|"json"|"arrayBuffer") => Promise<any>,
 *             getWithMetadata: (key: string, type?: "text"|"json") => Promise<{value: any, metadata: any}>,
 *             put: (key: string, value: string, opts?: {expirationTtl?: number, expiration?: number, metadata?: any}) => Promise<void>,
 *             delete: (key: string) => Promise<void>}} kv
 *   the TOKENS namespace, read/written from outside the Worker (same storage the Worker sees).
 *   Local KV enforces expirationTtl >= 60; expiry runs on real time — read `expiration`
 *   from `list()` instead of sleeping.
 * @property {(cron?: string) => Promise<{outcome: string, noRetry: boolean}>} scheduled
 *   dispatch a `scheduled` event (default cron "* * * * *") and wait for it to finish
 * @property {string} kvPersistDir   where KV (and other local state) is persisted
 * @property {KvFaults} [kvFaults]   only with the `kvWrapper` / `kvLocations` options: the KV
 *   wrapper's control API (faults, call counts, edge-cache TTL); see `KvFaults`
 * @property {import("miniflare").Miniflare} mf  the underlying Miniflare instance (escape hatch)
 * @property {string} [objectScript]  the Worker that defines the credential objects ("ims-broker",
 *   or "ims-broker-0" in a fleet); absent when the broker has none (`noObjects`,
 *   `unreachableObject`)
 * @property {(name: string) => Promise<any>} [credentialObject]  a stub of credential `name`'s
 *   object (`idFromName(name)`), e.g. `(await w.credentialObject("default")).fetch(
 *   "https://credential-object/default/record")`; see support.mjs `readRecord`
 * @property {() => Promise<void>} stop   dispose Miniflare / workerd (idempotent)
 */

/**
 * The control API of the KV wrapper (tests/support/kv-wrapper.mjs, which documents the exact
 * semantics). Modes are "ok" | "fail" | "hang"; `reads` covers get and list, `writes` put and
 * delete, and `get`/`list`/`put`/`delete` override their group. Every method answers the
 * wrapper's JSON.
 * @typedef {object} KvFaults
 * @property {string} url   base URL of the wrapper's control API (its direct socket)
 * @property {(opts: {reads?: string|null, writes?: string|null, get?: string|null, list?: string|null,
 *   put?: string|null, delete?: string|null, hangMs?: number|null, message?: string|null}) => Promise<any>} set
 *   merge fault settings (null = back to the default), e.g. `set({reads: "fail"})`,
 *   `set({writes: "hang", hangMs: 60000})`; answers the state
 * @property {() => Promise<any>} clear   every operation back to "ok" (counts and caches stay)
 * @property {() => Promise<{reads: number, writes: number, deletes: number, lists: number,
 *   cacheHits: number, byLocation: Record<string, {reads: number, writes: number, deletes: number,
 *   lists: number, cacheHits: number}>}>} counts
 *   calls made through the broker's TOKENS binding since the start (or `resetCounts`); reads =
 *   get calls (cache hits included), writes = put calls; counted also when faulted
 * @property {() => Promise<any>} resetCounts   all counts back to 0
 * @property {(ms: number) => Promise<any>} setCacheTtl   the edge caches' lifetime (0 = no caching)
 * @property {(location?: string) => Promise<any>} clearCache   forget cached entries (of one location)
 * @property {() => Promise<any>} state   {faults, hangMs, message, cacheTtlMs, counts, cached}
 */

/**
 * Start the BUILT Worker (build/index.js) under Miniflare with:
 *   - a KV namespace bound as TOKENS, persisted under `kvPersistDir` (two instances
 *     started with the same dir share KV data; see also `startWorkers`),
 *   - `vars` and `secrets` as plain string bindings (that is what `wrangler secret` and
 *     `[vars]` both become at runtime),
 *   - compatibility date from wrangler.toml,
 *   - the static assets of wrangler.toml's [assets] (www/: the console, /openapi.json), served
 *     before the Worker as on Cloudflare (see `assetsOptions`),
 *   - the `CREDENTIAL_OBJECTS` Durable Object namespace (class `CredentialObject`, SQLite-backed,
 *     persisted under `kvPersistDir` too): one object per credential, the authority for its
 *     secrets record, rotations and minting (see support.mjs `readRecord`),
 *   - every log line captured (see WORKER_LOG_FILE).
 *
 * Variables: the `[vars]` of wrangler.toml are the defaults, overridden by `vars`.
 * IMS_TOKEN_URL: `vars.IMS_TOKEN_URL` if given, else `fake.tokenUrl` if `fake` is
 * given, else "http://127.0.0.1:9/ims/token/v3" (a closed port), so a test can never
 * reach the real Adobe endpoint by accident.
 *
 * @param {object} [opts]
 * @param {Record<string, string>} [opts.vars]
 * @param {Record<string, string>} [opts.secrets]
 * @param {FakeAdobe} [opts.fake]        sets the default IMS_TOKEN_URL to the fake's
 * @param {string} [opts.kvPersistDir]   default: a fresh temp dir (no sharing)
 * @param {string} [opts.label]          name used in the log file, default "broker-<n>"
 * @param {string} [opts.scriptPath]     default: build/index.js
 * @param {string} [opts.compatibilityDate] default: wrangler.toml's
 * @param {string[]} [opts.compatibilityFlags]
 * @param {string[]} [opts.cronTriggers]
 * @param {boolean} [opts.kvWrapper]     bind the broker's TOKENS to the KV wrapper Worker
 *   (tests/support/kv-wrapper.mjs) instead of to KV directly, so the test can make KV calls fail
 *   or hang and count them through `handle.kvFaults`; the wrapper forwards to the same KV
 *   namespace, so `handle.kv` sees the same data. No edge cache (as consistent as local KV).
 * @param {string[]} [opts.kvLocations]  implies `kvWrapper`; also gives the broker's binding a
 *   location with its own edge cache (KV's eventual consistency: a value read in a location is
 *   served from there for `kvCacheTtlMs`, a write is visible at once only where it was made).
 *   Broker i (of startWorkers / startBrokerFleet) is in `kvLocations[i % kvLocations.length]`.
 * @param {number} [opts.kvCacheTtlMs]   the wrapper's edge-cache lifetime from the start
 *   (default 60000; also settable later with `kvFaults.setCacheTtl`)
 * @param {boolean} [opts.noObjects]     no CREDENTIAL_OBJECTS binding (for a stand-in script
 *   that does not export `CredentialObject`)
 * @returns {Promise<WorkerHandle>}
 *
 * e.g. `const w = await startWorker({ fake, kvWrapper: true, ... });
 *       await w.kvFaults.set({ reads: "fail" });
 *       ... ; assert.equal((await w.kvFaults.counts()).writes, 0);`
 */
export async function startWorker(opts = {}) {
  const [handle] = await startWorkers(1, opts);
  return handle;
}

/**
 * Start `count` independent broker instances (separate workerd processes) that all
 * persist KV to the same directory, i.e. share the TOKENS namespace, like several
 * edge locations sharing one KV namespace (minus KV's propagation delay: local KV is
 * immediately consistent). Same options as `startWorker`; `opts.kvPersistDir` defaults
 * to one fresh temp dir shared by all of them. Labels are "<label>-<i>".
 * With `kvWrapper` / `kvLocations` every instance has its own wrapper Worker (own faults,
 * counts and edge cache; instance i is in location `kvLocations[i % n]`), all forwarding to the
 * shared namespace.
 * The credential objects' storage is persisted in the same directory, but each process runs its
 * OWN object instances over it (memory, in-flight runs and alarms are not shared): brokers that
 * must reach one and the same credential object at the same time belong in ONE Miniflare
 * (`startBrokerFleet`); instances started one after the other see the objects' stored records.
 *
 * @param {number} count
 * @param {Parameters<typeof startWorker>[0]} [opts]
 * @returns {Promise<WorkerHandle[]>}
 */
export async function startWorkers(count, opts = {}) {
  const kvPersistDir = opts.kvPersistDir ?? tempDir("ims-broker-kv-");
  const base = opts.label ?? `broker-${++instanceCounter}`;
  const handles = [];
  try {
    for (let i = 0; i < count; i++) {
      const label = count === 1 ? base : `${base}-${i}`;
      const workers = withKvWrapper([brokerWorkerOptions(opts)], opts, i);
      handles.push(await launch({ label, kvPersistDir, workers, kvCacheTtlMs: opts.kvCacheTtlMs, objectScript: opts.noObjects ? undefined : "ims-broker" }));
    }
  } catch (e) {
    await Promise.all(handles.map((h) => h.stop()));
    throw e;
  }
  return handles;
}

/**
 * Start the caller example Worker (examples/caller-worker) on its own, reaching the
 * broker over plain HTTP (`BROKER_URL`, no Service Binding) — the fallback path.
 *
 * @param {object} opts
 * @param {string} opts.brokerUrl   e.g. `worker.url` of a running broker
 * @param {string} opts.brokerKey   the caller key sent as `Authorization: Bearer`
 * @param {Record<string,string>} [opts.vars]  extra bindings (e.g. BROKER_SCOPES)
 * @param {string} [opts.label]
 * @returns {Promise<WorkerHandle>}  (its `kv` is unused by the example)
 */
export async function startCallerExample({ brokerUrl, brokerKey, vars = {}, label } = {}) {
  if (!brokerUrl) throw new Error("startCallerExample: brokerUrl is required");
  return launch({
    label: label ?? `caller-${++instanceCounter}`,
    kvPersistDir: tempDir("ims-caller-"),
    record: false,
    workers: [callerWorkerOptions({ bindings: { BROKER_URL: brokerUrl, BROKER_KEY: brokerKey ?? "", ...vars } })],
  });
}

/**
 * Start `count` broker Workers in ONE Miniflare (each Worker is its own isolate, with its own
 * memory cache and single flight, like isolates in different locations) that share the TOKENS
 * KV namespace and ONE `CREDENTIAL_OBJECTS` Durable Object namespace (the one of the first
 * Worker, `ims-broker-0`): one credential object per credential for all of them, as on Cloudflare.
 * Same options as `startWorker`; with `kvWrapper` / `kvLocations` the brokers share ONE wrapper
 * Worker (one `kvFaults` for all; broker i's binding is in location `kvLocations[i % n]`, so e.g.
 * `kvLocations: ["a", "b"]` puts brokers 0 and 1 in different locations with separate edge caches).
 *
 * Extra options:
 *   - `noObjects: true`: no CREDENTIAL_OBJECTS binding at all (for stand-in scripts that do not
 *     export the class);
 *   - `unreachableObject: true`: CREDENTIAL_OBJECTS is bound to a `CredentialObject` class of a
 *     separate script whose every fetch throws, i.e. an object that cannot be reached;
 *   - `objectSwitch: true`: CREDENTIAL_OBJECTS is bound to a pass-through `CredentialObject` of a
 *     separate script that forwards each request to the real object (ims-broker-0's, named by
 *     the first path segment of the internal URL, `https://credential-object/<name>/…`) until
 *     `handle.setObjectReachable(false)`, after which every fetch throws (and again forwards after
 *     `setObjectReachable(true)`): isolates that learnt a credential's secrets, then lose its
 *     object.
 * @param {number} count
 * @param {Parameters<typeof startWorker>[0] & {noObjects?: boolean, unreachableObject?: boolean, objectSwitch?: boolean}} [opts]
 * @returns {Promise<WorkerHandle & {urls: string[], fetchAt: (i: number, path: string, init?: RequestInit) => Promise<Response>,
 *   brokerAt: (i: number) => WorkerHandle, setObjectReachable?: (reachable: boolean) => Promise<void>}>}
 */
export async function startBrokerFleet(count, opts = {}) {
  const label = opts.label ?? `fleet-${++instanceCounter}`;
  const workers = Array.from({ length: count }, (_, i) => {
    const w = brokerWorkerOptions({ ...opts, noObjects: true });
    w.name = `ims-broker-${i}`;
    if (!opts.noObjects) {
      w.durableObjects = { CREDENTIAL_OBJECTS: i === 0 ? CREDENTIAL_OBJECT_CLASS : { className: "CredentialObject", scriptName: "ims-broker-0" } };
    }
    w.kvNamespaces = { TOKENS: KV_NAMESPACE_ID };
    return w;
  });
  if (opts.unreachableObject) {
    // A credential object whose every request fails: the brokers serve cached tokens, mint with
    // the secrets they last learnt from the object, or answer 503 credential_unavailable.
    for (const w of workers) w.durableObjects = { CREDENTIAL_OBJECTS: { className: "CredentialObject", scriptName: "unreachable-object" } };
    workers.push({
      name: "unreachable-object",
      modules: true,
      script: "export class CredentialObject { async fetch() { throw new Error('credential object down'); } async alarm() {} }\nexport default { fetch() { return new Response('no'); } };",
      durableObjects: { CREDENTIAL_OBJECTS: "CredentialObject" },
    });
  } else if (opts.objectSwitch) {
    // The real objects stay in ims-broker-0 (its own binding keeps the class exported there); every
    // broker reaches them through the switch.
    for (const w of workers) w.durableObjects = { ...(w.name === "ims-broker-0" ? { REAL_CREDENTIAL_OBJECTS: CREDENTIAL_OBJECT_CLASS } : {}), CREDENTIAL_OBJECTS: { className: "CredentialObject", scriptName: "object-switch" } };
    workers.push({
      name: "object-switch",
      modules: true,
      script: OBJECT_SWITCH_SCRIPT,
      durableObjects: { CREDENTIAL_OBJECTS: "CredentialObject", REAL: { className: "CredentialObject", scriptName: "ims-broker-0" } },
      unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
    });
  }
  const handle = await launch({
    label,
    kvPersistDir: opts.kvPersistDir ?? tempDir("ims-broker-kv-"),
    workers: withKvWrapper(workers, opts),
    kvCacheTtlMs: opts.kvCacheTtlMs,
    objectScript: opts.noObjects || opts.unreachableObject ? undefined : "ims-broker-0",
    // Behind the switch, ims-broker-0's own CREDENTIAL_OBJECTS is the switch: read the real ones.
    objectBinding: opts.objectSwitch ? "REAL_CREDENTIAL_OBJECTS" : "CREDENTIAL_OBJECTS",
  });
  const urls = [];
  for (const w of workers.filter((w) => w.name.startsWith("ims-broker-"))) urls.push(await directUrl(handle.mf, w.name));
  const fetchAt = (i, p, init) => recordedFetch(urls[i], p, init);
  const out = {
    ...handle,
    urls,
    fetchAt,
    // One broker of the fleet as a handle of its own (url, fetch); logs, kv, mf, … are the fleet's.
    brokerAt: (i) => ({ ...handle, url: urls[i], fetch: (p, init) => fetchAt(i, p, init) }),
  };
  if (opts.objectSwitch) {
    const switchUrl = await directUrl(handle.mf, "object-switch");
    out.setObjectReachable = async (reachable) => {
      const res = await fetch(`${switchUrl}/${reachable ? "up" : "down"}`, { method: "POST" });
      if (!res.ok) throw new Error(`object switch -> ${res.status}: ${await res.text()}`);
    };
  }
  return out;
}

/**
 * The pass-through credential object of `startBrokerFleet({objectSwitch: true})`. One isolate runs
 * the script's default export and its objects, so the module-level flag is the switch.
 */
const OBJECT_SWITCH_SCRIPT = `
let down = false;
export class CredentialObject {
  constructor(ctx, env) { this.env = env; }
  async fetch(request) {
    if (down) throw new Error("credential object down");
    const name = decodeURIComponent(new URL(request.url).pathname.split("/")[1] ?? "");
    return this.env.REAL.get(this.env.REAL.idFromName(name)).fetch(request);
  }
  async alarm() {}
}
export default {
  async fetch(request) {
    const p = new URL(request.url).pathname;
    if (p === "/down") down = true;
    else if (p === "/up") down = false;
    return new Response(JSON.stringify({ down }), { headers: { "content-type": "application/json" } });
  },
};
`;

/**
 * Start the broker AND the caller example in ONE Miniflare instance, the caller
 * bound to the broker through a Service Binding named BROKER (the recommended
 * production setup).
 *
 * @param {Parameters<typeof startWorker>[0] & {brokerKey: string, callerVars?: Record<string,string>}} opts
 * @returns {Promise<WorkerHandle & {caller: {url: string, fetch: (path: string, init?: RequestInit) => Promise<Response>}}>}
 *   the broker handle (url, fetch, logs, kv, scheduled, stop — stop stops both), plus
 *   `caller.url` / `caller.fetch` for the caller example. Logs of both Workers are
 *   collected in the one `logs()`.
 */
export async function startWithCaller(opts = {}) {
  const label = opts.label ?? `broker+caller-${++instanceCounter}`;
  const broker = { ...brokerWorkerOptions(opts), name: "ims-broker" };
  const caller = callerWorkerOptions({
    bindings: { BROKER_KEY: opts.brokerKey ?? "", ...(opts.callerVars ?? {}) },
    serviceBindings: { BROKER: "ims-broker" },
  });
  const handle = await launch({
    label,
    kvPersistDir: opts.kvPersistDir ?? tempDir("ims-broker-kv-"),
    workers: withKvWrapper([broker, caller], opts),
    kvCacheTtlMs: opts.kvCacheTtlMs,
  });
  const callerUrl = await directUrl(handle.mf, "caller-worker");
  return {
    ...handle,
    caller: {
      url: callerUrl,
      fetch: (p, init) => fetch(callerUrl + p, init),
    },
  };
}

let instanceCounter = 0;

/** Every broker response the tests see, one JSON line each, for the OpenAPI conformance test. */
export const RESPONSES_FILE = path.join(ARTIFACTS_DIR, "responses.jsonl");

/**
 * `fetch` against a broker that also appends the exchange (method, path, status, content type,
 * `Allow`, body) to RESPONSES_FILE, so a final test can check every response against
 * /openapi.json.
 */
async function recordedFetch(base, p, init = {}) {
  const res = await fetch(base + p, init);
  try {
    const body = await res.clone().text();
    const u = new URL(base + p);
    fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
    fs.appendFileSync(RESPONSES_FILE, JSON.stringify({
      method: (init.method ?? "GET").toUpperCase(),
      path: u.pathname,
      query: u.search,
      status: res.status,
      contentType: res.headers.get("content-type"),
      allow: res.headers.get("allow"),
      body: body.length > 200_000 ? null : body,
    }) + "\n");
  } catch {
    // A body that cannot be read twice (or an aborted request) is simply not recorded.
  }
  return res;
}

/**
 * The STORE_KEY (base64 of 32 random bytes) every broker of this test process gets unless a
 * test passes its own: instances started by one test file can then read each other's sealed KV.
 */
export const TEST_STORE_KEY = randomBytes(32).toString("base64");

/** The Durable Object class of wrangler.toml's `CREDENTIAL_OBJECTS` binding (SQLite-backed). */
const CREDENTIAL_OBJECT_CLASS = { className: "CredentialObject", useSQLite: true };

/** Miniflare (v4-style) options for the broker Worker. */
function brokerWorkerOptions({ vars = {}, secrets = {}, fake, scriptPath = WORKER_SCRIPT, compatibilityDate, compatibilityFlags = [], cronTriggers = [], noObjects = false } = {}) {
  if (!fs.existsSync(scriptPath)) {
    throw new Error(`${scriptPath} not found: run \`make build\` first`);
  }
  const toml = readWranglerToml();
  const assets = assetsOptions();
  const bindings = {
    ...toml.vars,
    IMS_TOKEN_URL: fake ? fake.tokenUrl : "http://127.0.0.1:9/ims/token/v3",
    IO_API_BASE_URL: fake ? fake.url : "http://127.0.0.1:9",
    STORE_KEY: TEST_STORE_KEY,
    // Most tests read one log line per request, cache hits included; the default ("summary",
    // which counts plain hits instead) has its own test (190-log-summary).
    LOG_REQUESTS: "all",
    // Many tests mint dozens of new scope sets a minute with one caller; the per-caller budget
    // (default 10) has its own test (210-miss-budget), which passes its own value or null.
    MAX_NEW_SCOPE_SETS_PER_MIN: "1000",
    ...vars,
    ...secrets,
  };
  // A binding given as null is left out (e.g. `secrets: {STORE_KEY: null}` tests a missing key).
  for (const [k, v] of Object.entries(bindings)) if (v === null) delete bindings[k];
  for (const [k, v] of Object.entries(bindings)) {
    if (typeof v !== "string") throw new Error(`binding ${k} must be a string (got ${typeof v}); JSON.stringify it`);
  }
  return {
    name: "ims-broker",
    ...moduleList(scriptPath),
    compatibilityDate: compatibilityDate ?? toml.compatibilityDate,
    compatibilityFlags,
    cronTriggers,
    bindings,
    // The credential objects (wrangler.toml's CREDENTIAL_OBJECTS, SQLite-backed): each
    // credential's secrets record, rotations and minting. Pass `noObjects: true` to start a
    // script without the binding (a stand-in that does not export the class).
    ...(noObjects ? {} : { durableObjects: { CREDENTIAL_OBJECTS: CREDENTIAL_OBJECT_CLASS } }),
    kvNamespaces: { TOKENS: KV_NAMESPACE_ID },
    // wrangler.toml's [assets] (the console and /openapi.json): the direct socket and Service
    // Bindings to the broker then go through the asset router first, as on Cloudflare.
    ...(assets ? { assets } : {}),
    // Direct socket so the broker has its own URL even when it is not the entry Worker.
    unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
  };
}

/** Miniflare (v4-style) options for the caller example Worker. */
function callerWorkerOptions({ bindings, serviceBindings }) {
  if (!fs.existsSync(CALLER_EXAMPLE_SCRIPT)) throw new Error(`${CALLER_EXAMPLE_SCRIPT} not found`);
  return {
    name: "caller-worker",
    ...moduleList(CALLER_EXAMPLE_SCRIPT),
    compatibilityDate: readWranglerToml().compatibilityDate,
    bindings,
    ...(serviceBindings ? { serviceBindings } : {}),
    unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
  };
}

/**
 * Miniflare (v4-style) options for the KV wrapper Worker: the real TOKENS namespace (same
 * KV_NAMESPACE_ID, so same data as every direct binding and `handle.kv`) bound as INNER, and a
 * direct socket for its control API (the default export's fetch).
 */
function kvWrapperWorkerOptions() {
  return {
    name: KV_WRAPPER_NAME,
    // Only this one module (moduleList would pick up every other file of tests/support/).
    modules: [{ type: "ESModule", path: KV_WRAPPER_SCRIPT }],
    modulesRoot: path.dirname(KV_WRAPPER_SCRIPT),
    compatibilityDate: readWranglerToml().compatibilityDate,
    kvNamespaces: { INNER: KV_NAMESPACE_ID },
    unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
  };
}

/**
 * With `opts.kvWrapper` or `opts.kvLocations`: `workers` plus the KV wrapper Worker (appended, so
 * the first Worker stays the entry), each Worker that had a `TOKENS` KV binding getting a
 * `TOKENS` Service Binding to the wrapper's entrypoint instead (an RPC binding with the same
 * get/put/delete/list calls), the n-th of them (counting from `firstIndex`) in location
 * `kvLocations[n % kvLocations.length]` through the binding's props. Without either option,
 * `workers` unchanged.
 * @param {object[]} workers  v4-style Worker options (modified in place)
 * @param {{kvWrapper?: boolean, kvLocations?: string[]}} opts
 * @param {number} [firstIndex]  location index of the first broker (startWorkers' instance i)
 */
function withKvWrapper(workers, { kvWrapper = false, kvLocations } = {}, firstIndex = 0) {
  if (kvLocations !== undefined) {
    if (!Array.isArray(kvLocations) || kvLocations.length === 0 || !kvLocations.every((l) => typeof l === "string" && l !== "")) {
      throw new Error("kvLocations must be a non-empty array of non-empty strings");
    }
  }
  if (!kvWrapper && !kvLocations) return workers;
  let n = firstIndex;
  for (const w of workers) {
    if (!w.kvNamespaces || !("TOKENS" in w.kvNamespaces)) continue;
    const { TOKENS: _direct, ...otherNamespaces } = w.kvNamespaces;
    w.kvNamespaces = otherNamespaces;
    const props = kvLocations ? { location: kvLocations[n % kvLocations.length] } : {};
    w.serviceBindings = { ...(w.serviceBindings ?? {}), TOKENS: { name: KV_WRAPPER_NAME, entrypoint: KV_WRAPPER_ENTRYPOINT, props } };
    n += 1;
  }
  return [...workers, kvWrapperWorkerOptions()];
}

/** The KV wrapper's control API (see `KvFaults`) at `url`. */
function kvFaultsClient(url) {
  const call = async (method, p, body) => {
    const res = await fetch(url + p, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`kv-wrapper ${method} ${p} -> ${res.status}: ${text}`);
    return JSON.parse(text);
  };
  return {
    url,
    set: (opts) => call("POST", "/faults", opts),
    clear: () => call("DELETE", "/faults"),
    counts: () => call("GET", "/counts"),
    resetCounts: () => call("DELETE", "/counts"),
    setCacheTtl: (ms) => call("POST", "/config", { cacheTtlMs: ms }),
    clearCache: (location) => call("DELETE", location === undefined ? "/cache" : `/cache?location=${encodeURIComponent(location)}`),
    state: () => call("GET", "/state"),
  };
}

/** Miniflare's own messages go into the same log capture. */
class CapturingLog extends Log {
  constructor(sink) {
    super(LogLevel.WARN);
    this.sink = sink;
  }
  log(message) {
    this.sink("mf", message);
  }
}

/**
 * Start one Miniflare instance (one workerd process) running `workers`; the first
 * one's direct socket is `url`. When `workers` include the KV wrapper (`withKvWrapper`), the
 * handle's `kv` is the wrapper's INNER namespace (the real data, never faulted or cached) and
 * `kvFaults` its control API, with the edge-cache lifetime set to `kvCacheTtlMs` when given.
 */
async function launch({ label, kvPersistDir, workers, record = true, kvCacheTtlMs, objectScript, objectBinding }) {
  const entries = [];
  const sink = (level, message) => {
    const entry = { timestamp: Date.now(), level, message: String(message), instance: label };
    entries.push(entry);
    const text = entry.message.replace(/\n/g, "\n    ");
    fs.appendFileSync(WORKER_LOG_FILE, `${new Date(entry.timestamp).toISOString()} [${label}] ${level}: ${text}\n`);
  };

  let mf;
  let stop;
  let url;
  try {
    // All resource state (KV, Cache, Durable Objects) under kvPersistDir: same dir => same data.
    const started = await launchMiniflare(workers, {
      persistDir: kvPersistDir,
      log: new CapturingLog((lvl, m) => sink(`${lvl}`, m)),
      handleStructuredLogs: ({ timestamp, level, message }) => {
        const entry = { timestamp, level, message, instance: label };
        entries.push(entry);
        fs.appendFileSync(WORKER_LOG_FILE, `${new Date(timestamp).toISOString()} [${label}] ${level}: ${message.replace(/\n/g, "\n    ")}\n`);
      },
      urlsOf: [workers[0].name],
    });
    ({ mf, dispose: stop } = started);
    url = started.urls[workers[0].name];
  } catch (e) {
    throw new Error(`Miniflare failed to start ${label}: ${e?.stack ?? e}\nlogs:\n${entries.map((x) => x.message).join("\n")}`);
  }

  const workerName = workers[0].name;
  const hasKvWrapper = workers.some((w) => w.name === KV_WRAPPER_NAME);
  let kvNs;
  let kvFaults;
  if (hasKvWrapper) {
    // The broker has no KV binding of its own then: read the data through the wrapper's.
    kvNs = await mf.getKVNamespace("INNER", KV_WRAPPER_NAME);
    kvFaults = kvFaultsClient(await directUrl(mf, KV_WRAPPER_NAME));
    if (kvCacheTtlMs !== undefined) await kvFaults.setCacheTtl(kvCacheTtlMs);
  } else if (workers[0].kvNamespaces) {
    kvNs = await mf.getKVNamespace("TOKENS", workerName);
  }
  const kv = {
    list: (opts = {}) => kvNs.list(opts),
    get: (key, type = "text") => kvNs.get(key, type),
    getWithMetadata: (key, type = "text") => kvNs.getWithMetadata(key, type),
    put: (key, value, opts) => kvNs.put(key, value, opts),
    delete: (key) => kvNs.delete(key),
  };

  return {
    url,
    // Only the broker's responses are recorded for the OpenAPI check, not the caller example's.
    fetch: (p, init) => (record ? recordedFetch(url, p, init) : fetch(url + p, init)),
    logs: () => entries.map((e) => e.message),
    logEntries: () => entries.slice(),
    waitForLog: (re, { timeoutMs = 5000 } = {}) => {
      const rx = typeof re === "string" ? new RegExp(re.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")) : re;
      return waitFor(() => entries.map((e) => e.message).find((m) => rx.test(m)), { timeoutMs, what: `log matching ${rx}` });
    },
    kv,
    ...(kvFaults ? { kvFaults } : {}),
    scheduled: async (cron = "* * * * *") => {
      const w = await mf.getWorker(workerName);
      return w.scheduled({ cron, scheduledTime: new Date() });
    },
    kvPersistDir,
    mf,
    ...(objectScript ? credentialObjectsHandle(mf, objectScript, objectBinding) : {}),
    stop,
  };
}

/**
 * The handle's view of the credential objects defined by Worker `objectScript`: `objectScript`
 * and `credentialObject(name)` (a stub of the object named `name`, for internal requests such as
 * `https://credential-object/<name>/record`). (Miniflare's `unsafeEvictDurableObject` waits for
 * the object's requests to finish, so it cannot stop a run mid-step: 130-crash-resume restarts
 * workerd instead.)
 */
function credentialObjectsHandle(mf, objectScript, binding = "CREDENTIAL_OBJECTS") {
  return {
    objectScript,
    credentialObject: async (name) => {
      const ns = await mf.getDurableObjectNamespace(binding, objectScript);
      return ns.get(ns.idFromName(name));
    },
  };
}
