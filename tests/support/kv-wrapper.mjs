// A test-only stand-in for a KV namespace binding that can fail, hang and serve stale values.
//
// The integration harness (tests/integration/harness.mjs, options `kvWrapper` / `kvLocations`)
// runs this module as an extra Worker, "kv-wrapper", in the same Miniflare instance as the
// broker. The real KV namespace is bound to THIS Worker as `INNER`, and the broker's `TOKENS`
// binding is a Service Binding to the `KvWrapper` entrypoint below instead of a KV binding. The
// broker calls `env.TOKENS.get(key, "text")`, `put(key, value, {expirationTtl})`, `delete(key)`
// and `list({prefix, limit})` exactly as on a KV namespace: on a Service Binding to a
// `WorkerEntrypoint` these are JS RPC calls, which return a thenable (workerd's RpcPromise)
// that resolves to the method's return value (strings, null and the list object arrive as
// structured clones, a thrown Error arrives as an Error with the same message). Nothing in the
// broker changes.
//
// What the wrapper adds on top of the real namespace:
//
//  1. Faults, per operation: "ok" (forward), "fail" (throw an Error, like a KV outage) or
//     "hang" (wait `hangMs`, default 60 s, on a timer and then forward, like a KV call that
//     never answers in time; a timer is pending I/O, so workerd does not cancel the call as a
//     hung request; if the calling request ends first, e.g. because the caller timed the call
//     out, workerd cancels the call and the delayed operation is never performed). `reads`
//     covers get/getWithMetadata/list and `writes` covers put/delete; `get`, `list`, `put` and
//     `delete` override their group for one operation. A fault applies
//     before the edge cache below (a failing read fails even when the value is cached).
//  2. Call counts per operation (reads = get and getWithMetadata calls, writes = put calls,
//     deletes, lists, and cacheHits = reads answered from an edge cache), in total and per
//     location. A call is counted when it is made, whatever its outcome (also when it fails
//     or hangs), so a test can assert "the broker made 0 KV writes".
//  3. Per-location edge caches, modelling KV's eventual consistency: a binding whose props
//     carry `{location: "<name>"}` gets that location's cache (a binding without a location
//     has no cache and is read-through, i.e. as consistent as local KV). In a location:
//       - get(key) answers from the location's cache while the entry is younger than
//         `cacheTtlMs` (default 60000, as KV's default cacheTtl; settable at runtime, also to
//         0 = no caching); otherwise it reads the real namespace and caches the result,
//         ABSENT VALUES INCLUDED (a negative lookup is cached too). The age counts from when
//         the entry was filled, not from the last read, so an entry is never kept alive by use.
//       - put(key, value) and delete(key) write the real namespace and then replace the
//         location's entry at once (the new value, or "absent" after a delete): a write is
//         visible at once where it was made and up to `cacheTtlMs` later elsewhere, which is
//         how Cloudflare KV behaves.
//       - list() is never cached (it reads the real namespace), and get with a type other
//         than "text"/"json" (arrayBuffer, stream) and getWithMetadata bypass the cache.
//     Changing `cacheTtlMs` applies to entries already cached (their age is compared with the
//     current TTL).
//
// All state (faults, counts, caches) lives in module scope, so it is shared by every binding
// to this Worker (all locations) and by the control API below: workerd runs one Worker in one
// isolate. State is lost when Miniflare restarts the Worker (setOptions, dispose).
//
// Control API: the default export's `fetch`, reached from Node through the Worker's direct
// socket (`mf.unsafeGetDirectURL("kv-wrapper")`); every answer is JSON:
//   GET    /state    {faults, hangMs, message, cacheTtlMs, counts, cached: {<location>: n}}
//   POST   /faults   merge {reads?, writes?, get?, list?, put?, delete?: "ok"|"fail"|"hang"|null,
//                    hangMs?: number, message?: string|null} into the fault settings (null
//                    removes a per-operation override or restores the default); answers /state
//   DELETE /faults   every operation back to "ok", hangMs and message to their defaults
//   GET    /counts   {reads, writes, deletes, lists, cacheHits, byLocation: {<location>: {...}}}
//   DELETE /counts   all counts back to 0
//   POST   /config   {cacheTtlMs: number >= 0}; answers /state
//   DELETE /cache    forget every location's cached entries (`?location=a`: only that one's)
// A malformed request answers 400 {error} and changes nothing.

import { WorkerEntrypoint } from "cloudflare:workers";

/** How long a "hang" fault waits before it forwards the call anyway. */
const DEFAULT_HANG_MS = 60_000;
/** KV's default edge-cache lifetime (its `cacheTtl`, 60 s). */
const DEFAULT_CACHE_TTL_MS = 60_000;
const MODES = new Set(["ok", "fail", "hang"]);
/** Fault groups and the operations each one covers. */
const GROUP_OF = { get: "reads", getWithMetadata: "reads", list: "reads", put: "writes", delete: "writes" };
const FAULT_KEYS = ["reads", "writes", "get", "list", "put", "delete"];

/** Fault settings: a mode for each group, optional per-operation overrides. */
let faults = defaultFaults();
let hangMs = DEFAULT_HANG_MS;
/** The message of a "fail" error; null = the default one built per operation. */
let failMessage = null;
let cacheTtlMs = DEFAULT_CACHE_TTL_MS;
let counts = emptyCounts();
/** location name -> Map(key -> {value: string | null, filledAt: ms since epoch}). */
const caches = new Map();

function defaultFaults() {
  return { reads: "ok", writes: "ok" };
}

function emptyCounter() {
  return { reads: 0, writes: 0, deletes: 0, lists: 0, cacheHits: 0 };
}

function emptyCounts() {
  return { ...emptyCounter(), byLocation: {} };
}

/** Adds one to counter `what`, in total and for `location` (when the binding has one). */
function count(what, location) {
  counts[what] += 1;
  if (location !== undefined) {
    counts.byLocation[location] ??= emptyCounter();
    counts.byLocation[location][what] += 1;
  }
}

/**
 * Applies the fault configured for `op` (KV method name): throws for "fail", waits `hangMs`
 * for "hang", returns at once for "ok".
 */
async function applyFault(op) {
  const mode = faults[op] ?? faults[GROUP_OF[op]] ?? "ok";
  if (mode === "fail") {
    // Shaped like the runtime's own KV errors ("KV GET failed: 503 Service Unavailable").
    throw new Error(failMessage ?? `KV ${op.toUpperCase()} failed: 503 Service Unavailable (simulated by kv-wrapper)`);
  }
  if (mode === "hang") {
    await new Promise((resolve) => setTimeout(resolve, hangMs));
  }
}

/** The edge cache of `location`, created on first use. */
function cacheOf(location) {
  let cache = caches.get(location);
  if (!cache) {
    cache = new Map();
    caches.set(location, cache);
  }
  return cache;
}

/** The type argument of KV's get: a string, or `{type, cacheTtl}`; default "text". */
function readType(typeOrOptions) {
  if (typeOrOptions === undefined || typeOrOptions === null) return "text";
  if (typeof typeOrOptions === "object") return typeOrOptions.type ?? "text";
  return typeOrOptions;
}

/** A cached text value converted to what get(key, type) returns for "text" or "json". */
function asType(text, type) {
  if (text === null || type === "text") return text;
  return JSON.parse(text);
}

/**
 * The KV namespace as seen from one location. Bind it with
 * `{name: "kv-wrapper", entrypoint: "KvWrapper", props: {location: "a"}}` (props optional).
 */
export class KvWrapper extends WorkerEntrypoint {
  /** This binding's location name, or undefined (no edge cache). */
  get #location() {
    const location = this.ctx.props?.location;
    return typeof location === "string" && location !== "" ? location : undefined;
  }

  /** KV get: `type` "text" (default), "json", "arrayBuffer", "stream", or `{type, cacheTtl}`. */
  async get(key, type) {
    const location = this.#location;
    count("reads", location);
    await applyFault("get");
    const kind = readType(type);
    const cacheable = location !== undefined && (kind === "text" || kind === "json");
    if (!cacheable) return this.env.INNER.get(key, type);
    const cache = cacheOf(location);
    const entry = cache.get(key);
    if (entry && Date.now() - entry.filledAt < cacheTtlMs) {
      count("cacheHits", location);
      return asType(entry.value, kind);
    }
    // Read as text, so the cached copy can serve both "text" and "json" reads.
    const text = await this.env.INNER.get(key, "text");
    cache.set(key, { value: text, filledAt: Date.now() });
    return asType(text, kind);
  }

  /** KV getWithMetadata, forwarded without caching (the broker does not use it). */
  async getWithMetadata(key, type) {
    count("reads", this.#location);
    await applyFault("getWithMetadata");
    return this.env.INNER.getWithMetadata(key, type);
  }

  /** KV put; in a location the value is visible there at once. */
  async put(key, value, options) {
    const location = this.#location;
    count("writes", location);
    await applyFault("put");
    await this.env.INNER.put(key, value, options);
    // Only text values can be cached (other types would need a copy of the bytes).
    if (location !== undefined) {
      if (typeof value === "string") cacheOf(location).set(key, { value, filledAt: Date.now() });
      else cacheOf(location).delete(key);
    }
  }

  /** KV delete; in a location the key reads as absent there at once. */
  async delete(key) {
    const location = this.#location;
    count("deletes", location);
    await applyFault("delete");
    await this.env.INNER.delete(key);
    if (location !== undefined) cacheOf(location).set(key, { value: null, filledAt: Date.now() });
  }

  /** KV list ({prefix, limit, cursor}), never cached: returns {keys, list_complete, cursor?}. */
  async list(options) {
    count("lists", this.#location);
    await applyFault("list");
    return this.env.INNER.list(options);
  }
}

/** The whole state, as GET /state answers it. */
function snapshot() {
  const cached = {};
  for (const [location, cache] of caches) cached[location] = cache.size;
  return { faults: { ...faults }, hangMs, message: failMessage, cacheTtlMs, counts, cached };
}

class BadRequest extends Error {}

function json(body, status = 200) {
  return Response.json(body, { status });
}

async function readJson(request) {
  let body;
  try {
    body = await request.json();
  } catch {
    throw new BadRequest("the body must be JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new BadRequest("the body must be a JSON object");
  return body;
}

function checkMs(name, value) {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) throw new BadRequest(`${name} must be a number >= 0`);
  return value;
}

/** POST /faults: validates everything first, so a bad request changes nothing. */
function mergeFaults(body) {
  const next = { ...faults };
  for (const [k, v] of Object.entries(body)) {
    if (k === "hangMs" || k === "message") continue;
    if (!FAULT_KEYS.includes(k)) throw new BadRequest(`unknown fault key ${JSON.stringify(k)} (known: ${FAULT_KEYS.join(", ")}, hangMs, message)`);
    if (v === null) {
      if (k === "reads" || k === "writes") next[k] = "ok";
      else delete next[k];
      continue;
    }
    if (!MODES.has(v)) throw new BadRequest(`${k} must be "ok", "fail", "hang" or null`);
    next[k] = v;
  }
  let nextHang = hangMs;
  if ("hangMs" in body) nextHang = body.hangMs === null ? DEFAULT_HANG_MS : checkMs("hangMs", body.hangMs);
  let nextMessage = failMessage;
  if ("message" in body) {
    if (body.message !== null && typeof body.message !== "string") throw new BadRequest("message must be a string or null");
    nextMessage = body.message;
  }
  faults = next;
  hangMs = nextHang;
  failMessage = nextMessage;
}

/** The control API (see the top of this file). */
export default {
  async fetch(request) {
    const url = new URL(request.url);
    const route = `${request.method} ${url.pathname}`;
    try {
      switch (route) {
        case "GET /state":
          return json(snapshot());
        case "POST /faults":
          mergeFaults(await readJson(request));
          return json(snapshot());
        case "DELETE /faults":
          faults = defaultFaults();
          hangMs = DEFAULT_HANG_MS;
          failMessage = null;
          return json(snapshot());
        case "GET /counts":
          return json(counts);
        case "DELETE /counts":
          counts = emptyCounts();
          return json(counts);
        case "POST /config": {
          const body = await readJson(request);
          for (const k of Object.keys(body)) if (k !== "cacheTtlMs") throw new BadRequest(`unknown config key ${JSON.stringify(k)} (known: cacheTtlMs)`);
          if ("cacheTtlMs" in body) cacheTtlMs = checkMs("cacheTtlMs", body.cacheTtlMs);
          return json(snapshot());
        }
        case "DELETE /cache": {
          const location = url.searchParams.get("location");
          if (location === null) caches.clear();
          else caches.delete(location);
          return json(snapshot());
        }
        default:
          return json({ error: `no route ${route}` }, 404);
      }
    } catch (e) {
      if (e instanceof BadRequest) return json({ error: e.message }, 400);
      throw e;
    }
  },
};
