// Degraded mode instead of an outage, with KV made to fail by the test-only KV wrapper:
//   - reads fail: a token in memory keeps being served (100 % of hits answer 200); a new scope
//     set, with memory empty for it and KV failing, is still minted by the credential's object
//     with the secret of its record (which is not in KV: no KV read is needed for it), and the
//     failed KV write is logged while the caller still gets the token it minted;
//   - reads hang: every KV call gives up after KV_TIMEOUT_MS; a token lookup that times out is a
//     miss, and the answer comes in bounded time;
//   - writes fail or hang: the caller gets the token, the failure is logged;
//   - nothing stored is lost: the object's secrets record is the same before and after.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { expectToken, jsonLogs, readRecord, rotate, rotationEnv, sleep, tokenCalls, uniqueScopes, v1Token } from "./support.mjs";

/** How long hits are asked for while KV fails. */
const OUTAGE_HITS_MS = 5_000;

let env;
let w;
before(async () => {
  env = await rotationEnv(null, { label: "kv-faults", vars: { KV_TIMEOUT_MS: "300", ROTATION_GRACE_S: "0" } });
  w = await env.broker({ label: "kv-faults-1", kvWrapper: true });
});
after(() => env?.stop());

test("KV reads and writes fail: hits keep answering, a new scope set is minted by the object with its record's secret", async () => {
  const { fake, keys } = env;
  // A rotated secret in the record (the bootstrap one is gone at Adobe): minting needs the record.
  const r = await rotate(w, keys.admin);
  assert.equal(r.status, 200, r.text);
  const record = await readRecord(w, "default");
  assert.equal(record.active.source, "stored");
  const cached = uniqueScopes("kv-cached");
  const token = expectToken(await v1Token(w, keys.user, { scopes: cached }), "before the outage").access_token;

  await w.kvFaults.set({ reads: "fail", writes: "fail" });
  // Every hit answers, from the isolate's memory.
  const until = Date.now() + OUTAGE_HITS_MS;
  let hits = 0;
  while (Date.now() < until) {
    const h = await v1Token(w, keys.user, { scopes: cached });
    assert.equal(h.status, 200, `hit ${hits} during the outage: ${h.status} ${h.json?.error}`);
    assert.equal(h.json.access_token, token);
    hits++;
    await sleep(100);
  }
  assert.ok(hits >= 30, `${hits} hits`);

  const calls0 = await tokenCalls(fake);
  const fresh = await v1Token(w, keys.user, { scopes: uniqueScopes("kv-down") });
  assert.equal(fresh.status, 200, `a new scope set during the outage: ${fresh.status} ${fresh.json?.error}`);
  assert.equal(await tokenCalls(fake), calls0 + 1, "minted");
  const last = (await fake.stats()).calls.at(-1);
  assert.deepEqual([last.outcome, last.secret_uuid], ["ok", record.active.uuid], "with the stored secret of the object's record");
  const logs = jsonLogs(w);
  for (const msg of ["kv_read_failed", "kv_write_failed"]) {
    assert.ok(logs.some((l) => l.msg === msg), `${msg} logged`);
  }
  // The object was reached: not the isolate's fallback for an unreachable object.
  assert.ok(!logs.some((l) => l.msg === "credential_object_unreachable"), "the object minted, not the isolate alone");
  const counts = await w.kvFaults.counts();
  assert.ok(counts.reads > 0 && counts.writes > 0, JSON.stringify(counts));

  await w.kvFaults.clear();
  assert.deepEqual(await readRecord(w, "default"), record, "the record is as it was");
});

test("KV reads hang: hits answer at once, a miss gives up after KV_TIMEOUT_MS and mints", async () => {
  const { fake, keys } = env;
  const cached = uniqueScopes("kv-hang-cached");
  const token = expectToken(await v1Token(w, keys.user, { scopes: cached })).access_token;
  await w.kvFaults.set({ reads: "hang", hangMs: 60_000 });
  for (let i = 0; i < 20; i++) {
    const t0 = Date.now();
    const h = await v1Token(w, keys.user, { scopes: cached });
    assert.equal(h.status, 200);
    assert.equal(h.json.access_token, token);
    assert.ok(Date.now() - t0 < 250, `a hit took ${Date.now() - t0} ms while KV hangs`);
  }
  const calls0 = await tokenCalls(fake);
  const t0 = Date.now();
  const fresh = await v1Token(w, keys.user, { scopes: uniqueScopes("kv-hang") });
  const took = Date.now() - t0;
  assert.equal(fresh.status, 200, `a miss while KV hangs: ${fresh.status} ${fresh.json?.error}`);
  assert.equal(await tokenCalls(fake), calls0 + 1);
  // At most two KV reads wait (the isolate's token lookup, the object's before it mints), each
  // for KV_TIMEOUT_MS.
  assert.ok(took < 3_000, `the miss took ${took} ms`);
  assert.ok(jsonLogs(w).some((l) => l.msg === "kv_read_failed" && /timed out/.test(l.error ?? "")), "the timeout is logged");
  await w.kvFaults.clear();
});

test("KV writes fail: the caller gets the token it minted", async () => {
  const { fake, keys } = env;
  await w.kvFaults.set({ writes: "fail" });
  const writes0 = jsonLogs(w).filter((l) => l.msg === "kv_write_failed").length;
  const calls0 = await tokenCalls(fake);
  const scopes = uniqueScopes("kv-write");
  const t = expectToken(await v1Token(w, keys.user, { scopes }), "minted while writes fail");
  assert.equal(await tokenCalls(fake), calls0 + 1);
  assert.ok(jsonLogs(w).filter((l) => l.msg === "kv_write_failed").length > writes0, "the failed write is logged");
  // Kept in memory: served again without IMS.
  assert.equal(expectToken(await v1Token(w, keys.user, { scopes })).access_token, t.access_token);
  assert.equal(await tokenCalls(fake), calls0 + 1);
  await w.kvFaults.clear();
});

test("KV writes hang: the write gives up after KV_TIMEOUT_MS, logged, and the caller gets its token", async () => {
  const { fake, keys } = env;
  await w.kvFaults.set({ writes: "hang", hangMs: 60_000 });
  const calls0 = await tokenCalls(fake);
  const t0 = Date.now();
  const t = expectToken(await v1Token(w, keys.user, { scopes: uniqueScopes("kv-write-hang") }), "minted while writes hang");
  const took = Date.now() - t0;
  assert.equal(await tokenCalls(fake), calls0 + 1);
  assert.ok(took < 3_000, `the mint took ${took} ms`);
  assert.ok(jsonLogs(w).some((l) => l.msg === "kv_write_failed" && /timed out/.test(l.error ?? "")), "the timed-out write is logged");
  assert.ok(t.access_token.length > 0);
  await w.kvFaults.clear();
});
