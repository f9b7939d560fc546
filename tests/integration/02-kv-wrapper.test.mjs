// Self-test of the KV fault-injection / staleness wrapper (tests/support/kv-wrapper.mjs) and of
// the harness options that put it between a broker and KV (`kvWrapper`, `kvLocations`,
// `kvCacheTtlMs`, and `handle.kvFaults`).
//
// It does not need the Rust broker: a tiny JS stand-in, started through the same harness
// functions (`startWorker` / `startBrokerFleet` with `scriptPath`), makes exactly the KV calls
// the broker makes through its `TOKENS` binding — `get(key, "text")` awaited through
// `.then(resolve, reject)` as wasm-bindgen's JsFuture does, `put(key, value, {expirationTtl})`,
// `delete(key)`, `list({prefix, limit})` and reading `.keys[].name` — and answers what it got as
// JSON. Its responses are fetched with plain `fetch` (not `handle.fetch`), so they stay out of
// the broker responses the OpenAPI conformance test checks.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";

import { startBrokerFleet, startWorker, tempDir } from "./harness.mjs";

/** The broker stand-in. Routes under /v1/ so the asset router sends them to the Worker first. */
const STAND_IN = `
// Broker stand-in for the KV wrapper self-test: the broker's KV calls, results as JSON.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const q = url.searchParams;
    const key = q.get("key");
    try {
      switch (url.pathname) {
        case "/v1/kv/kind":
          // What the binding is: "Fetcher" (Service Binding) or "KvNamespace".
          return Response.json({ ok: true, kind: env.TOKENS.constructor.name });
        case "/v1/kv/get": {
          const pending = env.TOKENS.get(key, "text");
          // As wasm-bindgen's JsFuture: subscribe with .then(resolve, reject) on what get returned.
          const value = await new Promise((resolve, reject) => pending.then(resolve, reject));
          return Response.json({ ok: true, value, valueType: typeof value, thenable: typeof pending.then === "function" });
        }
        case "/v1/kv/put":
          await env.TOKENS.put(key, q.get("value"), { expirationTtl: 3600 });
          return Response.json({ ok: true });
        case "/v1/kv/delete":
          await env.TOKENS.delete(key);
          return Response.json({ ok: true });
        case "/v1/kv/list": {
          const listed = await env.TOKENS.list({ prefix: q.get("prefix"), limit: Number(q.get("limit")) });
          return Response.json({ ok: true, keysIsArray: Array.isArray(listed.keys), names: listed.keys.map((k) => k.name) });
        }
        case "/v1/kv/race-get":
        case "/v1/kv/race-put": {
          // The KV call against a 200 ms timer (as the broker bounds each KV call): who won?
          const started = Date.now();
          const call = url.pathname.endsWith("get") ? env.TOKENS.get(key, "text") : env.TOKENS.put(key, "raced", { expirationTtl: 3600 });
          const kv = Promise.resolve(call).then(() => "kv", () => "kv-error");
          const timer = new Promise((resolve) => setTimeout(() => resolve("timer"), 200));
          const winner = await Promise.race([kv, timer]);
          return Response.json({ ok: true, winner, ms: Date.now() - started });
        }
        default:
          return Response.json({ ok: false, error: "no such route" }, { status: 404 });
      }
    } catch (e) {
      return Response.json({ ok: false, error: String(e?.message ?? e), isError: e instanceof Error }, { status: 500 });
    }
  },
};
`;

/** Writes the stand-in to its own temp dir (the harness loads every .mjs of a script's dir). */
function standInScript() {
  const file = path.join(tempDir("ims-kv-stand-in-"), "stand-in.mjs");
  fs.writeFileSync(file, STAND_IN);
  return file;
}

/** A client for one stand-in at `base` (its direct URL). */
function standIn(base) {
  const call = async (op, params = {}) => {
    const res = await fetch(`${base}/v1/kv/${op}?${new URLSearchParams(params)}`);
    return res.json();
  };
  return {
    kind: () => call("kind"),
    get: (key) => call("get", { key }),
    put: (key, value) => call("put", { key, value }),
    delete: (key) => call("delete", { key }),
    list: (prefix, limit = 100) => call("list", { prefix, limit }),
    raceGet: (key) => call("race-get", { key }),
    racePut: (key) => call("race-put", { key }),
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test("without the option the TOKENS binding is plain KV and there is no kvFaults", async (t) => {
  const w = await startWorker({ scriptPath: standInScript(), noObjects: true, label: "kv-wrapper-off" });
  t.after(() => w.stop());
  assert.equal(w.kvFaults, undefined);
  const s = standIn(w.url);
  assert.deepEqual(await s.kind(), { ok: true, kind: "KvNamespace" });
  assert.deepEqual(await s.put("plain", "p1"), { ok: true });
  assert.equal(await w.kv.get("plain"), "p1");
});

describe("one broker behind the wrapper (kvWrapper: true)", () => {
  let w;
  let s;
  before(async () => {
    w = await startWorker({ scriptPath: standInScript(), noObjects: true, kvWrapper: true, label: "kv-wrapper" });
    s = standIn(w.url);
  });
  after(() => w?.stop());

  test("TOKENS is an RPC Service Binding; get/put/delete/list pass through to the real namespace", async () => {
    await w.kvFaults.resetCounts();
    assert.deepEqual(await s.kind(), { ok: true, kind: "Fetcher" });

    // A missing key is null (not undefined), and get's result is a thenable.
    assert.deepEqual(await s.get("tok:a"), { ok: true, value: null, valueType: "object", thenable: true });
    assert.deepEqual(await s.put("tok:a", "value-a"), { ok: true });
    assert.deepEqual(await s.get("tok:a"), { ok: true, value: "value-a", valueType: "string", thenable: true });

    // Same data as the test's own view of the namespace, both ways; the TTL was forwarded.
    assert.equal(await w.kv.get("tok:a"), "value-a");
    await w.kv.put("tok:b", "value-b");
    assert.equal((await s.get("tok:b")).value, "value-b");
    const listedHere = await w.kv.list({ prefix: "tok:a" });
    assert.ok(listedHere.keys[0].expiration > Date.now() / 1000 + 3000, "expirationTtl 3600 reached KV");

    // list with prefix and limit, names read from .keys[].name.
    await s.put("other", "x");
    assert.deepEqual(await s.list("tok:"), { ok: true, keysIsArray: true, names: ["tok:a", "tok:b"] });
    assert.deepEqual((await s.list("tok:", 1)).names, ["tok:a"]);

    assert.deepEqual(await s.delete("tok:a"), { ok: true });
    assert.equal((await s.get("tok:a")).value, null);
    assert.equal(await w.kv.get("tok:a"), null);

    // Calls through the binding only (the test's w.kv calls are not counted).
    const counts = await w.kvFaults.counts();
    assert.deepEqual(
      { reads: counts.reads, writes: counts.writes, deletes: counts.deletes, lists: counts.lists, cacheHits: counts.cacheHits },
      { reads: 4, writes: 2, deletes: 1, lists: 2, cacheHits: 0 },
    );
    assert.deepEqual(counts.byLocation, {}, "no location: no per-location counts, no cache");
  });

  test("reads fail: get throws an Error with a KV-like message; writes still work", async () => {
    await s.put("f:1", "v1");
    const state = await w.kvFaults.set({ reads: "fail" });
    assert.equal(state.faults.reads, "fail");
    try {
      const got = await s.get("f:1");
      assert.equal(got.ok, false);
      assert.equal(got.isError, true, "arrives as an Error (what the broker's KvError reads)");
      assert.match(got.error, /KV GET failed/);
      assert.equal((await s.list("f:")).ok, false, "list is a read");
      assert.deepEqual(await s.put("f:1", "v2"), { ok: true });
      await w.kvFaults.set({ message: "custom outage" });
      assert.equal((await s.get("f:1")).error, "custom outage");
    } finally {
      await w.kvFaults.clear();
    }
    assert.equal((await s.get("f:1")).value, "v2");
  });

  test("reads hang: a 200 ms timer wins the race; after clear() the read wins", async () => {
    await s.put("h:1", "v");
    await w.kvFaults.set({ reads: "hang" });
    try {
      const raced = await s.raceGet("h:1");
      assert.equal(raced.winner, "timer");
      assert.ok(raced.ms >= 190 && raced.ms < 2000, `race took ${raced.ms} ms`);
      // Writes are not affected by a read fault.
      assert.equal((await s.racePut("h:2")).winner, "kv");
    } finally {
      await w.kvFaults.clear();
    }
    assert.equal((await s.raceGet("h:1")).winner, "kv");
    // A short hang is just a slow read that then answers.
    await w.kvFaults.set({ get: "hang", hangMs: 50 });
    try {
      assert.equal((await s.get("h:1")).value, "v");
    } finally {
      await w.kvFaults.clear();
    }
  });

  test("writes fail and hang: put and delete are refused or stall, reads still work, data unchanged", async () => {
    await s.put("w:1", "before");
    await w.kvFaults.set({ writes: "fail" });
    try {
      const put = await s.put("w:1", "after");
      assert.equal(put.ok, false);
      assert.match(put.error, /KV PUT failed/);
      assert.match((await s.delete("w:1")).error, /KV DELETE failed/);
      assert.equal((await s.get("w:1")).value, "before");
      await w.kvFaults.set({ writes: "hang" });
      assert.equal((await s.racePut("w:1")).winner, "timer");
      // A per-operation override beats its group: deletes work while puts hang.
      await w.kvFaults.set({ delete: "ok" });
      assert.deepEqual(await s.delete("w:gone"), { ok: true });
    } finally {
      await w.kvFaults.clear();
    }
    assert.equal(await w.kv.get("w:1"), "before");
  });

  test("counts include faulted calls and reset to 0; bad control input is refused", async () => {
    await w.kvFaults.resetCounts();
    await w.kvFaults.set({ writes: "fail" });
    try {
      await s.put("c:1", "x");
      await s.get("c:1");
    } finally {
      await w.kvFaults.clear();
    }
    const c = await w.kvFaults.counts();
    assert.equal(c.writes, 1, "a refused write is still a write attempt");
    assert.equal(c.reads, 1);
    await w.kvFaults.resetCounts();
    assert.deepEqual(await w.kvFaults.counts(), { reads: 0, writes: 0, deletes: 0, lists: 0, cacheHits: 0, byLocation: {} });

    await assert.rejects(w.kvFaults.set({ reads: "sometimes" }), /400/);
    await assert.rejects(w.kvFaults.set({ typo: "fail" }), /400/);
    await assert.rejects(w.kvFaults.setCacheTtl(-1), /400/);
    assert.deepEqual((await w.kvFaults.state()).faults, { reads: "ok", writes: "ok" });
  });
});

test("two locations: a write is visible at once where made, stale elsewhere until the TTL", async (t) => {
  const TTL = 300;
  const fleet = await startBrokerFleet(2, {
    scriptPath: standInScript(),
    noObjects: true,
    kvLocations: ["a", "b"],
    kvCacheTtlMs: TTL,
    label: "kv-wrapper-locations",
  });
  t.after(() => fleet.stop());
  const [a, b] = fleet.urls.map(standIn);
  assert.equal((await fleet.kvFaults.state()).cacheTtlMs, TTL);

  /**
   * Reads `key` in B right after `filledAfter` (a time before B's entry was filled) and, when
   * less than the TTL has passed since then (so the entry must still be served), expects
   * `stale`. Guarded by the clock so that a slow machine cannot fail the test.
   */
  const expectStaleInB = async (key, stale, filledAfter) => {
    const got = (await b.get(key)).value;
    if (Date.now() - filledAfter < TTL) assert.equal(got, stale, `B still serves its cached ${JSON.stringify(stale)}`);
    else t.diagnostic(`stale check of ${key} skipped: ${Date.now() - filledAfter} ms passed`);
  };

  // Negative lookups are cached: B misses, then A writes.
  let bFilled = Date.now();
  assert.equal((await b.get("loc:k")).value, null);
  assert.deepEqual(await a.put("loc:k", "v1"), { ok: true });
  assert.equal((await a.get("loc:k")).value, "v1", "visible at once where written");
  assert.equal(await fleet.kv.get("loc:k"), "v1", "and in the real namespace");
  await expectStaleInB("loc:k", null, bFilled);
  await sleep(TTL + 50);
  bFilled = Date.now();
  assert.equal((await b.get("loc:k")).value, "v1", "visible in B once its entry is older than the TTL");

  // A cached value: B keeps serving v1 after A writes v2, until the TTL.
  assert.deepEqual(await a.put("loc:k", "v2"), { ok: true });
  assert.equal((await a.get("loc:k")).value, "v2");
  await expectStaleInB("loc:k", "v1", bFilled);
  await sleep(TTL + 50);
  bFilled = Date.now();
  assert.equal((await b.get("loc:k")).value, "v2");

  // A delete in A: absent in A at once, still v2 in B until the TTL.
  assert.deepEqual(await a.delete("loc:k"), { ok: true });
  assert.equal((await a.get("loc:k")).value, null);
  await expectStaleInB("loc:k", "v2", bFilled);
  await sleep(TTL + 50);
  assert.equal((await b.get("loc:k")).value, null);

  // A write in B is visible in B at once too (it replaces B's entry).
  assert.deepEqual(await b.put("loc:k", "from-b"), { ok: true });
  assert.equal((await b.get("loc:k")).value, "from-b");

  const counts = await fleet.kvFaults.counts();
  assert.ok(counts.byLocation.b.cacheHits >= 1, "B answered from its cache");
  assert.equal(counts.byLocation.a.writes, 2);
  assert.equal(counts.byLocation.b.writes, 1);
  assert.equal(counts.writes, 3);

  // TTL 0: no caching, every location sees every write at once.
  await fleet.kvFaults.setCacheTtl(0);
  assert.deepEqual(await a.put("loc:k", "v3"), { ok: true });
  assert.equal((await b.get("loc:k")).value, "v3");
  assert.deepEqual((await fleet.kvFaults.clearCache()).cached, {});
});
