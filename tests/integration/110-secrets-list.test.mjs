// GET /v1/credentials/{name}/secrets lists what Adobe holds (uuid, created,
// last used) with the marker of the secret the broker uses, and never a secret value; the
// secrets endpoints are for admin callers only (non-admin → 403, no/unknown key → 401, before
// any call to Adobe). Also: GET /rotation before any rotation → 404 no_rotation; DELETE refuses
// (409) the active and the only secret, and any while the credential object's rotation run is at
// work, 404 for a uuid Adobe does not hold, 204 otherwise;
// a credential without ORG_ID / org_id → list: 500 misconfigured naming the setting; rotate:
// either that, or a rotation recorded with the error naming the setting (202), nothing done.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";

import { tempDir } from "./harness.mjs";
import {
  assertLogsClean,
  callerKey,
  deleteSecret,
  expectError,
  expectToken,
  fakeAddSecret,
  fakeClientSecrets,
  listSecrets,
  rotate,
  rotationEnv,
  rotationStatus,
  uniqueScopes,
  v1Token,
  waitFor,
} from "./support.mjs";

let env;
let w;
before(async () => {
  env = await rotationEnv(null, {
    label: "secrets-list",
    credentials: { second: {}, unmapped: { mapped: false } },
    // A long grace period: after the rotation below, the previous secret stays at Adobe.
    vars: { ROTATION_GRACE_S: "600" },
  });
  w = await env.broker();
});
after(() => env?.stop());

const ITEM_FIELDS = ["active", "created_at", "last_used_at", "role", "uuid"];
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

/** Asserts an RFC 3339 string denotes `ms` (to the second: the format may drop milliseconds). */
function sameInstant(s, ms, what) {
  assert.match(s, RFC3339, `${what} is RFC 3339: ${s}`);
  assert.equal(Math.floor(Date.parse(s) / 1000), Math.floor(ms / 1000), `${what}: ${s} vs ${new Date(ms).toISOString()}`);
}

/** Asserts a list answer: shape, every item equal to what the fake holds, no value anywhere. */
async function checkList(r, name, clientId) {
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers.get("content-type") ?? "", /^application\/json/);
  const body = r.json;
  assert.equal(body.credential, name);
  assert.ok(["worker_secret", "kv"].includes(body.active_source), r.text);
  const fake = await fakeClientSecrets(env.fake, clientId);
  assert.deepEqual(body.secrets.map((s) => s.uuid).sort(), fake.secrets.map((s) => s.uuid).sort(), "the list is what Adobe holds");
  for (const item of body.secrets) {
    assert.deepEqual(Object.keys(item).sort(), ITEM_FIELDS, `item fields: ${JSON.stringify(item)}`);
    const f = fake.secrets.find((s) => s.uuid === item.uuid);
    sameInstant(item.created_at, f.created_at_ms, "created_at");
    if (f.last_used_at_ms === null) assert.equal(item.last_used_at, null, `never used → last_used_at null: ${JSON.stringify(item)}`);
    else sameInstant(item.last_used_at, f.last_used_at_ms, "last_used_at");
    assert.equal(item.active, item.uuid === body.active_uuid, JSON.stringify(body));
    assert.ok(["active", "pending", "previous", null].includes(item.role), JSON.stringify(item));
    assert.equal(item.role === "active", item.active, JSON.stringify(item));
  }
  assert.ok(body.secrets.filter((s) => s.active).length <= 1, "at most one active secret");
  // Never a value: neither the credential's secrets nor any other the fake ever held.
  for (const v of (await env.fake.secrets()).secrets) assert.ok(!r.text.includes(v), "a secret value in the list answer");
  assert.ok(!/client_secret|"secret"|p8e-/.test(r.text), `no value-like field: ${r.text}`);
  return body;
}

test("1.1 list: the one bootstrap secret, with created / last used and the active marker; no value", async () => {
  const { keys, creds } = env;
  const d = creds.default;
  expectToken(await v1Token(w, keys.user, {}), "a token with the bootstrap secret");
  const [boot] = (await fakeClientSecrets(env.fake, d.clientId)).secrets;
  const body = await checkList(await listSecrets(w, keys.admin), "default", d.clientId);
  assert.equal(body.secrets.length, 1);
  assert.equal(body.active_uuid, boot.uuid, "the only secret is the one the broker uses");
  assert.equal(body.active_source, "worker_secret");
  assert.deepEqual({ active: body.secrets[0].active, role: body.secrets[0].role }, { active: true, role: "active" });
  assert.notEqual(body.secrets[0].last_used_at, null, "used by the token request");
});

test("1.2 admin only: non-admin → 403 forbidden, no/unknown key → 401, on every secrets endpoint, without calling Adobe", async () => {
  const { fake, keys, creds } = env;
  const stranger = callerKey().key;
  const uuid = (await fakeClientSecrets(fake, creds.default.clientId)).secrets[0].uuid;
  const before = (await fake.stats()).api_calls;
  const endpoints = [
    ["GET", "/v1/credentials/default/secrets"],
    ["POST", "/v1/credentials/default/secrets/rotate"],
    ["GET", "/v1/credentials/default/rotation"],
    ["DELETE", `/v1/credentials/default/secrets/${uuid}`],
    ["GET", "/v1/credentials/nope/secrets"],
  ];
  for (const [method, p] of endpoints) {
    const call = async (headers) => {
      const res = await w.fetch(p, { method, headers });
      const text = await res.text();
      let json;
      try {
        json = JSON.parse(text);
      } catch {}
      return { status: res.status, headers: res.headers, text, json };
    };
    expectError(await call({ authorization: `Bearer ${keys.user}` }), 403, "forbidden", `${method} ${p} non-admin`);
    expectError(await call({}), 401, "unauthorized", `${method} ${p} no key`);
    expectError(await call({ authorization: `Bearer ${stranger}` }), 401, "unauthorized", `${method} ${p} unknown key`);
  }
  assert.deepEqual((await fake.stats()).api_calls, before, "refusals make no I/O Management API call");
  assert.equal((await fakeClientSecrets(fake, creds.default.clientId)).secrets.length, 1, "nothing was rotated or deleted");
  expectError(await rotationStatus(w, keys.admin), 404, "no_rotation", "no rotation yet");
});

/**
 * A rotate call for a credential that cannot be managed: either refused at once (500
 * misconfigured) or recorded as a rotation whose error names the setting, nothing done (202).
 */
function checkMisconfiguredRotate(r, setting) {
  if (r.status === 500) {
    expectError(r, 500, "misconfigured", "rotate without org id");
    assert.match(r.json.error_description, setting, r.text);
  } else {
    assert.equal(r.status, 202, `rotate without org id: 500 misconfigured or 202 with the error recorded: ${r.text}`);
    assert.equal(r.json.step, "create", r.text);
    assert.deepEqual(r.json.events, [], r.text);
    assert.match(r.json.last_error?.message ?? "", setting, r.text);
  }
}

test("1.3 unknown credential → 404; without ORG_ID / org_id: list → 500 misconfigured naming it, rotate does nothing and names it", async () => {
  const { keys } = env;
  expectError(await listSecrets(w, keys.admin, "nope"), 404, "unknown_credential");
  expectError(await rotate(w, keys.admin, "nope"), 404, "unknown_credential");

  const r = await listSecrets(w, keys.admin, "unmapped");
  expectError(r, 500, "misconfigured", "extra credential without org_id");
  assert.match(r.json.error_description, /CREDENTIALS\.unmapped\.org_id/, r.text);
  const before = (await env.fake.stats()).api_calls;
  checkMisconfiguredRotate(await rotate(w, keys.admin, "unmapped"), /CREDENTIALS\.unmapped\.org_id/);

  const noOrg = await env.broker({ vars: { ORG_ID: null }, kvPersistDir: tempDir("ims-broker-kv-"), label: "secrets-list-no-org" });
  const res = await listSecrets(noOrg, keys.admin);
  expectError(res, 500, "misconfigured", "default credential without ORG_ID");
  assert.match(res.json.error_description, /\bORG_ID\b/, res.text);
  checkMisconfiguredRotate(await rotate(noOrg, keys.admin), /\bORG_ID\b/);
  assert.deepEqual((await env.fake.stats()).api_calls, before, "no I/O Management API call");
  // The token path does not need ORG_ID.
  expectToken(await v1Token(noOrg, keys.user, { scopes: uniqueScopes("noorg") }), "tokens without ORG_ID");
});

test("1.4 during a rotation's grace period: active (kv) and previous; a stray secret is listed unused; DELETE rules (none while a rotation run is at work)", async () => {
  const { fake, keys, creds } = env;
  const d = creds.default;
  const [boot] = (await fakeClientSecrets(fake, d.clientId)).secrets;

  const rot = await rotate(w, keys.admin);
  assert.equal(rot.status, 202, `waiting for the grace period: ${rot.text}`);
  assert.equal(rot.json.step, "retire", rot.text);
  const added = rot.json.events.find((e) => e.what === "added").uuid;

  let body = await checkList(await listSecrets(w, keys.admin), "default", d.clientId);
  assert.equal(body.active_uuid, added, "the new secret is active");
  assert.equal(body.active_source, "kv");
  const roles = Object.fromEntries(body.secrets.map((s) => [s.uuid, s.role]));
  assert.deepEqual(roles, { [added]: "active", [boot.uuid]: "previous" });

  // DELETE: the active one → 409; a uuid Adobe does not hold → 404; nothing deleted.
  expectError(await deleteSecret(w, keys.admin, "default", added), 409, "conflict", "delete the active secret");
  expectError(await deleteSecret(w, keys.admin, "default", randomBytes(16).toString("hex")), 404, "unknown_secret", "unknown uuid");
  assert.equal((await fakeClientSecrets(fake, d.clientId)).secrets.length, 2);

  // While the object's rotation run is at work (a rotate call resuming the rotation, whose
  // listing at Adobe the fake holds for a while), a delete waits for nothing and changes nothing:
  // 409, the secret stays. (The object deletes only between runs, so a rotation cannot promote
  // or test the secret in between.)
  const mark = (await fake.stats()).api_log.length;
  await fake.faults([{ target: "list", kind: "slow", ms: 2_000, count: 1 }]);
  const running = rotate(w, keys.admin);
  await waitFor(async () => (await fake.stats()).api_log.slice(mark).some((e) => e.op === "list" && e.fault === "slow"), { what: "the run's held list call" });
  const t0 = Date.now();
  const busy = await deleteSecret(w, keys.admin, "default", boot.uuid);
  expectError(busy, 409, "conflict", "delete while a rotation run is at work");
  assert.match(busy.json.error_description, /rotation of "default" is running/, busy.text);
  assert.ok(Date.now() - t0 < 1_500, `answered at once, not after the run (${Date.now() - t0} ms)`);
  assert.equal((await fakeClientSecrets(fake, d.clientId)).secrets.length, 2, "nothing deleted");
  const resumed = await running;
  assert.equal(resumed.status, 202, `the run still waits for the grace period: ${resumed.text}`);
  assert.equal(resumed.json.step, "retire", resumed.text);

  // The previous one may be deleted by hand (the rotation's retire then finds it gone).
  const del = await deleteSecret(w, keys.admin, "default", boot.uuid);
  assert.equal(del.status, 204, del.text);
  assert.equal(del.text, "");
  assert.deepEqual((await fakeClientSecrets(fake, d.clientId)).secrets.map((s) => s.uuid), [added]);
  expectToken(await v1Token(w, keys.user, { scopes: uniqueScopes("after_del") }), "still minting with the active secret");

  // A stray secret added behind the broker's back: listed, never used, not active, no role.
  const stray = await fakeAddSecret(fake, d.clientId);
  body = await checkList(await listSecrets(w, keys.admin), "default", d.clientId);
  const item = body.secrets.find((s) => s.uuid === stray.uuid);
  assert.deepEqual({ last_used_at: item.last_used_at, active: item.active, role: item.role }, { last_used_at: null, active: false, role: null });
  assert.equal(body.active_uuid, added);
  const del2 = await deleteSecret(w, keys.admin, "default", stray.uuid);
  assert.equal(del2.status, 204, del2.text);
  assert.deepEqual((await fakeClientSecrets(fake, d.clientId)).secrets.map((s) => s.uuid), [added]);
  // The only (and active) secret is refused.
  expectError(await deleteSecret(w, keys.admin, "default", added), 409, "conflict", "delete the only secret");
  assert.equal((await fakeClientSecrets(fake, d.clientId)).secrets.length, 1);
});

test("1.5 a credential never rotated: its only secret cannot be deleted; lists are per credential", async () => {
  const { fake, keys, creds } = env;
  const s = creds.second;
  const body = await checkList(await listSecrets(w, keys.admin, "second"), "second", s.clientId);
  assert.equal(body.secrets.length, 1);
  assert.equal(body.active_source, "worker_secret");
  const only = body.secrets[0].uuid;
  assert.equal(body.active_uuid, only);
  const dflt = (await listSecrets(w, keys.admin)).json;
  assert.ok(!body.secrets.some((x) => dflt.secrets.some((y) => y.uuid === x.uuid)), "not the default credential's");
  expectError(await deleteSecret(w, keys.admin, "second", only), 409, "conflict", "the only secret");
  assert.equal((await fakeClientSecrets(fake, s.clientId)).secrets.length, 1);
});

test("1.6 the Worker logs hold no secret value and no token", async () => {
  await assertLogsClean(env.fake, env.workers, "secrets-list");
});
