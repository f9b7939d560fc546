// Issue 3, test 3: crash-resume. For every step boundary the Worker "dies" right there
// (`ROTATION_TEST_CRASH=<point>`: the rotate call stops as if the isolate died, answers 500
// simulated_crash, the lease is left to expire after ROTATION_LEASE_S=2), then a broker without
// the hook resumes the rotation on the same KV. After each scenario:
//   - tokens can be minted at every point (before, after the crash on the crashed broker and on
//     another one reading the half-done record, after the resume), each with a fresh scope set
//     so that IMS is really called;
//   - Adobe never held more than 2 secrets (the fake's max_secrets_seen);
//   - no orphan: Adobe holds exactly the secret the broker's record says is active, and nothing
//     else (with ROTATION_GRACE_S=0 the previous one is retired by the resume);
//   - the old (bootstrap) secret is deleted in the end;
//   - no step ran twice: the rotation's events name identified/added/tested/promoted/retired
//     once each, and the fake's API log shows one add and no uuid deleted twice.
// Exceptions, by design:
//   - after:add: the add took effect at Adobe but its answer (the only copy of the plaintext)
//     was lost. On resume the orphan is "a secret the broker does not use" and is deleted
//     (`deleted_unused` event with the orphan's uuid), then a second add runs: 2 adds, 2 deletes.
//   - store:pending: storing the pending secret fails; the Worker deletes the new secret at Adobe
//     again at once (so even at the crash instant nothing is orphaned) and logs
//     rotation_pending_store_failed; the resume adds again: 2 adds, 2 deletes.
//   - after:delete_unused: the scenario starts with a stray second secret at Adobe (so the probe
//     identifies the bootstrap one by last_used_at and the stray is deleted); its delete took
//     effect before the crash and is not repeated: 2 deletes (stray + retire), 1 add.
// While the crashed run's lease is live, a rotate call elsewhere answers busy and does nothing.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import {
  assertLogsClean,
  assertRotationView,
  deleteSecret,
  eventCounts,
  expectError,
  expectToken,
  fakeAddSecret,
  fakeClientSecrets,
  jsonLogs,
  openSealed,
  readRecord,
  rotate,
  rotationEnv,
  rotationStatus,
  sleep,
  uniqueScopes,
  v1Token,
} from "./support.mjs";

/** Crash point → credential used by its scenario, and what differs from the plain case. */
const SCENARIOS = [
  { point: "after:delete_unused", cred: "del-unused", stray: true, adds: 1, deletes: 2 },
  { point: "after:add", cred: "add", adds: 2, deletes: 2, orphan: true },
  { point: "store:pending", cred: "store-fail", adds: 2, deletes: 2, undo: true },
  { point: "after:store_pending", cred: "stored", adds: 1, deletes: 1, pendingLeft: true },
  { point: "after:test", cred: "tested", adds: 1, deletes: 1 },
  { point: "after:promote", cred: "promoted", adds: 1, deletes: 1 },
  { point: "after:retire_delete", cred: "retired", adds: 1, deletes: 1 },
];

const BASE_VARS = { ROTATION_GRACE_S: "0", ROTATION_LEASE_S: "2" };

let env;
let normal; // the broker without the hook, which resumes
before(async () => {
  env = await rotationEnv(null, {
    label: "crash",
    credentials: Object.fromEntries(SCENARIOS.map((s) => [s.cred, {}])),
    vars: BASE_VARS,
  });
  normal = await env.broker({ label: "crash-resumer" });
});
after(() => env?.stop());

/** Mints a fresh-scope token of `cred` on `w`; returns the fake's IMS call that served it. */
async function mintFresh(w, cred, what) {
  const { fake, keys, creds } = env;
  const from = (await fake.stats()).calls.length;
  expectToken(await v1Token(w, keys.user, { credential: cred, scopes: uniqueScopes(cred) }), what);
  const calls = (await fake.stats()).calls.slice(from).filter((c) => c.client_id === creds[cred].clientId && c.outcome === "ok");
  assert.ok(calls.length >= 1, `${what}: an IMS call was made`);
  return calls.at(-1);
}

/** Sleeps until the rotation lease of `cred` in KV has expired. */
async function waitLeaseOut(w, cred) {
  const raw = await w.kv.get(`lease:${cred}`);
  if (!raw) return;
  const { expires_at_ms } = JSON.parse(raw);
  const d = expires_at_ms - Date.now();
  if (d > -50) await sleep(d + 100);
}

for (const sc of SCENARIOS) {
  test(`3. crash ${sc.point}, then resume: tokens all along, ≤2 secrets, no orphan, old one deleted, no step twice`, async () => {
    const { fake, keys, creds } = env;
    const name = sc.cred;
    const c = creds[name];
    const logMark = (await fake.stats()).api_log.length;
    let stray;
    if (sc.stray) {
      // Never used: the probe identifies the bootstrap secret by its last_used_at.
      stray = await fakeAddSecret(fake, c.clientId);
    }
    const boot = (await fakeClientSecrets(fake, c.clientId)).secrets.find((s) => s.client_secret === c.secret);
    const crashy = await env.broker({ vars: { ROTATION_TEST_CRASH: sc.point }, label: `crash-${name}` });

    // Before: a token with the bootstrap secret.
    assert.equal((await mintFresh(crashy, name, "before the rotation")).secret_uuid, boot.uuid);

    // The crash.
    const crash = await rotate(crashy, keys.admin, name);
    expectError(crash, 500, "simulated_crash", `rotate with ROTATION_TEST_CRASH=${sc.point}`);
    const atCrash = await fakeClientSecrets(fake, c.clientId);
    assert.ok(atCrash.max_secrets_seen <= 2, `max_secrets_seen ${atCrash.max_secrets_seen} at the crash`);
    const logAtCrash = (await fake.stats()).api_log.slice(logMark);
    const state0 = await readRecord(normal, name);
    const knownAtCrash = [state0.active?.uuid, state0.pending?.uuid, state0.previous?.uuid].filter(Boolean);
    const orphans = atCrash.secrets.map((s) => s.uuid).filter((u) => !knownAtCrash.includes(u) && u !== boot.uuid);
    if (sc.orphan) {
      const added = logAtCrash.filter((e) => e.op === "add" && e.applied);
      assert.equal(added.length, 1, JSON.stringify(logAtCrash));
      assert.deepEqual(orphans, [added[0].uuid], "after:add leaves exactly the lost add's secret unknown to the broker");
    } else {
      assert.deepEqual(orphans, [], `no secret unknown to the broker at the crash: record ${JSON.stringify(knownAtCrash)}`);
    }
    if (sc.undo) {
      assert.deepEqual(atCrash.secrets.map((s) => s.uuid), [boot.uuid], "store:pending: the new secret was deleted at Adobe again");
      const failed = jsonLogs(crashy).find((l) => l.msg === "rotation_pending_store_failed");
      assert.ok(failed, "rotation_pending_store_failed logged");
      assert.equal(failed.deleted_again, true, JSON.stringify(failed));
    }
    if (sc.stray) assert.ok(!atCrash.secrets.some((s) => s.uuid === stray.uuid), "the stray secret was deleted before the crash");

    // Tokens right after the crash: on the crashed broker and on another one, fresh from KV.
    await mintFresh(crashy, name, "after the crash, crashed broker");
    await mintFresh(normal, name, "after the crash, another broker");

    if (sc.pendingLeft) {
      // The pending secret is stored and at Adobe; deleting it by hand is refused.
      const pending = state0.pending?.uuid;
      assert.ok(pending && atCrash.secrets.some((s) => s.uuid === pending), JSON.stringify(state0.pending));
      expectError(await deleteSecret(normal, keys.admin, name, pending), 409, "conflict", "delete the pending secret");
    }

    // While the dead run's lease lives, a rotate call elsewhere is busy and does nothing.
    const apiBefore = (await fake.stats()).api_calls;
    const busy = await rotate(normal, keys.admin, name);
    assert.equal(busy.status, 202, `busy answer: ${busy.text}`);
    assert.equal(busy.json.busy, true, busy.text);
    const apiAfter = (await fake.stats()).api_calls;
    assert.deepEqual({ add: apiAfter.add, delete: apiAfter.delete }, { add: apiBefore.add, delete: apiBefore.delete }, "a busy call changes nothing at Adobe");

    // Resume, once the lease is out, on the broker without the hook.
    await waitLeaseOut(normal, name);
    const r = await rotate(normal, keys.admin, name);
    assert.equal(r.status, 200, `resume after ${sc.point}: ${r.text}`);
    assertRotationView(r.json, "resumed");
    assert.equal(r.json.step, "done", r.text);
    assert.equal(r.json.last_error, null, r.text);
    assert.equal(r.json.busy, false);
    assert.equal(r.json.id, state0.rotation.id, "the same rotation was resumed");
    const st = await rotationStatus(normal, keys.admin, name);
    assert.deepEqual(st.json.events, r.json.events);

    // No step twice.
    const counts = eventCounts(r.json);
    const expected = { identified: 1, added: 1, tested: 1, promoted: 1, retired: 1 };
    if (sc.orphan) expected.deleted_unused = 1;
    if (sc.stray) {
      assert.ok((counts.deleted_unused ?? 0) <= 1, JSON.stringify(r.json.events));
      delete counts.deleted_unused;
    }
    assert.deepEqual(counts, expected, `events: ${JSON.stringify(r.json.events)}`);
    const newUuid = r.json.events.find((e) => e.what === "added").uuid;
    for (const what of ["tested", "promoted"]) assert.equal(r.json.events.find((e) => e.what === what).uuid, newUuid, what);
    assert.equal(r.json.events.find((e) => e.what === "retired").uuid, boot.uuid, "the bootstrap secret was retired");
    assert.equal(r.json.events.find((e) => e.what === "identified").uuid, boot.uuid, "the bootstrap secret was identified");

    const log = (await fake.stats()).api_log.slice(logMark);
    const adds = log.filter((e) => e.op === "add");
    const deletes = log.filter((e) => e.op === "delete");
    assert.equal(adds.length, sc.adds, `adds: ${JSON.stringify(adds)}`);
    assert.equal(deletes.length, sc.deletes, `deletes: ${JSON.stringify(deletes)}`);
    assert.ok([...adds, ...deletes].every((e) => e.applied && e.status >= 200 && e.status < 300), JSON.stringify(log));
    const deleted = deletes.map((e) => e.uuid);
    assert.equal(new Set(deleted).size, deleted.length, `no uuid deleted twice: ${deleted}`);
    assert.ok(deleted.includes(boot.uuid));
    assert.equal(adds.at(-1).uuid, newUuid, "the last add is the secret promoted");
    if (sc.orphan) {
      assert.deepEqual(deleted.sort(), [adds[0].uuid, boot.uuid].sort());
      assert.equal(r.json.events.find((e) => e.what === "deleted_unused").uuid, adds[0].uuid, "the orphan was the unused one deleted");
    }
    if (sc.undo) assert.deepEqual(deleted.sort(), [adds[0].uuid, boot.uuid].sort(), "the unstored secret was deleted again");
    if (sc.stray) assert.deepEqual(deleted.sort(), [stray.uuid, boot.uuid].sort());

    // Adobe at the end: the new secret only (no orphan, old one deleted), never more than 2.
    const end = await fakeClientSecrets(fake, c.clientId);
    assert.deepEqual(end.secrets.map((s) => s.uuid), [newUuid]);
    assert.ok(end.max_secrets_seen <= 2, `max_secrets_seen ${end.max_secrets_seen}`);
    // The broker's record says the same, and the sealed value is the one Adobe holds.
    const state = await readRecord(normal, name);
    assert.deepEqual(
      { active: state.active.uuid, source: state.active.source, pending: state.pending ?? null, previous: state.previous ?? null },
      { active: newUuid, source: "stored", pending: null, previous: null },
    );
    assert.equal(openSealed(`secret:${name}:${newUuid}`, state.active.sealed), end.secrets[0].client_secret);

    // Tokens after the resume, with the new secret.
    assert.equal((await mintFresh(normal, name, "after the resume")).secret_uuid, newUuid);
    await crashy.stop();
  });
}

test("3.x (test 8, this file) the Worker logs hold no secret value (old, new, pending, orphaned) and no token", async () => {
  await assertLogsClean(env.fake, env.workers, "crash-resume");
});
