// Fallback. The active secret deleted behind the broker's back (in the Developer Console, say) →
// IMS answers invalid_client for it; the broker falls back to the other known secret, keeps
// serving, says so in the log (`{"msg":"secret_fallback",...}`) and in the credential's record,
// so that later mints try the accepted secret first:
//   5.1 the previous secret, during a rotation's grace period;
//   5.2 the bootstrap Worker secret, after a finished rotation (its value re-added at Adobe);
//   5.3 the new secret in KV, for an isolate whose copy of the record predates a rotation that
//       another isolate ran with ROTATION_GRACE_S=0 (the old secret it knows is gone at once).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import {
  assertLogsClean,
  expectToken,
  fakeAddSecret,
  fakeClientSecrets,
  fakeDeleteSecret,
  jsonLogs,
  readRecord,
  rotate,
  rotationEnv,
  uniqueScopes,
  v1Token,
} from "./support.mjs";

let env;
let wGrace; // ROTATION_GRACE_S=600
let w0; // ROTATION_GRACE_S=0
before(async () => {
  env = await rotationEnv(null, { label: "fallback", credentials: { boot: {}, stale: {} } });
  wGrace = await env.broker({ vars: { ROTATION_GRACE_S: "600" }, label: "fallback-grace" });
  w0 = await env.broker({ vars: { ROTATION_GRACE_S: "0" }, label: "fallback-nograce" });
});
after(() => env?.stop());

/** Mints a fresh-scope token of `cred` on `w`; returns the fake's IMS calls it caused. */
async function mintFresh(w, cred, what) {
  const { fake, keys, creds } = env;
  const from = (await fake.stats()).calls.length;
  const r = await v1Token(w, keys.user, { credential: cred, scopes: uniqueScopes(cred) });
  const calls = (await fake.stats()).calls.slice(from).filter((c) => c.client_id === creds[cred].clientId);
  return { r, calls, body: expectToken(r, `${what} (IMS calls: ${JSON.stringify(calls.map((c) => c.outcome))})`) };
}

const fallbacks = (w, cred) => jsonLogs(w).filter((l) => l.msg === "secret_fallback" && l.credential === cred);

test("5.1 the active secret deleted during the grace period → falls back to the previous one, keeps serving, logs it", async () => {
  const { fake, keys, creds } = env;
  const d = creds.default;
  const [boot] = (await fakeClientSecrets(fake, d.clientId)).secrets;
  const r = await rotate(wGrace, keys.admin);
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.step, "retire", r.text);
  const active = r.json.events.find((e) => e.what === "promoted").uuid;
  assert.equal((await mintFresh(wGrace, "default", "with the new active secret")).calls.at(-1).secret_uuid, active);
  assert.equal(fallbacks(wGrace, "default").length, 0, "no fallback while the active secret works");
  const cached = expectToken(await v1Token(wGrace, keys.user, {}), "a default-scope token, cached");

  await fakeDeleteSecret(fake, d.clientId, active);
  for (let i = 0; i < 3; i++) {
    const { calls } = await mintFresh(wGrace, "default", `after the active secret was deleted (#${i + 1})`);
    assert.equal(calls.at(-1).outcome, "ok");
    assert.equal(calls.at(-1).secret_uuid, boot.uuid, "served with the previous secret");
    if (i === 0) {
      assert.ok(calls.some((c) => c.outcome === "error:invalid_client"), `the deleted active secret was tried first: ${JSON.stringify(calls)}`);
    } else {
      // The fallback is in the credential's record: the refused secret is tried last now.
      assert.deepEqual(calls.map((c) => c.outcome), ["ok"], `one IMS call, with the previous secret: ${JSON.stringify(calls)}`);
    }
  }
  const logs = fallbacks(wGrace, "default");
  assert.equal(logs.length, 1, "secret_fallback logged once");
  const record = await readRecord(wGrace, "default");
  assert.ok(record.active.refused_at_ms > 0, "the record says the active secret was refused");
  assert.ok(record.previous.verified_at_ms >= record.active.refused_at_ms, "and that the previous one was accepted");
  // Cached tokens keep being served too.
  const n = (await fake.stats()).token_calls;
  assert.equal(expectToken(await v1Token(wGrace, keys.user, {}), "the cached token").access_token, cached.access_token);
  assert.equal((await fake.stats()).token_calls, n);
});

test("5.2 after a finished rotation, the active secret deleted and the bootstrap value back at Adobe → the Worker secret serves", async () => {
  const { fake, keys, creds } = env;
  const b = creds.boot;
  const r = await rotate(w0, keys.admin, "boot");
  assert.equal(r.status, 200, r.text);
  const active = r.json.events.find((e) => e.what === "promoted").uuid;
  assert.deepEqual((await fakeClientSecrets(fake, b.clientId)).secrets.map((s) => s.uuid), [active]);

  // The operator re-adds the bootstrap value (still the Worker secret) and the active one is lost.
  const readded = await fakeAddSecret(fake, b.clientId, b.secret);
  await fakeDeleteSecret(fake, b.clientId, active);
  const { calls } = await mintFresh(w0, "boot", "after the active secret was deleted");
  assert.equal(calls.at(-1).outcome, "ok");
  assert.equal(calls.at(-1).secret_uuid, readded.uuid, "served with the bootstrap Worker secret");
  assert.ok(fallbacks(w0, "boot").length >= 1, "secret_fallback logged");
});

test("5.3 an isolate whose copy of the record predates a rotation with ROTATION_GRACE_S=0 keeps serving (reads the new secret)", async () => {
  const { fake, keys, creds } = env;
  const s = creds.stale;
  const [boot] = (await fakeClientSecrets(fake, s.clientId)).secrets;
  // wGrace's isolate reads the record now (bootstrap only) ...
  assert.equal((await mintFresh(wGrace, "stale", "before the rotation")).calls.at(-1).secret_uuid, boot.uuid);
  // ... then another instance rotates with no grace period: the bootstrap secret is deleted.
  const r = await rotate(w0, keys.admin, "stale");
  assert.equal(r.status, 200, r.text);
  const active = r.json.events.find((e) => e.what === "promoted").uuid;
  assert.deepEqual((await fakeClientSecrets(fake, s.clientId)).secrets.map((x) => x.uuid), [active]);
  // The first instance must still mint (the new secret is in KV, sealed with its STORE_KEY).
  const { calls } = await mintFresh(wGrace, "stale", "right after another instance's rotation");
  assert.equal(calls.at(-1).secret_uuid, active);
});

test("5.x (test 8, this file) the Worker logs hold no secret value and no token", async () => {
  await assertLogsClean(env.fake, env.workers, "fallback");
});
