// The secrets record (`state:<credential>`) is sealed as a whole with STORE_KEY (associated data:
// its KV key and a version), so write access to KV alone can neither forge nor replay it:
//   - a tampered, swapped (another credential's) or replayed (older version) record is refused
//     with a clear error naming STORE_KEY, and no call reaches Adobe's I/O Management API;
//   - a record written before sealing (plain JSON) is read once and written back sealed, nothing
//     lost;
//   - with STORE_KEY_PREVIOUS set, the scheduled sweep seals everything again under STORE_KEY and
//     says when nothing needs the previous key any more.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";

import { TEST_STORE_KEY } from "./harness.mjs";
import {
  expectError,
  expectToken,
  jsonLogs,
  listSecrets,
  openRecord,
  readRecord,
  rotate,
  rotationEnv,
  rotationStatus,
  storeKeyId,
  uniqueScopes,
  v1Token,
  writeRecord,
} from "./support.mjs";

let env;
let w;
before(async () => {
  env = await rotationEnv(null, { label: "sealed-record", credentials: { other: {} }, vars: { ROTATION_GRACE_S: "0" } });
  w = await env.broker({ label: "sealed-record-1" });
  for (const name of ["default", "other"]) {
    const r = await rotate(w, env.keys.admin, name);
    assert.equal(r.status, 200, r.text);
  }
});
after(() => env?.stop());

/** Asserts an admin call is refused naming STORE_KEY, with no I/O Management API call. */
async function refused(what, call) {
  const api0 = (await env.fake.stats()).api_calls;
  const r = await call();
  expectError(r, 500, "misconfigured", what);
  assert.match(r.json.error_description, /STORE_KEY/, `${what}: ${r.text}`);
  assert.deepEqual((await env.fake.stats()).api_calls, api0, `${what}: no I/O Management API call`);
  return r;
}

test("a tampered, swapped or replayed record is refused, with no call to Adobe", async () => {
  const { keys } = env;
  const original = await w.kv.get("state:default");
  const { version } = JSON.parse(original);

  // Tampered: one character of the ciphertext changed.
  const sealed = JSON.parse(original);
  const last = sealed.envelope.at(-1);
  sealed.envelope = sealed.envelope.slice(0, -1) + (last === "A" ? "B" : "A");
  await w.kv.put("state:default", JSON.stringify(sealed));
  await refused("tampered", () => listSecrets(w, keys.admin));
  assert.ok(jsonLogs(w).some((l) => l.msg === "secrets_record_rejected"), "logged");

  // Renumbered: the version is authenticated too.
  await w.kv.put("state:default", JSON.stringify({ ...JSON.parse(original), version: version + 5 }));
  await refused("renumbered", () => rotationStatus(w, keys.admin));

  // Swapped: the other credential's record under this key.
  await w.kv.put("state:default", await w.kv.get("state:other"));
  await refused("swapped", () => listSecrets(w, keys.admin));

  // A plain record put where a sealed one was: refused by an isolate that read the sealed one.
  await w.kv.put("state:default", JSON.stringify(openRecord(original, "default").state));
  await refused("unsealed", () => listSecrets(w, keys.admin));

  // Replayed: the isolate reads a newer version, then the old one is put back.
  await w.kv.put("state:default", original);
  assert.equal((await listSecrets(w, keys.admin)).status, 200, "the original is fine");
  await writeRecord(w, "default", openRecord(original, "default").state);
  assert.equal((await rotationStatus(w, keys.admin)).status, 200, "a newer version is read");
  await w.kv.put("state:default", original);
  const replay = await refused("replayed", () => listSecrets(w, keys.admin));
  assert.match(replay.json.error_description, /older/, replay.text);

  // Never a reset: nothing was written over what is stored.
  assert.equal(await w.kv.get("state:default"), original, "nothing was written over it");
});

test("a record written before sealing is upgraded: read, written back sealed, nothing lost", async () => {
  const { fake, keys } = env;
  // The record as the broker stored it before sealing: its plain JSON (the same JSON the sealed
  // envelope holds today), here the other credential's, with a rotated secret in it.
  const { state } = openRecord(await w.kv.get("state:other"), "other");
  assert.equal(state.active.source, "stored");
  await w.kv.put("state:other", JSON.stringify(state));
  // A new isolate (one that never saw a sealed record of it), as after a deploy.
  const fresh = await env.broker({ label: "sealed-record-upgrade" });
  const calls0 = (await fake.stats()).calls.length;
  expectToken(await v1Token(fresh, keys.user, { credential: "other", scopes: uniqueScopes("upgrade") }), "a mint through the old record");
  const call = (await fake.stats()).calls.slice(calls0).find((c) => c.client_id === env.creds.other.clientId);
  assert.deepEqual([call.outcome, call.secret_uuid], ["ok", state.active.uuid], "with the stored secret of the old record");
  assert.ok(jsonLogs(fresh).some((l) => l.msg === "secrets_record_upgraded" && l.credential === "other"), "secrets_record_upgraded logged");
  const text = await fresh.kv.get("state:other");
  assert.ok(!text.includes(state.active.uuid), "sealed now");
  assert.deepEqual(openRecord(text, "other").state, state, "nothing lost");
  const list = await listSecrets(fresh, keys.admin, "other");
  assert.equal(list.status, 200, list.text);
  assert.equal(list.json.active_uuid, state.active.uuid);
});

test("STORE_KEY_PREVIOUS: the scheduled sweep seals everything again under STORE_KEY and says when it is done", async () => {
  const { keys } = env;
  const newKey = randomBytes(32).toString("base64");
  const oldKid = storeKeyId(TEST_STORE_KEY);
  const kid = storeKeyId(newKey);
  const tokenKeys = (await w.kv.list({ prefix: "token:v1:" })).keys.map((k) => k.name);
  assert.ok(tokenKeys.length > 0);
  for (const k of tokenKeys) assert.ok((await w.kv.get(k)).startsWith(`v1.${oldKid}.`), `${k} under the old key before`);
  const other = await readRecord(w, "other");
  // A new isolate with the new key, the old one as STORE_KEY_PREVIOUS.
  const b = await env.broker({ label: "sealed-record-rekey", secrets: { STORE_KEY: newKey, STORE_KEY_PREVIOUS: TEST_STORE_KEY } });
  assert.equal((await b.scheduled()).outcome, "ok");
  const sweep = jsonLogs(b).filter((l) => l.msg === "store_key_sweep");
  assert.equal(sweep.length, 1, JSON.stringify(sweep));
  assert.equal(sweep[0].complete, true, JSON.stringify(sweep[0]));
  assert.equal(sweep[0].remaining, 0);
  // Everything was looked at (the pre-warm before it may have sealed some entries again already).
  assert.ok(sweep[0].checked >= tokenKeys.length + 2, JSON.stringify(sweep[0]));
  assert.ok(sweep[0].resealed >= 1, JSON.stringify(sweep[0]));
  // Every envelope now names the new key; the records open with it alone.
  for (const k of tokenKeys) assert.ok((await w.kv.get(k)).startsWith(`v1.${kid}.`), `${k} under the new key`);
  for (const name of ["default", "other"]) {
    const { state } = openRecord(await w.kv.get(`state:${name}`), name, newKey);
    assert.ok(state.active.sealed.startsWith(`v1.${kid}.`), `${name}'s secret under the new key`);
  }
  assert.equal(openRecord(await w.kv.get("state:other"), "other", newKey).state.active.uuid, other.active.uuid);
  // A second sweep finds nothing left to do.
  assert.equal((await b.scheduled()).outcome, "ok");
  const again = jsonLogs(b).filter((l) => l.msg === "store_key_sweep").at(-1);
  assert.deepEqual([again.resealed, again.remaining, again.complete], [0, 0, true]);
  // The sweep is an event operators see in /v1/metrics.
  const m = await fetch(`${b.url}/v1/metrics`, { headers: { authorization: `Bearer ${keys.admin}` } }).then((r) => r.json());
  assert.ok(m.events.some((e) => e.kind === "store_key"), "a store_key event");
  // And a broker without the previous key reads everything.
  const c = await env.broker({ label: "sealed-record-newkey-only", secrets: { STORE_KEY: newKey } });
  const list = await listSecrets(c, keys.admin);
  assert.equal(list.status, 200, list.text);
  expectToken(await v1Token(c, keys.user, { scopes: uniqueScopes("newkey-only") }));
});
