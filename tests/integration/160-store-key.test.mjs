// What KV and the credential objects hold, and STORE_KEY.
//   6.1 After a rotation and token requests, no KV key or value, and no file of the local state
//       (KV and the objects' storage), contains a client secret (any the fake ever held:
//       bootstrap, rotated, deleted) or an access token the fake issued (nor a JWT's payload or
//       signature). KV holds no secrets record and no lease (the record lives in the credential's
//       object); the object's record holds the active secret as a sealed envelope
//       (`v1.<kid>.<nonce>.<ct>`, AES-256-GCM, associated data `secret:<credential>:<uuid>`) that
//       opens, with Node's own crypto and the key, to the very value Adobe holds; token entries
//       are sealed too (AAD = the KV key).
//   6.2 A broker with a WRONG STORE_KEY on the same KV: a sealed token entry is a miss (logged
//       `kv_entry_unreadable`, a new token minted: the token handed out is one IMS issued, never
//       a garbled one); where the only secret Adobe accepts is sealed in KV, the secrets
//       endpoints, the rotation and the token path answer 500 `misconfigured` naming STORE_KEY to
//       an admin (a generic description to anyone else), and nothing is changed at Adobe or in
//       the object's record.
//   6.3 STORE_KEY changed to a new key with the old one in STORE_KEY_PREVIOUS (a list): tokens
//       are served from KV without IMS calls, the rotated secret is still used, and the object's
//       record has its secret sealed again under the new key when first read; a new rotation
//       seals with the new key.
// (Brokers started one after the other on one KV dir also share the objects' stored records.)
//   6.4 A missing or malformed STORE_KEY → 500 misconfigured naming STORE_KEY (to an admin).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";

import { TEST_STORE_KEY, tempDir } from "./harness.mjs";
import {
  assertLogsClean,
  expectError,
  expectToken,
  fakeClientSecrets,
  findLeaks,
  jsonLogs,
  kvDump,
  listSecrets,
  openSealed,
  readRecord,
  readStoredToken,
  storeKeyId,
  requestLogs,
  rotate,
  rotationEnv,
  uniqueScopes,
  v1Token,
} from "./support.mjs";

const WRONG_KEY = randomBytes(32).toString("base64");
const NEW_KEY = randomBytes(32).toString("base64");
const OTHER_OLD_KEY = randomBytes(32).toString("base64");
const ENVELOPE = /^v1\.([0-9a-f]{8})\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/;

let env;
let a; // STORE_KEY = TEST_STORE_KEY
let defaultToken; // the default credential's default-scope token, cached in KV by `a`
let activeUuid;
before(async () => {
  env = await rotationEnv(null, { label: "store-key", credentials: { keep: {} }, vars: { ROTATION_GRACE_S: "0" } });
  a = await env.broker({ label: "store-key-a" });
});
after(() => env?.stop());

test("6.1 KV after a rotation and token requests: no plaintext secret or token; the record and token entries are sealed", async () => {
  const { fake, keys, creds } = env;
  expectToken(await v1Token(a, keys.user, { credential: "keep" }), "keep's default-scope token");
  const r = await rotate(a, keys.admin);
  assert.equal(r.status, 200, r.text);
  activeUuid = r.json.events.find((e) => e.what === "promoted").uuid;
  defaultToken = expectToken(await v1Token(a, keys.user, {}), "default-scope token after the rotation").access_token;
  expectToken(await v1Token(a, keys.user, { scopes: uniqueScopes("kv") }), "a fresh-scope token");

  const dump = await kvDump(a);
  const names = Object.keys(dump);
  assert.deepEqual(names.filter((n) => /^(state|lease):/.test(n)), [], `no record or lease in KV: ${names.join(", ")}`);
  const tokenKeys = names.filter((n) => n.startsWith("token:v1:"));
  assert.ok(tokenKeys.length >= 3, `token entries (default, keep, fresh, management): ${names.join(", ")}`);

  const s = await fake.secrets();
  assert.ok(s.secrets.length >= 3, "bootstrap secrets and the rotated one");
  const values = [
    ...s.secrets.map((value) => ({ value, what: "client secret" })),
    ...s.all_issued_tokens.map((value) => ({ value, what: "access token" })),
  ];
  const texts = { "KV key names": names.join("\n") };
  for (const [k, v] of Object.entries(dump)) texts[`KV value of ${k}`] = v;
  assert.deepEqual(findLeaks(texts, values), [], "plaintext in KV");
  // At rest: every file of the local state (KV blobs, the objects' SQLite storage).
  const files = {};
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) files[`file ${path.relative(a.kvPersistDir, p)}`] = fs.readFileSync(p).toString("latin1");
    }
  };
  walk(a.kvPersistDir);
  assert.ok(Object.keys(files).length > 0, "the local state has files");
  assert.deepEqual(findLeaks(files, values), [], "plaintext in the local state (KV and the objects' storage)");

  // The record, from the object: JSON whose secret values are envelopes; the active one opens to
  // Adobe's value.
  const state = await readRecord(a, "default");
  assert.equal(state.active.uuid, activeUuid);
  assert.match(state.active.sealed, ENVELOPE);
  const [adobeActive] = (await fakeClientSecrets(fake, creds.default.clientId)).secrets;
  assert.equal(adobeActive.uuid, activeUuid);
  assert.equal(openSealed(`secret:default:${activeUuid}`, state.active.sealed), adobeActive.client_secret, "sealed under STORE_KEY with AAD secret:<credential>:<uuid>");
  assert.throws(() => openSealed(`secret:keep:${activeUuid}`, state.active.sealed), "another associated data does not open it");
  assert.throws(() => openSealed(`secret:default:${activeUuid}`, state.active.sealed, WRONG_KEY), "another key does not open it");

  // Token entries: envelopes opening (AAD = KV key) to a token the fake issued.
  for (const k of tokenKeys) {
    assert.match(dump[k], ENVELOPE, k);
    const stored = await readStoredToken(a, k);
    assert.ok(s.all_issued_tokens.includes(stored.access_token), `${k} holds a token IMS issued`);
  }
});

test("6.2 a wrong STORE_KEY: token entries are misses (never a garbled token); sealed secrets → 500 misconfigured naming STORE_KEY", async () => {
  const { fake, keys, creds } = env;
  const stateBefore = await readRecord(a, "default");
  const apiBefore = (await fake.stats()).api_calls;
  const b = await env.broker({ secrets: { STORE_KEY: WRONG_KEY }, label: "store-key-wrong" });

  // keep's bootstrap secret still works: its sealed token entry is a miss, a new token is minted.
  const keepEntry = (await a.kv.list({ prefix: `token:v1:keep:` })).keys.map((k) => k.name);
  assert.equal(keepEntry.length, 1, keepEntry.join(", "));
  const keepCached = (await readStoredToken(a, keepEntry[0])).access_token;
  const n0 = (await fake.stats()).token_calls;
  const got = expectToken(await v1Token(b, keys.user, { credential: "keep" }), "keep's token through the wrong key");
  assert.notEqual(got.access_token, keepCached, "not the entry sealed with the other key");
  assert.ok((await fake.secrets()).all_issued_tokens.includes(got.access_token), "a token IMS issued, not a garbled one");
  assert.equal((await fake.stats()).token_calls, n0 + 1, "minted anew");
  assert.ok(jsonLogs(b).some((l) => l.msg === "kv_entry_unreadable"), "kv_entry_unreadable logged");

  // The default credential: its only working secret is sealed in KV under the other key. An
  // admin reads which setting; a plain caller gets a generic description.
  const misconfigured = (r, what) => {
    expectError(r, 500, "misconfigured", what);
    if (r.res.url.includes("/v1/credentials")) {
      assert.match(r.json.error_description, /STORE_KEY/, `${what}: names STORE_KEY: ${r.text}`);
    } else {
      assert.doesNotMatch(r.json.error_description, /STORE_KEY/, `${what}: generic for a plain caller: ${r.text}`);
    }
  };
  misconfigured(await listSecrets(b, keys.admin), "GET secrets");
  misconfigured(await rotate(b, keys.admin), "rotate");
  // The cached default-scope token is unreadable under this key: a clear error, never a garbled token.
  const defaultViaB = await v1Token(b, keys.user, {});
  if (defaultViaB.status === 200) assert.ok((await fake.secrets()).all_issued_tokens.includes(defaultViaB.json.access_token), "never a garbled token");
  else misconfigured(defaultViaB, "the default-scope token, cached under the other key");
  misconfigured(await v1Token(b, keys.user, { scopes: uniqueScopes("wrongkey") }), "a token that needs the sealed secret");

  // Nothing changed: no add/delete at Adobe, the record as it was.
  const apiAfter = (await fake.stats()).api_calls;
  assert.deepEqual({ add: apiAfter.add, delete: apiAfter.delete }, { add: apiBefore.add, delete: apiBefore.delete });
  assert.deepEqual((await fakeClientSecrets(fake, creds.default.clientId)).secrets.map((s) => s.uuid), [activeUuid]);
  await b.stop();
  assert.deepEqual(await readRecord(a, "default"), stateBefore, "the record is untouched");
});

test("6.3 STORE_KEY changed with the old key in STORE_KEY_PREVIOUS: everything stays readable; new seals use the new key", async () => {
  const { fake, keys, creds } = env;
  const c = await env.broker({ secrets: { STORE_KEY: NEW_KEY, STORE_KEY_PREVIOUS: `${OTHER_OLD_KEY},${TEST_STORE_KEY}` }, label: "store-key-new" });

  // A token sealed with the old key is served from KV, without an IMS call.
  const n0 = (await fake.stats()).token_calls;
  const t = expectToken(await v1Token(c, keys.user, {}), "default-scope token through the new key");
  assert.equal(t.access_token, defaultToken);
  assert.equal((await fake.stats()).token_calls, n0, "no IMS call");
  assert.equal(requestLogs(c).at(-1).cache, "kv", JSON.stringify(requestLogs(c).at(-1)));

  // The rotated secret, sealed with the old key, is still the one used.
  const from = (await fake.stats()).calls.length;
  expectToken(await v1Token(c, keys.user, { scopes: uniqueScopes("newkey") }), "a fresh mint through the new key");
  const calls = (await fake.stats()).calls.slice(from).filter((x) => x.client_id === creds.default.clientId);
  assert.deepEqual(calls.map((x) => [x.outcome, x.secret_uuid]), [["ok", activeUuid]]);
  assert.equal(jsonLogs(c).filter((l) => ["secret_fallback", "secret_unreadable", "kv_entry_unreadable"].includes(l.msg)).length, 0, "no fallback, nothing unreadable");
  const list = await listSecrets(c, keys.admin);
  assert.equal(list.status, 200, list.text);
  assert.deepEqual({ active_uuid: list.json.active_uuid, active_source: list.json.active_source }, { active_uuid: activeUuid, active_source: "kv" });

  // Read once, the object's record has its secret sealed again under the new key: the previous
  // key is no longer needed for it.
  assert.ok(jsonLogs(c).some((l) => l.msg === "store_key_resealed" && l.credential === "default"), "store_key_resealed logged");
  const resealed = await readRecord(c, "default");
  assert.equal(ENVELOPE.exec(resealed.active.sealed)[1], storeKeyId(NEW_KEY), "the active secret sealed under the new key");
  assert.equal(resealed.active.uuid, activeUuid);
  assert.throws(() => openSealed(`secret:default:${activeUuid}`, resealed.active.sealed), "no longer opens with the old key");
  assert.equal(await c.kv.get("state:default"), null, "and KV holds no record");

  // A rotation under the new key: the new secret is sealed with it.
  const r = await rotate(c, keys.admin);
  assert.equal(r.status, 200, r.text);
  const newUuid = r.json.events.find((e) => e.what === "promoted").uuid;
  const state = await readRecord(c, "default");
  const kid = ENVELOPE.exec(state.active.sealed)[1];
  assert.equal(kid, storeKeyId(NEW_KEY), "sealed under the new key id");
  const [adobe] = (await fakeClientSecrets(fake, creds.default.clientId)).secrets;
  assert.equal(adobe.uuid, newUuid);
  assert.equal(openSealed(`secret:default:${newUuid}`, state.active.sealed, NEW_KEY), adobe.client_secret);
  const from2 = (await fake.stats()).calls.length;
  expectToken(await v1Token(c, keys.user, { scopes: uniqueScopes("newkey2") }));
  assert.equal((await fake.stats()).calls.slice(from2).at(-1).secret_uuid, newUuid);
});

test("6.4 a missing or malformed STORE_KEY → 500 misconfigured naming STORE_KEY", async () => {
  const { keys } = env;
  for (const [what, key] of [["missing", null], ["malformed", "not-a-32-byte-key"]]) {
    const m = await env.broker({ secrets: { STORE_KEY: key }, kvPersistDir: tempDir("ims-broker-kv-"), label: `store-key-${what}` });
    const user = await v1Token(m, keys.user, {});
    expectError(user, 500, "misconfigured", `${what} STORE_KEY, plain caller`);
    assert.doesNotMatch(user.json.error_description, /STORE_KEY/, `generic for a plain caller: ${user.text}`);
    const admin = await listSecrets(m, keys.admin);
    expectError(admin, 500, "misconfigured", `${what} STORE_KEY, admin`);
    assert.match(admin.json.error_description, /STORE_KEY/, admin.text);
    await m.stop();
  }
});

test("6.x the Worker logs hold no secret value and no token", async () => {
  await assertLogsClean(env.fake, env.workers, "store-key");
});
