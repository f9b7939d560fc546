// The scheduled handler (Cron Trigger), invoked through Miniflare's scheduled event
// (`w.scheduled()`, what workerd's scheduled-event test route dispatches), and the credential
// objects' alarms. The cron pre-warms tokens and wakes each credential's object; rotations are
// run by the objects (a rotate call, or the object's alarm), never by the cron itself.
//   7.1 pre-warm: the default-scope token of every credential is minted when missing, left alone
//       while fresh, refreshed once past 23/24 of its usable life (fake expires_in 6 s: refresh
//       from sent + 5.175 s, unusable from sent + 5.4 s); `{"msg":"prewarm",...}` lines; callers
//       then get the pre-warmed token without an IMS call.
//   7.2 a rotation waiting for its grace period is finished by the object's alarm, set to the end
//       of the grace period, once it has passed (and not before, a cron run in between included).
//   7.3 ROTATE_AFTER_DAYS unset, "0" (off), or set with a young secret: nothing starts a rotation.
//   7.4 ROTATE_AFTER_DAYS=1 and an active secret older than a day: its object rotates it once the
//       cron has woken it (its alarm at the due time, already past). The fake cannot backdate a
//       secret, so the age is set in the record (`active.created_at_ms`) of a secret the broker
//       created: the object's record, backdated, is written into a fresh KV as a record from
//       before the upgrade (`state:<credential>`, sealed with the store key as the previous
//       version did), which a new broker's object imports.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { tempDir } from "./harness.mjs";
import {
  assertLogsClean,
  assertRotationView,
  eventCounts,
  expectError,
  expectToken,
  fakeClientSecrets,
  jsonLogs,
  rotate,
  rotationEnv,
  readRecord,
  rotationStatus,
  sleep,
  v1Token,
  waitFor,
  writeRecord,
} from "./support.mjs";

let env;
let g; // ROTATION_GRACE_S=2, ROTATE_AFTER_DAYS unset, shared KV
before(async () => {
  env = await rotationEnv(null, { scopePool: false, label: "scheduled", credentials: { graced: {}, aged: {} } });
  g = await env.broker({ vars: { ROTATION_GRACE_S: "2" }, label: "scheduled-g" });
});
after(() => env?.stop());

/** The fake's IMS calls since `from` for one client and one scope string. */
async function mintsSince(from, clientId, scope = "AdobeID,openid") {
  return (await env.fake.stats()).calls.slice(from).filter((c) => c.client_id === clientId && c.scope.split(",").sort().join(",") === scope);
}
const prewarmLines = (w, from) => jsonLogs(w).slice(from).filter((l) => l.msg === "prewarm");
async function until(at) {
  const d = at - Date.now();
  if (d > 0) await sleep(d);
}

test("7.1 pre-warm: mints missing default-scope tokens, leaves fresh ones, refreshes past 23/24 of their life", async () => {
  const { fake, keys, creds } = env;
  await fake.config({ expires_in: 6 });
  try {
    let from = (await fake.stats()).calls.length;
    let logFrom = jsonLogs(g).length;
    const t0 = Date.now();
    assert.equal((await g.scheduled()).outcome, "ok");
    const t1 = Date.now();
    for (const name of ["default", "graced", "aged"]) {
      const minted = await mintsSince(from, creds[name].clientId);
      assert.equal(minted.length, 1, `${name}: its default-scope token minted by the cron: ${JSON.stringify(minted)}`);
      assert.equal(minted[0].outcome, "ok");
    }
    const lines = prewarmLines(g, logFrom);
    assert.deepEqual(lines.map((l) => l.credential).sort(), ["aged", "default", "graced"], JSON.stringify(lines));
    assert.ok(lines.every((l) => l.outcome !== "failed"), JSON.stringify(lines));
    assert.ok((await g.kv.list({ prefix: "token:v1:default:" })).keys.length >= 1, "stored in KV");

    // A caller gets the pre-warmed token without an IMS call.
    let n = (await fake.stats()).token_calls;
    const warm = expectToken(await v1Token(g, keys.user, {}), "pre-warmed token").access_token;
    assert.ok((await fake.secrets()).all_issued_tokens.includes(warm));
    assert.equal((await fake.stats()).token_calls, n, "no IMS call for the caller");

    // Fresh: the cron leaves it alone (at once, and at 4 s of its 6 s life).
    for (const at of [t1 + 100, t0 + 4000]) {
      await until(at);
      n = (await fake.stats()).token_calls;
      logFrom = jsonLogs(g).length;
      await g.scheduled();
      assert.equal((await fake.stats()).token_calls, n, `no IMS call while fresh (at +${at - t0} ms)`);
      assert.ok(prewarmLines(g, logFrom).every((l) => l.outcome !== "refreshed"), JSON.stringify(prewarmLines(g, logFrom)));
    }

    // Past 23/24 of the usable life (sent + 5.175 s), before its end (sent + 5.4 s): refreshed.
    await until(t1 + 5200);
    from = (await fake.stats()).calls.length;
    logFrom = jsonLogs(g).length;
    const s0 = Date.now();
    await g.scheduled();
    const s1 = Date.now();
    const refreshed = await mintsSince(from, creds.default.clientId);
    assert.equal(refreshed.length, 1, `default's token refreshed by the cron: ${JSON.stringify(refreshed)}`);
    const line = prewarmLines(g, logFrom).find((l) => l.credential === "default");
    assert.ok(line, "a prewarm line for default");
    if (s0 >= t1 + 5175 && s1 < t0 + 5400) assert.equal(line.outcome, "refreshed", JSON.stringify(line));
    else assert.ok(["refreshed", "miss"].includes(line.outcome), `(timing outside the stale window) ${JSON.stringify(line)}`);

    n = (await fake.stats()).token_calls;
    const next = expectToken(await v1Token(g, keys.user, {}), "the refreshed token").access_token;
    assert.notEqual(next, warm, "callers get the refreshed token");
    assert.equal((await fake.stats()).token_calls, n, "still no IMS call for the caller");
  } finally {
    await fake.config({ expires_in: 86399 });
  }
});

test("7.2 the object's alarm finishes a rotation whose grace period has passed (and not before)", async () => {
  const { fake, keys, creds } = env;
  const c = creds.graced;
  const [boot] = (await fakeClientSecrets(fake, c.clientId)).secrets;
  const r = await rotate(g, keys.admin, "graced");
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.step, "retire");
  const newUuid = r.json.events.find((e) => e.what === "promoted").uuid;

  // Before the grace period is over: nothing retired, a cron run (which wakes the object) included.
  const retireAfter = Date.parse(r.json.retire_after);
  assert.ok(retireAfter > Date.now(), r.text);
  await g.scheduled();
  if (Date.now() < retireAfter - 100) {
    assert.deepEqual((await fakeClientSecrets(fake, c.clientId)).secrets.map((s) => s.uuid).sort(), [boot.uuid, newUuid].sort());
    assert.equal((await rotationStatus(g, keys.admin, "graced")).json.step, "retire");
  }
  await until(retireAfter - 300);
  const justBefore = await fakeClientSecrets(fake, c.clientId);
  if (Date.now() < retireAfter - 50) assert.equal(justBefore.secrets.length, 2, "still 2 secrets just before the end of the grace period");

  // After it, with no cron run and no rotate call: the alarm retires the previous secret.
  const st = await waitFor(async () => {
    const s = await rotationStatus(g, keys.admin, "graced");
    return s.json?.step === "done" ? s : null;
  }, { timeoutMs: 10_000, intervalMs: 200, what: "the alarm to finish the rotation" });
  assertRotationView(st.json);
  assert.equal(st.json.id, r.json.id, "the same rotation");
  assert.equal(st.json.step, "done", st.text);
  assert.deepEqual(eventCounts(st.json), { identified: 1, added: 1, tested: 1, promoted: 1, retired: 1 });
  assert.ok(Date.parse(st.json.finished_at) >= retireAfter, `finished after the grace period: ${st.text}`);
  const held = await fakeClientSecrets(fake, c.clientId);
  assert.deepEqual(held.secrets.map((s) => s.uuid), [newUuid]);
  assert.ok(held.max_secrets_seen <= 2);
});

test("7.3 ROTATE_AFTER_DAYS unset, \"0\", or set with a young secret: no rotation starts", async () => {
  const { fake, keys } = env;
  const adds0 = (await fake.stats()).api_calls.add;
  // g: unset. The default credential was never rotated.
  await g.scheduled();
  expectError(await rotationStatus(g, keys.admin), 404, "no_rotation", "ROTATE_AFTER_DAYS unset");
  for (const days of ["0", "1"]) {
    const w = await env.broker({ vars: { ROTATE_AFTER_DAYS: days, ROTATION_GRACE_S: "0" }, kvPersistDir: tempDir("ims-broker-kv-"), label: `scheduled-days-${days}` });
    assert.equal((await w.scheduled()).outcome, "ok");
    for (const name of ["default", "aged"]) expectError(await rotationStatus(w, keys.admin, name), 404, "no_rotation", `ROTATE_AFTER_DAYS=${days}, ${name}`);
    assert.ok(jsonLogs(w).some((l) => l.msg === "prewarm"), "the cron ran");
    assert.ok(!jsonLogs(w).some((l) => l.msg === "scheduled_rotation"), JSON.stringify(jsonLogs(w).filter((l) => l.msg === "scheduled_rotation")));
    await w.stop();
  }
  assert.equal((await fake.stats()).api_calls.add, adds0, "no secret added");
});

test("7.4 ROTATE_AFTER_DAYS=1 and an active secret older than a day: once the cron woke its object, the object rotates it", async () => {
  const { fake, keys, creds } = env;
  const c = creds.aged;
  const vars = { ROTATE_AFTER_DAYS: "1", ROTATION_GRACE_S: "0" };
  const first_ = await env.broker({ vars, kvPersistDir: tempDir("ims-broker-kv-"), label: "scheduled-aged-first" });
  let r = first_;
  // A first rotation by hand: the active secret is then one the broker created (its age is known).
  const first = await rotate(r, keys.admin, "aged");
  assert.equal(first.status, 200, first.text);
  const young = first.json.events.find((e) => e.what === "promoted").uuid;

  // Young: the cron leaves it.
  await r.scheduled();
  assert.equal((await rotationStatus(r, keys.admin, "aged")).json.id, first.json.id, "no new rotation for a young secret");
  assert.deepEqual((await fakeClientSecrets(fake, c.clientId)).secrets.map((s) => s.uuid), [young]);

  // Two days old: the object's record, backdated, as a pre-upgrade KV record of a fresh broker.
  const state = await readRecord(r, "aged");
  assert.equal(state.active.uuid, young);
  assert.equal(typeof state.active.created_at_ms, "number", JSON.stringify({ ...state.active, sealed: "…" }));
  state.active.created_at_ms = Date.now() - 2 * 86_400_000;
  await first_.stop();
  r = await env.broker({ vars, kvPersistDir: tempDir("ims-broker-kv-"), label: "scheduled-aged" });
  await writeRecord(r, "aged", state);

  const logFrom = jsonLogs(r).length;
  assert.equal((await r.scheduled()).outcome, "ok");
  const st = await waitFor(async () => {
    const s = await rotationStatus(r, keys.admin, "aged");
    return s.status === 200 && s.json.id !== first.json.id && s.json.step === "done" ? s : null;
  }, { timeoutMs: 15_000, intervalMs: 200, what: "the object to rotate the aged secret" });
  assert.notEqual(st.json.id, first.json.id, "a new rotation");
  assert.equal(st.json.step, "done", st.text);
  const fresh = st.json.events.find((e) => e.what === "promoted").uuid;
  assert.equal(st.json.events.find((e) => e.what === "retired").uuid, young);
  const held = await fakeClientSecrets(fake, c.clientId);
  assert.deepEqual(held.secrets.map((s) => s.uuid), [fresh]);
  assert.ok(held.max_secrets_seen <= 2);
  assert.ok(jsonLogs(r).slice(logFrom).some((l) => l.msg === "secrets_record_imported" && l.credential === "aged"), "the backdated record was imported");
  assert.equal(await r.kv.get("state:aged"), null, "and removed from KV");
  // Only the aged credential was rotated.
  expectError(await rotationStatus(r, keys.admin), 404, "no_rotation");
  expectToken(await v1Token(r, keys.user, { credential: "aged", scopes: ["openid"] }), "minting after the cron's rotation");
});

test("7.x the Worker logs hold no secret value and no token", async () => {
  await assertLogsClean(env.fake, env.workers, "scheduled");
});
