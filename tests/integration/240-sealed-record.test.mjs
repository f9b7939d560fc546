// The secrets record lives in the credential's object. Before the objects it was stored in KV
// (`state:<credential>`), sealed as a whole with STORE_KEY (associated data: its KV key and a
// version); each object imports that record on its first access. Write access to KV alone can
// neither forge nor replay a record into an object:
//   - a tampered, swapped (another credential's), renumbered or wrongly-keyed KV record is not
//     imported: the object answers 500 `misconfigured` naming STORE_KEY, no call reaches Adobe's
//     I/O Management API, and KV is left as it is (nothing deleted, nothing written over it);
//   - once the object holds a record, a record put into KV later (the original again, a
//     tampered one) is never read: the object keeps what it imported;
//   - a record written before sealing (plain JSON) is imported, nothing lost, and removed from KV;
//   - with STORE_KEY_PREVIOUS set, a record sealed under the previous key is imported with its
//     secrets sealed again under STORE_KEY, and the scheduled sweep seals the KV token entries
//     again under STORE_KEY and says when nothing needs the previous key any more.
// The records come from a real broker (rotated once each) and are written into a fresh KV as the
// previous version wrote them (`writeRecord` / `sealRecord`).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";

import { TEST_STORE_KEY, tempDir } from "./harness.mjs";
import {
  expectError,
  expectToken,
  fakeClientSecrets,
  fetchRecord,
  jsonLogs,
  listSecrets,
  openSealed,
  readRecord,
  rotate,
  rotationEnv,
  rotationStatus,
  sealRecord,
  storeKeyId,
  uniqueScopes,
  v1Token,
  waitFor,
} from "./support.mjs";

let env;
let src; // the broker whose rotations made the records
/** credential name → the record its object held after one rotation (CredentialState JSON). */
const states = {};
before(async () => {
  env = await rotationEnv(null, { label: "sealed-record", credentials: { other: {} }, vars: { ROTATION_GRACE_S: "0" } });
  src = await env.broker({ label: "sealed-record-src" });
  for (const name of ["default", "other"]) {
    const r = await rotate(src, env.keys.admin, name);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.step, "done", r.text);
    states[name] = await readRecord(src, name);
    assert.equal(states[name].active.source, "stored", JSON.stringify({ ...states[name].active, sealed: "…" }));
  }
});
after(() => env?.stop());

/** A broker on a fresh KV (and fresh objects) holding `kv` (key → value) before its first request. */
async function brokerWithKv(label, kv, o = {}) {
  const dir = tempDir("ims-broker-kv-");
  const w = await env.broker({ ...o, label, kvPersistDir: dir });
  for (const [k, v] of Object.entries(kv)) await w.kv.put(k, v);
  return w;
}

/** Asserts an admin call is refused naming STORE_KEY, with no I/O Management API call. */
async function refused(what, call) {
  const api0 = (await env.fake.stats()).api_calls;
  const r = await call();
  expectError(r, 500, "misconfigured", what);
  assert.match(r.json.error_description, /STORE_KEY/, `${what}: ${r.text}`);
  assert.deepEqual((await env.fake.stats()).api_calls, api0, `${what}: no I/O Management API call`);
  return r;
}

test("a tampered, swapped, renumbered or wrongly-keyed KV record is not imported: 500 naming STORE_KEY, no call to Adobe, KV left as it is", async () => {
  const { keys } = env;
  const original = sealRecord(states.default, "default", 3);
  const w = await brokerWithKv("sealed-record-import", {});
  const put = (text) => w.kv.put("state:default", text);
  const assertKept = async (text, what) => assert.equal(await w.kv.get("state:default"), text, `${what}: the KV record is neither deleted nor written over`);

  // Tampered: one character of the ciphertext changed.
  const sealed = JSON.parse(original);
  const last = sealed.envelope.at(-1);
  sealed.envelope = sealed.envelope.slice(0, -1) + (last === "A" ? "B" : "A");
  await put(JSON.stringify(sealed));
  await refused("tampered", () => listSecrets(w, keys.admin));
  await assertKept(JSON.stringify(sealed), "tampered");
  assert.ok(jsonLogs(w).some((l) => l.msg === "secrets_record_rejected"), "secrets_record_rejected logged");

  // Renumbered: the version is authenticated too.
  const renumbered = JSON.stringify({ ...JSON.parse(original), version: 8 });
  await put(renumbered);
  await refused("renumbered", () => rotationStatus(w, keys.admin));
  await assertKept(renumbered, "renumbered");

  // Swapped: the other credential's record under this key.
  const swapped = sealRecord(states.other, "other", 3);
  await put(swapped);
  await refused("swapped", () => listSecrets(w, keys.admin));
  await assertKept(swapped, "swapped");

  // Sealed with a key the broker does not have (neither STORE_KEY nor STORE_KEY_PREVIOUS).
  const foreign = sealRecord(states.default, "default", 3, randomBytes(32).toString("base64"));
  await put(foreign);
  await refused("another key", () => listSecrets(w, keys.admin));
  await assertKept(foreign, "another key");
  // The object's own request answers the same error, and no record.
  const direct = await fetchRecord(w, "default");
  assert.equal(direct.record, undefined, direct.text);
  assert.ok(direct.error, direct.text);
  assert.match(JSON.stringify(direct.error), /STORE_KEY/, direct.text);
  assert.ok(!jsonLogs(w).some((l) => l.msg === "secrets_record_imported" && l.credential === "default"), "nothing imported");

  // The original is imported, then deleted from KV.
  await put(original);
  const list = await listSecrets(w, keys.admin);
  assert.equal(list.status, 200, list.text);
  assert.equal(list.json.active_uuid, states.default.active.uuid);
  assert.equal(await w.kv.get("state:default"), null, "the imported record is deleted from KV");
  await waitFor(() => jsonLogs(w).some((l) => l.msg === "secrets_record_imported" && l.credential === "default"), { what: "secrets_record_imported" });
  const imported = await readRecord(w, "default");
  assert.deepEqual(imported, states.default, "nothing lost in the import");

  // From now on KV's record is never read: neither a tampered one nor the original again (a replay).
  for (const [what, text] of [["tampered", JSON.stringify(sealed)], ["replayed", original], ["swapped", swapped]]) {
    await put(text);
    const again = await listSecrets(w, keys.admin);
    assert.equal(again.status, 200, `${what} after the import: ${again.text}`);
    assert.equal(again.json.active_uuid, states.default.active.uuid, what);
    assert.deepEqual(await readRecord(w, "default"), imported, `${what} after the import: the object's record is unchanged`);
  }
  assert.equal(jsonLogs(w).filter((l) => l.msg === "secrets_record_imported" && l.credential === "default").length, 1, "imported once");
  await w.kv.delete("state:default");
});

test("a record written before sealing (plain JSON) is imported, nothing lost, and removed from KV", async () => {
  const { fake, keys } = env;
  // The record as the broker stored it before sealing: its plain JSON, here the other
  // credential's, with a rotated secret in it.
  const state = states.other;
  const fresh = await brokerWithKv("sealed-record-upgrade", { "state:other": JSON.stringify(state) });
  const calls0 = (await fake.stats()).calls.length;
  expectToken(await v1Token(fresh, keys.user, { credential: "other", scopes: uniqueScopes("upgrade") }), "a mint through the old record");
  const call = (await fake.stats()).calls.slice(calls0).find((c) => c.client_id === env.creds.other.clientId);
  assert.deepEqual([call.outcome, call.secret_uuid], ["ok", state.active.uuid], "with the stored secret of the old record");
  await waitFor(() => jsonLogs(fresh).some((l) => l.msg === "secrets_record_imported" && l.credential === "other"), { what: "secrets_record_imported" });
  assert.equal(await fresh.kv.get("state:other"), null, "removed from KV");
  assert.deepEqual(await readRecord(fresh, "other"), state, "nothing lost");
  const list = await listSecrets(fresh, keys.admin, "other");
  assert.equal(list.status, 200, list.text);
  assert.equal(list.json.active_uuid, state.active.uuid);
});

test("STORE_KEY_PREVIOUS: a record sealed under the previous key is imported and sealed again under STORE_KEY; the sweep reseals KV and says when it is done", async () => {
  const { fake, keys, creds } = env;
  const newKey = randomBytes(32).toString("base64");
  const oldKid = storeKeyId(TEST_STORE_KEY);
  const kid = storeKeyId(newKey);
  // KV as the previous version left it under the old key: the records and the token entries.
  const kv = {};
  for (const name of ["default", "other"]) kv[`state:${name}`] = sealRecord(states[name], name, 2);
  const tokenKeys = (await src.kv.list({ prefix: "token:v1:" })).keys.map((k) => k.name);
  assert.ok(tokenKeys.length > 0);
  for (const k of tokenKeys) {
    kv[k] = await src.kv.get(k);
    assert.ok(kv[k].startsWith(`v1.${oldKid}.`), `${k} under the old key before`);
  }
  // A broker with the new key, the old one as STORE_KEY_PREVIOUS.
  const b = await brokerWithKv("sealed-record-rekey", kv, { secrets: { STORE_KEY: newKey, STORE_KEY_PREVIOUS: TEST_STORE_KEY } });
  assert.equal((await b.scheduled()).outcome, "ok");
  const sweep = jsonLogs(b).filter((l) => l.msg === "store_key_sweep");
  assert.equal(sweep.length, 1, JSON.stringify(sweep));
  assert.equal(sweep[0].complete, true, JSON.stringify(sweep[0]));
  assert.equal(sweep[0].remaining, 0);
  // Every token entry was looked at (the pre-warm before it may have sealed some again already).
  assert.ok(sweep[0].checked >= tokenKeys.length, JSON.stringify(sweep[0]));
  assert.ok(sweep[0].resealed >= 1, JSON.stringify(sweep[0]));
  for (const k of tokenKeys) assert.ok((await b.kv.get(k)).startsWith(`v1.${kid}.`), `${k} under the new key`);
  // The records: imported (gone from KV), each secret sealed under the new key and opening with it alone.
  for (const name of ["default", "other"]) {
    const state = await readRecord(b, name);
    assert.equal(state.active.uuid, states[name].active.uuid, `${name}: the imported record`);
    assert.ok(state.active.sealed.startsWith(`v1.${kid}.`), `${name}'s secret under the new key`);
    const value = openSealed(`secret:${name}:${state.active.uuid}`, state.active.sealed, newKey);
    const held = (await fakeClientSecrets(fake, creds[name].clientId)).secrets.find((s) => s.uuid === state.active.uuid);
    assert.equal(value, held?.client_secret, `${name}: the secret Adobe holds`);
    assert.equal(await b.kv.get(`state:${name}`), null, `state:${name} removed from KV`);
  }
  // A second sweep finds nothing left to do.
  assert.equal((await b.scheduled()).outcome, "ok");
  const again = jsonLogs(b).filter((l) => l.msg === "store_key_sweep").at(-1);
  assert.deepEqual([again.resealed, again.remaining, again.complete], [0, 0, true]);
  // The sweep is an event operators see in /v1/metrics.
  const m = await fetch(`${b.url}/v1/metrics`, { headers: { authorization: `Bearer ${keys.admin}` } }).then((r) => r.json());
  assert.ok(m.events.some((e) => e.kind === "store_key"), "a store_key event");
  // And a broker without the previous key reads everything (same KV and objects, after b).
  await b.stop();
  const c = await env.broker({ label: "sealed-record-newkey-only", secrets: { STORE_KEY: newKey }, kvPersistDir: b.kvPersistDir });
  const list = await listSecrets(c, keys.admin);
  assert.equal(list.status, 200, list.text);
  expectToken(await v1Token(c, keys.user, { scopes: uniqueScopes("newkey-only") }));
});
