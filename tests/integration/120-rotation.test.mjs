// A full rotation. Afterwards Adobe holds only the new secret, the broker mints tokens with it
// (and no longer tries the old one), the Worker secret still holds the old bootstrap value, which
// Adobe now refuses. Cached tokens stay valid across the rotation. A second rotation starts from
// the stored secret. With a grace period, the rotation waits before retire (202), a repeated
// rotate call resumes the SAME rotation without a second add, and the credential's object
// retires the old secret on its alarm once the grace period has passed.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import {
  assertLogsClean,
  assertRotationView,
  eventCounts,
  expectError,
  expectToken,
  fakeClientSecrets,
  jsonLogs,
  listSecrets,
  rotate,
  rotationEnv,
  rotationStatus,
  sleep,
  tokenCalls,
  uniqueScopes,
  v1Token,
  waitFor,
} from "./support.mjs";

let env;
let w; // ROTATION_GRACE_S=0
let wGrace; // ROTATION_GRACE_S=2, same KV
before(async () => {
  env = await rotationEnv(null, { label: "rotation", credentials: { graced: {} } });
  w = await env.broker({ vars: { ROTATION_GRACE_S: "0" } });
  wGrace = await env.broker({ vars: { ROTATION_GRACE_S: "2" } });
});
after(() => env?.stop());

/** The fake's IMS calls for one client since index `from`. */
async function imsCalls(clientId, from = 0) {
  return (await env.fake.stats()).calls.slice(from).filter((c) => c.client_id === clientId);
}

/** Posts client_credentials straight to the fake's IMS (not through the broker). */
async function directMint(clientId, secret) {
  const res = await fetch(env.fake.tokenUrl, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: secret, scope: "openid" }).toString(),
  });
  return { status: res.status, json: await res.json() };
}

test("2.1 a full rotation: Adobe holds only the new secret, the broker mints with it, the bootstrap value is dead", async () => {
  const { fake, keys, creds } = env;
  const d = creds.default;
  const cached = expectToken(await v1Token(w, keys.user, {}), "default-scope token before the rotation");
  const [boot] = (await fakeClientSecrets(fake, d.clientId)).secrets;
  assert.equal((await imsCalls(d.clientId)).at(-1).secret_uuid, boot.uuid, "minted with the bootstrap secret");

  const r = await rotate(w, keys.admin);
  assert.equal(r.status, 200, r.text);
  assertRotationView(r.json, "rotate");
  assert.equal(r.json.busy, false);
  assert.equal(r.json.step, "done");
  assert.equal(r.json.last_error, null);
  const newUuid = r.json.events.find((e) => e.what === "added")?.uuid;
  assert.ok(newUuid && newUuid !== boot.uuid, r.text);
  assert.deepEqual(
    r.json.events.map((e) => [e.what, e.uuid]),
    [
      ["identified", boot.uuid],
      ["added", newUuid],
      ["tested", newUuid],
      ["promoted", newUuid],
      ["retired", boot.uuid],
    ],
  );

  // Adobe: only the new secret; never more than 2 at once; the bootstrap value refused.
  const after = await fakeClientSecrets(fake, d.clientId);
  assert.deepEqual(after.secrets.map((s) => s.uuid), [newUuid]);
  assert.ok(after.max_secrets_seen <= 2, `max_secrets_seen ${after.max_secrets_seen}`);
  assert.notEqual(after.secrets[0].client_secret, d.secret);
  const dead = await directMint(d.clientId, d.secret);
  assert.equal(dead.status, 400);
  assert.equal(dead.json.error, "invalid_client", "Adobe refuses the old bootstrap value");
  // The Worker secret still holds it: this broker was configured with it and is not restarted.
  assert.equal(env.secrets.CLIENT_SECRET, d.secret);

  // The status endpoint tells the same.
  const st = await rotationStatus(w, keys.admin);
  assert.equal(st.status, 200, st.text);
  assertRotationView(st.json, "status");
  assert.equal(st.json.id, r.json.id);
  assert.deepEqual(st.json.events, r.json.events);

  // The list: one secret, the new one, active, from KV.
  const list = await listSecrets(w, keys.admin);
  assert.equal(list.status, 200, list.text);
  assert.deepEqual({ active_uuid: list.json.active_uuid, active_source: list.json.active_source, n: list.json.secrets.length }, { active_uuid: newUuid, active_source: "kv", n: 1 });

  // Cached tokens are not tied to a secret: the default-scope token is still served, no IMS call.
  const n0 = await tokenCalls(fake);
  const again = expectToken(await v1Token(w, keys.user, {}), "cached token after the rotation");
  assert.equal(again.access_token, cached.access_token);
  assert.equal(await tokenCalls(fake), n0);

  // New tokens are minted with the new secret, on this broker and on a fresh one (new isolate,
  // state read from KV), without ever trying the dead bootstrap value first.
  const from = (await fake.stats()).calls.length;
  expectToken(await v1Token(w, keys.user, { scopes: uniqueScopes("after_rot") }), "a fresh mint after the rotation");
  const w2 = await env.broker({ vars: { ROTATION_GRACE_S: "0" } });
  expectToken(await v1Token(w2, keys.user, { scopes: uniqueScopes("after_rot_fresh") }), "a fresh mint on a fresh broker");
  const calls = await imsCalls(d.clientId, from);
  assert.equal(calls.length, 2, JSON.stringify(calls));
  for (const c of calls) assert.deepEqual({ outcome: c.outcome, secret_uuid: c.secret_uuid }, { outcome: "ok", secret_uuid: newUuid });
  for (const x of [w, w2]) assert.equal(jsonLogs(x).filter((l) => l.msg === "secret_fallback").length, 0, "no fallback");
});

test("2.2 a second rotation starts from the KV-stored secret and retires it", async () => {
  const { fake, keys, creds } = env;
  const d = creds.default;
  const first = (await rotationStatus(w, keys.admin)).json;
  const [cur] = (await fakeClientSecrets(fake, d.clientId)).secrets;
  const addsBefore = (await fake.stats()).api_calls.add;

  const r = await rotate(w, keys.admin);
  assert.equal(r.status, 200, r.text);
  assertRotationView(r.json);
  assert.notEqual(r.json.id, first.id, "a new rotation (the last one was done)");
  const newUuid = r.json.events.find((e) => e.what === "added")?.uuid;
  assert.deepEqual(
    r.json.events.map((e) => [e.what, e.uuid]),
    [
      ["added", newUuid],
      ["tested", newUuid],
      ["promoted", newUuid],
      ["retired", cur.uuid],
    ],
    "the active uuid is known: no identification",
  );
  const after = await fakeClientSecrets(fake, d.clientId);
  assert.deepEqual(after.secrets.map((s) => s.uuid), [newUuid]);
  assert.ok(after.max_secrets_seen <= 2);
  assert.equal((await fake.stats()).api_calls.add, addsBefore + 1);
  const from = (await fake.stats()).calls.length;
  expectToken(await v1Token(w, keys.user, { scopes: uniqueScopes("second_rot") }));
  assert.equal((await imsCalls(d.clientId, from)).at(-1).secret_uuid, newUuid);
});

test("2.3 grace period: 202 at retire, a repeated call resumes the same rotation (no second add), then the alarm retires", async () => {
  const { fake, keys, creds } = env;
  const g = creds.graced;
  const [boot] = (await fakeClientSecrets(fake, g.clientId)).secrets;
  const adds0 = (await fake.stats()).api_calls.add;
  const t0 = Date.now();

  const r1 = await rotate(wGrace, keys.admin, "graced");
  assert.equal(r1.status, 202, r1.text);
  assertRotationView(r1.json);
  assert.equal(r1.json.step, "retire");
  assert.equal(r1.json.in_progress, true);
  assert.equal(r1.json.last_error, null);
  const retireAfter = Date.parse(r1.json.retire_after);
  assert.ok(retireAfter >= Math.floor(t0 / 1000) * 1000 + 1000 && retireAfter <= Date.now() + 2000 + 1000, `retire_after ≈ promote + 2 s: ${r1.json.retire_after}`);
  assert.deepEqual(eventCounts(r1.json), { identified: 1, added: 1, tested: 1, promoted: 1 });
  const newUuid = r1.json.events.find((e) => e.what === "added").uuid;

  // Both secrets at Adobe during the grace period; the broker mints with the new one.
  let held = await fakeClientSecrets(fake, g.clientId);
  assert.deepEqual(held.secrets.map((s) => s.uuid).sort(), [boot.uuid, newUuid].sort());
  const from = (await fake.stats()).calls.length;
  expectToken(await v1Token(wGrace, keys.user, { credential: "graced", scopes: uniqueScopes("grace") }));
  assert.equal((await imsCalls(g.clientId, from)).at(-1).secret_uuid, newUuid);

  // Again, at once: the same rotation, still waiting, nothing added.
  const r2 = await rotate(wGrace, keys.admin, "graced");
  assert.equal(r2.status, 202, r2.text);
  assert.equal(r2.json.id, r1.json.id);
  assert.equal(r2.json.step, "retire");
  assert.deepEqual(r2.json.events, r1.json.events);
  assert.equal((await fake.stats()).api_calls.add, adds0 + 1);
  const st = await rotationStatus(wGrace, keys.admin, "graced");
  assert.equal(st.json.id, r1.json.id);
  assert.equal(st.json.in_progress, true);

  // After the grace period the credential's object retires the old secret on its own alarm: no
  // call is needed, and the rotation is the same one.
  await sleep(Math.max(0, retireAfter - Date.now()));
  const r3 = await waitFor(async () => {
    const s = await rotationStatus(wGrace, keys.admin, "graced");
    return s.status === 200 && s.json.step === "done" ? s : null;
  }, { timeoutMs: 10_000, intervalMs: 100, what: "the alarm to retire the old secret" });
  assert.equal(r3.json.id, r1.json.id);
  assert.equal(r3.json.in_progress, false);
  assert.deepEqual(eventCounts(r3.json), { identified: 1, added: 1, tested: 1, promoted: 1, retired: 1 });
  assert.equal(r3.json.events.find((e) => e.what === "retired").uuid, boot.uuid);
  held = await fakeClientSecrets(fake, g.clientId);
  assert.deepEqual(held.secrets.map((s) => s.uuid), [newUuid]);
  assert.ok(held.max_secrets_seen <= 2);
  assert.equal((await fake.stats()).api_calls.add, adds0 + 1, "one add in all");
  // Still admin only.
  expectError(await rotate(wGrace, keys.user, "graced"), 403, "forbidden");
});

test("2.4 (test 8, this file) the Worker logs hold no secret value and no token", async () => {
  await assertLogsClean(env.fake, env.workers, "rotation");
});
