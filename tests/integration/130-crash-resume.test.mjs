// Crash-resume: for every step boundary the credential's object "dies" right there. The fake
// Adobe holds the step's call (fault `slow`: the call takes effect at once, its answer comes
// HOLD_MS later), and while the call is held the test kills the workerd process that runs the
// object and the brokers' isolates (Miniflare disposed), then starts them again on the same
// storage: the object's memory and the run it was doing are gone, its storage and alarm stay.
// (Miniflare's `unsafeEvictDurableObject` cannot do this: it waits for the object's in-flight
// requests to finish before it evicts, so the held call would simply time out and the run record
// an error.) The object's alarm (ROTATION_RESUME_S=5, set before the run) then re-creates it and
// resumes the rotation. After each scenario:
//   - tokens can be minted at every point (before, right after the restart on two isolates
//     sharing the object, after the resume), each with a fresh scope set so that IMS is really
//     called;
//   - Adobe never held more than 2 secrets (the fake's max_secrets_seen);
//   - no orphan: Adobe holds exactly the secret the object's record says is active, and nothing
//     else (with ROTATION_GRACE_S=0 the previous one is retired by the resumed run);
//   - the old (bootstrap) secret is deleted in the end;
//   - no step ran twice: the rotation's events name identified/added/tested/promoted/retired
//     once each, and the fake's API log shows one add and no uuid deleted twice.
// The crash points (the call held, and what the record says at the crash):
//   - after:delete_unused: the scenario starts with a stray second secret at Adobe (so the probe
//     identifies the bootstrap one by last_used_at); the stray's delete is held: it took effect
//     and is not repeated: 2 deletes (stray + retire), 1 add.
//   - after:add: the add is held: it took effect at Adobe but its answer (the only copy of the
//     plaintext) is lost. On resume the orphan is "a secret the broker does not use" and is
//     deleted (`deleted_unused` event with the orphan's uuid), then a second add runs: 2 adds,
//     2 deletes.
//   - after:store_pending: the first list call after the add (the test step's) is held: the
//     pending secret is stored and at Adobe, not tested.
//   - after:test: the test's IMS call (with the pending secret) is held: it succeeded at Adobe,
//     the record still says "test"; the resume tests again (a mint, no effect at Adobe).
//   - after:promote: the third list call after the add (the retire step's) is held: the new
//     secret is active, the bootstrap one previous and still at Adobe.
//   - after:retire_delete: the retire's delete is held: it took effect; the resume records the
//     retire without a second delete.
// (A failed write of the pending secret, after which the new secret is deleted at Adobe again,
// cannot be caused from outside the object: the runner's unit tests in ims-core
// (`rotation_runner`) inject it, with every other fault at every call. An add whose answer is
// lost is after:add here and add_then_drop in 180-management-faults.)
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
  openSealed,
  readRecord,
  rotate,
  rotationEnv,
  rotationStatus,
  uniqueScopes,
  v1Token,
  waitFor,
} from "./support.mjs";

/** How long the fake holds the call the eviction interrupts (its answer never arrives). */
const HOLD_MS = 20_000;
/** A gate: a call slowed just long enough for the test to queue the faults of the next calls. */
const GATE_MS = 400;

/**
 * Crash point → credential of its scenario, the call held (`gate`: a call slowed first, after
 * which `hold` is queued; `hold`: the faults queued for `hold.target`, the last one holding), the
 * step the record must be at when workerd is killed, and what differs from the plain case.
 */
const SCENARIOS = [
  { point: "after:delete_unused", cred: "del-unused", stray: true, hold: { target: "delete", skip: 0 }, step: "create", adds: 1, deletes: 2 },
  { point: "after:add", cred: "add", hold: { target: "add", skip: 0 }, step: "create", adds: 2, deletes: 2, orphan: true },
  { point: "after:store_pending", cred: "stored", gate: "add", hold: { target: "list", skip: 0 }, step: "test", adds: 1, deletes: 1, pendingLeft: true },
  { point: "after:test", cred: "tested", gate: "add", hold: { target: "ims", skip: 0 }, step: "test", adds: 1, deletes: 1, pendingLeft: true },
  { point: "after:promote", cred: "promoted", gate: "add", hold: { target: "list", skip: 2 }, step: "retire", adds: 1, deletes: 1, promoted: true },
  { point: "after:retire_delete", cred: "retired", hold: { target: "delete", skip: 0 }, step: "retire", adds: 1, deletes: 1, promoted: true },
];

const BASE_VARS = { ROTATION_GRACE_S: "0", ROTATION_RESUME_S: "5" };

let env;
let a; // the isolate the rotate calls go to
let b; // another isolate of the same Worker, sharing the objects
before(async () => {
  env = await rotationEnv(null, {
    label: "crash",
    credentials: Object.fromEntries(SCENARIOS.map((s) => [s.cred, {}])),
    vars: BASE_VARS,
  });
  [a, b] = await env.fleet(2, { label: "crash-fleet" });
});

let restarts = 0;
/** Kills the workerd process of the fleet (objects and isolates) and starts it again on the same storage. */
async function crashAndRestart() {
  await a.stop();
  [a, b] = await env.fleet(2, { label: `crash-fleet-restart-${++restarts}` });
}
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

/** The fake's calls of `target` ("ims": IMS calls of `clientId`; else API log entries of that op) since the marks. */
async function callsOf(target, marks, clientId) {
  const st = await env.fake.stats();
  if (target === "ims") return st.calls.slice(marks.ims).filter((c) => c.client_id === clientId);
  return st.api_log.slice(marks.api).filter((e) => e.op === target);
}

/** Waits until the `n`-th (1-based) call of `target` since `marks` was made with a `slow` fault; returns it. */
async function waitSlowCall(target, marks, clientId, n, what) {
  return waitFor(async () => {
    const calls = await callsOf(target, marks, clientId);
    const c = calls[n - 1];
    return c && c.fault === "slow" ? c : null;
  }, { timeoutMs: 15_000, intervalMs: 10, what });
}

async function statsMarks() {
  const st = await env.fake.stats();
  return { api: st.api_log.length, ims: st.calls.length };
}

for (const sc of SCENARIOS) {
  test(`3. crash ${sc.point} (workerd killed while Adobe holds the call), then the alarm resumes: tokens all along, ≤2 secrets, no orphan, old one deleted, no step twice`, async (t) => {
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

    // Before: a token with the bootstrap secret.
    assert.equal((await mintFresh(a, name, "before the rotation")).secret_uuid, boot.uuid);

    // The run, held at the crash point.
    const holdFaults = (target) => [
      ...(sc.hold.skip ? [{ target, kind: "slow", ms: 0, count: sc.hold.skip }] : []),
      { target, kind: "slow", ms: HOLD_MS, count: 1 },
    ];
    let marks = await statsMarks();
    if (sc.gate) await fake.faults([{ target: sc.gate, kind: "slow", ms: GATE_MS, count: 1 }]);
    else await fake.faults(holdFaults(sc.hold.target));
    // Its answer is read after the crash; handled from the start (the crash may reject it first).
    const rotating = rotate(a, keys.admin, name).then(
      (r) => `${r.status} ${r.text.slice(0, 200)}`,
      (e) => `no answer (${e.cause?.code ?? e.message})`,
    );
    if (sc.gate) {
      await waitSlowCall(sc.gate, marks, c.clientId, 1, `the gate call (${sc.gate})`);
      marks = await statsMarks();
      await fake.faults(holdFaults(sc.hold.target));
    }
    const held = await waitSlowCall(sc.hold.target, marks, c.clientId, sc.hold.skip + 1, `the held call (${sc.hold.target})`);
    await crashAndRestart();
    const crash = await rotating;
    t.diagnostic(`rotate call at the crash: ${crash}`);
    assert.ok(!/"step":"done"/.test(crash), `the interrupted call cannot report a finished rotation: ${crash}`);

    // The crash state, as the object's storage holds it.
    const atCrash = await fakeClientSecrets(fake, c.clientId);
    assert.ok(atCrash.max_secrets_seen <= 2, `max_secrets_seen ${atCrash.max_secrets_seen} at the crash`);
    const logAtCrash = (await fake.stats()).api_log.slice(logMark);
    const state0 = await readRecord(a, name);
    assert.ok(state0.rotation, `a rotation is recorded: ${JSON.stringify({ ...state0, active: "…", pending: "…", previous: "…" })}`);
    assert.equal(state0.rotation.step, sc.step, `the record is at step ${sc.step} at ${sc.point}`);
    const knownAtCrash = [state0.active?.uuid, state0.pending?.uuid, state0.previous?.uuid].filter(Boolean);
    const orphans = atCrash.secrets.map((s) => s.uuid).filter((u) => !knownAtCrash.includes(u) && u !== boot.uuid);
    if (sc.orphan) {
      const added = logAtCrash.filter((e) => e.op === "add" && e.applied);
      assert.equal(added.length, 1, JSON.stringify(logAtCrash));
      assert.equal(held.uuid, added[0].uuid, "the held call is the add");
      assert.deepEqual(orphans, [added[0].uuid], "after:add leaves exactly the lost add's secret unknown to the broker");
    } else {
      assert.deepEqual(orphans, [], `no secret unknown to the broker at the crash: record ${JSON.stringify(knownAtCrash)}`);
    }
    if (sc.stray) {
      assert.equal(held.uuid, stray.uuid, "the held delete is the stray's");
      assert.ok(!atCrash.secrets.some((s) => s.uuid === stray.uuid), "the stray secret was deleted before the crash");
    }
    if (sc.hold.target === "ims") {
      assert.equal(held.outcome, "ok", JSON.stringify(held));
      assert.equal(held.secret_uuid, state0.pending?.uuid, "the held IMS call is the test of the pending secret");
    }
    if (sc.promoted) {
      assert.equal(state0.previous?.uuid, boot.uuid, "the bootstrap secret is previous");
      assert.notEqual(state0.active.uuid, boot.uuid, "the new secret is active");
    }
    if (sc.point === "after:retire_delete") {
      assert.equal(held.uuid, boot.uuid, "the held delete is the bootstrap secret's");
      assert.ok(!atCrash.secrets.some((s) => s.uuid === boot.uuid), "the retire's delete took effect");
    }

    // Tokens right after the restart, on both isolates (the object is re-created on demand).
    await mintFresh(a, name, "after the crash, isolate a");
    await mintFresh(b, name, "after the crash, isolate b");

    if (sc.pendingLeft) {
      // The pending secret is stored and at Adobe; deleting it by hand is refused.
      const pending = state0.pending?.uuid;
      assert.ok(pending && atCrash.secrets.some((s) => s.uuid === pending), JSON.stringify({ ...state0.pending, sealed: "…" }));
      expectError(await deleteSecret(b, keys.admin, name, pending), 409, "conflict", "delete the pending secret");
    }

    // The alarm resumes the same rotation and finishes it.
    const st = await waitFor(async () => {
      const s = await rotationStatus(b, keys.admin, name);
      return s.status === 200 && s.json.step === "done" ? s : null;
    }, { timeoutMs: 20_000, intervalMs: 200, what: `the alarm to finish the rotation stopped ${sc.point}` });
    assertRotationView(st.json, "resumed");
    assert.equal(st.json.last_error, null, st.text);
    assert.equal(st.json.id, state0.rotation.id, "the same rotation was resumed");

    // No step twice.
    const counts = eventCounts(st.json);
    const expected = { identified: 1, added: 1, tested: 1, promoted: 1, retired: 1 };
    if (sc.orphan) expected.deleted_unused = 1;
    if (sc.stray) {
      assert.ok((counts.deleted_unused ?? 0) <= 1, JSON.stringify(st.json.events));
      delete counts.deleted_unused;
    }
    assert.deepEqual(counts, expected, `events: ${JSON.stringify(st.json.events)}`);
    const newUuid = st.json.events.find((e) => e.what === "added").uuid;
    for (const what of ["tested", "promoted"]) assert.equal(st.json.events.find((e) => e.what === what).uuid, newUuid, what);
    assert.equal(st.json.events.find((e) => e.what === "retired").uuid, boot.uuid, "the bootstrap secret was retired");
    assert.equal(st.json.events.find((e) => e.what === "identified").uuid, boot.uuid, "the bootstrap secret was identified");

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
      assert.equal(st.json.events.find((e) => e.what === "deleted_unused").uuid, adds[0].uuid, "the orphan was the unused one deleted");
    }
    if (sc.stray) assert.deepEqual(deleted.sort(), [stray.uuid, boot.uuid].sort());

    // Adobe at the end: the new secret only (no orphan, old one deleted), never more than 2.
    const end = await fakeClientSecrets(fake, c.clientId);
    assert.deepEqual(end.secrets.map((s) => s.uuid), [newUuid]);
    assert.ok(end.max_secrets_seen <= 2, `max_secrets_seen ${end.max_secrets_seen}`);
    // The object's record says the same, and the sealed value is the one Adobe holds.
    const state = await readRecord(a, name);
    assert.deepEqual(
      { active: state.active.uuid, source: state.active.source, pending: state.pending ?? null, previous: state.previous ?? null },
      { active: newUuid, source: "stored", pending: null, previous: null },
    );
    assert.equal(openSealed(`secret:${name}:${newUuid}`, state.active.sealed), end.secrets[0].client_secret);

    // Tokens after the resume, with the new secret, on both isolates.
    assert.equal((await mintFresh(a, name, "after the resume, isolate a")).secret_uuid, newUuid);
    assert.equal((await mintFresh(b, name, "after the resume, isolate b")).secret_uuid, newUuid);
  });
}

test("3.x the Worker logs hold no secret value (old, new, pending, orphaned) and no token", async () => {
  await assertLogsClean(env.fake, env.workers, "crash-resume");
});
