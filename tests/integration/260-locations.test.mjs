// Rotation across locations: two brokers in two KV locations (`kvLocations: ["a", "b"]`, each
// with its own 60 s KV edge cache, as on Cloudflare) sharing one KV namespace, one credential
// object namespace and one fake Adobe. KV is eventually consistent and has no compare-and-swap,
// so a secrets record kept in KV let a location act on an old copy (location B, whose edge cache
// still showed the record from before a rotation, was allowed to delete the secret location A
// had just promoted). The credential object is the one place that decides; these scenarios
// check that it does, whatever either location's KV shows:
//
//  1. a rotation started in A while B resumes "the same" rotation at the same time (B's rotate
//     call, and the object's resume alarm firing while the add is still at work);
//  2. B deletes, through the API, the secret A just promoted (B's KV cache warmed with the old
//     state first): refused with 409;
//  3. two admins start rotations in A and B in the same second: one rotation, one add;
//  4. the object unreachable (a pass-through object that can be switched off): a location that
//     never learnt the credential's secrets answers a miss with 503 `credential_unavailable` and
//     Retry-After and still serves the token KV has; a location that learnt them keeps serving
//     from memory and mints a miss with them.
// (An object stopped in the middle of a step is 130-crash-resume's subject.)
//
// Throughout every scenario both locations mint a token every 100 ms, each with a scope set
// never asked before (so IMS is really called with a secret the broker can read), and every one
// must succeed. At the end Adobe holds exactly the record's active secret (the previous one only
// during the grace period), never held more than 2, saw one add and no uuid deleted twice, and
// the rotation lists each step once.
//
// Each scenario has its own credential (own object, own fake client), so they do not share
// state; the fake's api_log has no client id, so each scenario reads the slice logged since it
// began (the scenarios run one after the other).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { startBrokerFleet, tempDir } from "./harness.mjs";
import {
  adminCall,
  callerKey,
  deleteSecret,
  eventCounts,
  expectError,
  fakeClientSecrets,
  numericId,
  randomSecret,
  rnd,
  rotate,
  rotationStatus,
  sleep,
  startFake,
  v1Token,
  waitFor,
} from "./support.mjs";

/** Seconds between promote and retire: long enough to act inside it, short for the run time. */
const GRACE_S = 4;
/**
 * Seconds after a run starts at which the object's resume alarm fires: shorter than the slowed
 * add of scenario 1, so the alarm comes while that run is still at work.
 */
const RESUME_S = 1;
/** Credentials of the scenarios (plus `default`, which every broker config has). */
const NAMES = ["one", "two", "three"];

// A scope pool of our own: each mint asks a scope set no one asked before (pairs, then triples).
const POOL = Array.from({ length: 60 }, (_, i) => `loc_${rnd(2)}_${String(i).padStart(2, "0")}`);
const SCOPES = ["openid", "AdobeID", ...POOL].join(",");
let scopeN = 0;
function freshScopes() {
  const n = POOL.length;
  let k = scopeN++;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) if (k-- === 0) return ["openid", POOL[i], POOL[j]];
  }
  const t = k;
  return ["openid", POOL[t % n], POOL[(t + 1) % n], POOL[(t + 7) % n]];
}

let fake;
let fleet;
let keys;
const creds = {};
/** The two locations, as `{fetch}` handles for support's helpers. */
let A;
let B;
/** The brokers' configuration (also for the fleet of scenario 4). */
let fleetOpts;

before(async () => {
  const clients = {};
  const args = [];
  for (const name of ["default", ...NAMES]) {
    const c = { name, clientId: `loc-${name}-${rnd()}`, secret: randomSecret("cs"), orgId: numericId(), credentialId: numericId() };
    creds[name] = c;
    clients[c.clientId] = c.secret;
    args.push("--credential", `${c.orgId}:${c.credentialId}:${c.clientId}`);
  }
  fake = await startFake({ clients, args });
  const entries = {};
  keys = {};
  for (const [id, p] of Object.entries({ admin1: { admin: true }, admin2: { admin: true }, user: {} })) {
    const k = callerKey();
    keys[id] = k.key;
    entries[id] = { sha256: k.sha256, credentials: "*", scopes: "*", admin: p.admin ?? false };
  }
  const extra = {};
  const secrets = { CLIENT_SECRET: creds.default.secret, CALLER_KEYS: JSON.stringify(entries) };
  for (const name of NAMES) {
    const c = creds[name];
    extra[name] = { client_id: c.clientId, scopes: SCOPES, org_id: c.orgId, credential_id: c.credentialId };
    secrets[`CLIENT_SECRET_${name.toUpperCase()}`] = c.secret;
  }
  fleetOpts = {
    fake,
    kvLocations: ["a", "b"],
    kvCacheTtlMs: 60_000,
    vars: {
      CLIENT_ID: creds.default.clientId,
      SCOPES,
      ORG_ID: creds.default.orgId,
      CREDENTIAL_ID: creds.default.credentialId,
      CREDENTIALS: JSON.stringify(extra),
      ROTATION_GRACE_S: String(GRACE_S),
      ROTATION_RESUME_S: String(RESUME_S),
      // Both locations mint 10 new scope sets a second for the whole file.
      MAX_NEW_SCOPE_SETS_PER_MIN: "100000",
    },
    secrets,
  };
  fleet = await startBrokerFleet(2, { ...fleetOpts, label: "locations" });
  A = { fetch: (p, init) => fleet.fetchAt(0, p, init) };
  B = { fetch: (p, init) => fleet.fetchAt(1, p, init) };
});
after(async () => {
  await fleet?.stop();
  await fake?.stop();
});

/**
 * Mints a token every 100 ms in BOTH locations, each with a new scope set, until `stop()`, which
 * waits for the last answers and asserts that every mint succeeded and that IMS saw them.
 */
function mintEverywhere(t, name, what) {
  const results = [];
  const pending = [];
  const fromCalls = fake.stats().then((s) => s.calls.length);
  const timers = [A, B].map((w, i) =>
    setInterval(() => {
      const at = Date.now();
      pending.push(
        v1Token(w, keys.user, { credential: name, scopes: freshScopes() }).then(
          (r) => results.push({ loc: "ab"[i], at, ms: Date.now() - at, status: r.status, text: r.status === 200 ? "" : r.text }),
          (e) => results.push({ loc: "ab"[i], at, ms: Date.now() - at, status: "error", text: String(e) }),
        ),
      );
    }, 100),
  );
  // A failed assertion must not leave the timers running (the process would never exit).
  t.after(() => timers.forEach(clearInterval));
  return {
    async stop() {
      for (const timer of timers) clearInterval(timer);
      await Promise.all(pending);
      const bad = results.filter((r) => r.status !== 200);
      assert.deepEqual(bad, [], `${what}: every mint in both locations succeeds (${results.length} mints)`);
      for (const loc of "ab") assert.ok(results.filter((r) => r.loc === loc).length >= 5, `${what}: location ${loc} minted throughout`);
      // Each mint was a new scope set, so each one called IMS, and IMS accepted the secret used.
      const calls = (await fake.stats()).calls.slice(await fromCalls).filter((c) => c.client_id === creds[name].clientId);
      const refused = calls.filter((c) => c.outcome !== "ok");
      assert.deepEqual(refused, [], `${what}: IMS never refused a secret the broker used`);
      assert.ok(calls.length >= results.length, `${what}: ${results.length} mints, ${calls.length} IMS calls`);
      const slowest = Math.max(...results.map((r) => r.ms));
      t.diagnostic(`${what}: ${results.length} mints (A ${results.filter((r) => r.loc === "a").length}, B ${results.filter((r) => r.loc === "b").length}), ${calls.length} IMS calls, slowest ${slowest} ms`);
      return results;
    },
  };
}

/** The record the credential object holds (`CredentialState` JSON), read through its internal route. */
async function objectRecord(name) {
  const stub = await fleet.credentialObject(name);
  const res = await stub.fetch(`https://credential-object/${name}/record`);
  const text = await res.text();
  assert.equal(res.status, 200, `object record of ${name}: ${text}`);
  const json = JSON.parse(text);
  // The documented answer is {"record": …}; the object wraps its answers in {"ok": …} (as the
  // isolates' other internal calls are), so either is read here.
  const record = json.record ?? json.ok?.record;
  assert.ok(record && typeof record === "object", `object record of ${name}: ${text.slice(0, 300)}`);
  return record;
}

/** Polls the rotation (through location A) until it is done; the object's alarm retires. */
async function waitDone(name, id) {
  return waitFor(
    async () => {
      const r = await rotationStatus(A, keys.admin1, name);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.id, id, `still the same rotation: ${r.text}`);
      assert.equal(r.json.last_error, null, `the rotation met no error: ${r.text}`);
      return r.json.step === "done" && r.json;
    },
    { timeoutMs: (GRACE_S + 20) * 1000, intervalMs: 250, what: `rotation ${id} of ${name} done` },
  );
}

/** The fake's management API log since index `from`. */
async function apiLogSince(from) {
  return (await fake.stats()).api_log.slice(from);
}

/**
 * The end state of one rotation: one add, no uuid deleted twice, each step once, never more
 * than 2 secrets at Adobe, and Adobe holds exactly the record's active secret (the added one).
 */
async function assertFinished(name, view, apiFrom, { identified }) {
  const c = creds[name];
  const log = await apiLogSince(apiFrom);
  const adds = log.filter((e) => e.op === "add");
  assert.equal(adds.length, 1, `one add at Adobe: ${JSON.stringify(log)}`);
  const deletes = {};
  for (const e of log.filter((e) => e.op === "delete")) deletes[e.uuid] = (deletes[e.uuid] ?? 0) + 1;
  for (const [uuid, n] of Object.entries(deletes)) assert.equal(n, 1, `uuid ${uuid} deleted once at most: ${JSON.stringify(log)}`);

  const counts = eventCounts(view);
  const want = { added: 1, tested: 1, promoted: 1, retired: 1, ...(identified ? { identified: 1 } : {}) };
  assert.deepEqual(counts, want, `each step once: ${JSON.stringify(view.events)}`);

  const added = view.events.find((e) => e.what === "added").uuid;
  assert.equal(adds[0].uuid, added, "the add Adobe saw is the rotation's");
  const record = await objectRecord(name);
  assert.equal(record.active.uuid, added, `the object's active secret is the added one: ${JSON.stringify(record.active)}`);
  assert.equal(record.pending ?? null, null, "no pending secret left");
  const held = await fakeClientSecrets(fake, c.clientId);
  assert.deepEqual(held.secrets.map((s) => s.uuid), [added], "Adobe holds exactly the active secret: nothing orphaned");
  assert.ok(held.max_secrets_seen <= 2, `never more than 2 secrets at Adobe (max_secrets_seen ${held.max_secrets_seen})`);
  return { added, record };
}

test("1. a rotation started in A while B resumes the same rotation (its rotate call, the object's alarm) → each step runs once", async (t) => {
  const name = "one";
  const c = creds[name];
  // Warm both locations up (first mint, the object's first access).
  for (const w of [A, B]) assert.equal((await v1Token(w, keys.user, { credential: name, scopes: freshScopes() })).status, 200);
  const [boot] = (await fakeClientSecrets(fake, c.clientId)).secrets;
  const apiFrom = (await fake.stats()).api_log.length;
  const logFrom = fleet.logs().length;
  const mint = mintEverywhere(t, name, "scenario 1");
  await sleep(300);

  // A slow add keeps A's run at work long enough for B's call, and for the resume alarm the run
  // set RESUME_S ahead, to come while it is in the middle of a step.
  await fake.faults([{ target: "add", kind: "slow", ms: 2500, count: 1 }]);
  const startedAt = Date.now();
  const inA = rotate(A, keys.admin1, name);
  // B's call comes once the object shows A's rotation: B resumes that one, it starts none.
  const started = await waitFor(async () => (await objectRecord(name)).rotation, { timeoutMs: 2000, intervalMs: 20, what: "A's rotation in the object" });
  const inB = rotate(B, keys.admin2, name);
  const during = [];
  while (Date.now() - startedAt < 2000 + RESUME_S * 1000) {
    await sleep(300);
    during.push(await rotate(during.length % 2 ? A : B, keys.admin2, name));
  }
  const [ra, rb] = await Promise.all([inA, inB]);
  const all = [ra, rb, ...during];
  const show = (rs) => rs.map((r) => `${r.status} ${r.text}`).join(" | ");
  for (const r of all) assert.ok([200, 202].includes(r.status), show([r]));
  assert.deepEqual([...new Set(all.map((r) => r.json.id))], [started.id], `one rotation, seen by every call: ${show(all)}`);
  assert.equal(ra.json.busy, false, `A started the rotation and ran it: ${ra.text}`);
  assert.equal(rb.json.busy, true, `B's call while A's run was at work answers busy: ${rb.text}`);
  assert.equal(ra.json.step, "retire", `A's run goes as far as the grace period: ${ra.text}`);
  // The resume alarm fired while the run was at work (the add took longer than RESUME_S) and
  // left it alone: its line says busy, and no alarm ran a step until the grace period ended.
  const alarmLog = () => fleet.logs().slice(logFrom).filter((l) => l.includes('"rotation_alarm"') && l.includes(`"credential":"${name}"`));
  const alarmLines = () => alarmLog().filter((l) => !l.includes('"busy":true'));
  assert.ok(alarmLog().some((l) => l.includes('"busy":true')), `the resume alarm fired during A's run and saw it at work: ${alarmLog().join("\n")}`);
  assert.deepEqual(alarmLines(), [], "no alarm run while A's run was at work");

  // During the grace period Adobe holds the active secret and the previous one, nothing else.
  const graced = await fakeClientSecrets(fake, c.clientId);
  const added = ra.json.events.find((e) => e.what === "added").uuid;
  assert.deepEqual(graced.secrets.map((s) => s.uuid).sort(), [boot.uuid, added].sort(), "during the grace period: previous + active");

  // The alarm at the end of the grace period retires the previous secret.
  const view = await waitDone(name, ra.json.id);
  assert.equal(alarmLines().length, 1, `one alarm run (the retire): ${alarmLines().join("\n")}`);
  await sleep(300);
  await mint.stop();
  await assertFinished(name, view, apiFrom, { identified: true });
});

test("2. B deletes (API) the secret A just promoted → 409 whatever B's KV shows; the rotation finishes", async (t) => {
  const name = "two";
  const c = creds[name];
  // A first rotation through A, so the record knows its active secret by uuid (an identified,
  // stored one): the state B's KV cache is then warmed with.
  const first = await rotate(A, keys.admin1, name);
  assert.ok([200, 202].includes(first.status), first.text);
  const firstView = await waitDone(name, first.json.id);
  const s1 = firstView.events.find((e) => e.what === "added").uuid;

  // B reads the credential now (its KV edge cache keeps what it read for 60 s).
  await fleet.kvFaults.clearCache("b");
  for (const r of [await rotationStatus(B, keys.admin2, name), await adminCall(B, keys.admin2, "GET", `/v1/credentials/${name}/secrets`)]) {
    assert.equal(r.status, 200, r.text);
  }
  assert.equal((await v1Token(B, keys.user, { credential: name, scopes: freshScopes() })).status, 200);

  const apiFrom = (await fake.stats()).api_log.length;
  const mint = mintEverywhere(t, name, "scenario 2");
  await sleep(300);
  const second = await rotate(A, keys.admin1, name);
  assert.equal(second.status, 202, `the second rotation waits out the grace period: ${second.text}`);
  assert.equal(second.json.step, "retire", second.text);
  const s2 = second.json.events.find((e) => e.what === "added").uuid;
  assert.notEqual(s2, s1);

  // B deletes the secret A just promoted.
  const del = await deleteSecret(B, keys.admin2, name, s2);
  assert.equal(del.status, 409, `B may not delete the active secret A just promoted: got ${del.status} ${del.text}`);
  expectError(del, 409, "conflict", "delete of the active secret in B");
  const held = await fakeClientSecrets(fake, c.clientId);
  assert.deepEqual(held.secrets.map((s) => s.uuid).sort(), [s1, s2].sort(), "during the grace period: previous + active, both still there");

  const view = await waitDone(name, second.json.id);
  await sleep(300);
  await mint.stop();
  const { record } = await assertFinished(name, view, apiFrom, { identified: false });
  assert.equal(record.active.uuid, s2);
});

test("3. two admins start rotations in A and B in the same second → one rotation, one add", async (t) => {
  const name = "three";
  for (const w of [A, B]) assert.equal((await v1Token(w, keys.user, { credential: name, scopes: freshScopes() })).status, 200);
  const apiFrom = (await fake.stats()).api_log.length;
  const mint = mintEverywhere(t, name, "scenario 3");
  await sleep(300);
  await fake.faults([{ target: "add", kind: "slow", ms: 800, count: 1 }]);
  const rs = await Promise.all([rotate(A, keys.admin1, name), rotate(B, keys.admin2, name)]);
  const show = rs.map((r) => `${r.status} ${r.text}`).join(" | ");
  for (const r of rs) assert.ok([200, 202].includes(r.status), show);
  assert.equal(rs[0].json.id, rs[1].json.id, `both admins see the one rotation: ${show}`);
  assert.equal(rs.filter((r) => r.json.busy === false).length, 1, `exactly one call ran it: ${show}`);
  const view = await waitDone(name, rs[0].json.id);
  await sleep(300);
  await mint.stop();
  await assertFinished(name, view, apiFrom, { identified: true });
});

test("4. the object unreachable: a location that never learnt the secrets answers a miss 503 credential_unavailable with Retry-After and serves KV's token; one that learnt them mints with them", async (t) => {
  const name = "default";
  // Its own fleet whose objects sit behind a switch (a pass-through object that forwards to the
  // real one until switched off): the brokers reach the object, then lose it.
  const sw = await startBrokerFleet(2, { ...fleetOpts, label: "locations-switch", objectSwitch: true, kvPersistDir: tempDir("ims-broker-kv-") });
  t.after(() => sw.stop());
  const [a, b] = [sw.brokerAt(0), sw.brokerAt(1)];
  const ask = (w, scopes) => v1Token(w, keys.user, { credential: name, scopes });

  // Location A mints through the object: it learns the credential's secrets, and the object
  // writes the token to KV.
  const known = freshScopes();
  const first = await ask(a, known);
  assert.equal(first.status, 200, first.text);
  await waitFor(async () => (await sw.kv.list()).keys.length > 0, { timeoutMs: 5000, what: "the token in KV" });

  await sw.setObjectReachable(false);
  t.after(() => sw.setObjectReachable(true).catch(() => {}));

  // Location B never asked the object: the token KV holds is still served...
  const fromKv = await ask(b, known);
  assert.equal(fromKv.status, 200, `B serves the token KV holds: ${fromKv.text}`);
  assert.equal(fromKv.json.access_token, first.json.access_token, "the very token A got");
  // ...and a miss has no secret to mint with: 503 credential_unavailable, with Retry-After.
  const callsBefore = (await fake.stats()).calls.length;
  const miss = await ask(b, freshScopes());
  expectError(miss, 503, "credential_unavailable", "a miss in B without the object");
  const retry = miss.headers.get("retry-after");
  assert.match(retry ?? "", /^[1-9][0-9]*$/, `Retry-After is a number of seconds: ${retry}`);
  assert.equal((await fake.stats()).calls.length, callsBefore, "B called IMS with nothing");

  // Location A learnt the secrets: its memory still serves the token, and a miss is minted with
  // the secrets it learnt (logged credential_object_unreachable, warn).
  const fromMemory = await ask(a, known);
  assert.equal(fromMemory.status, 200, fromMemory.text);
  assert.equal(fromMemory.json.access_token, first.json.access_token);
  const logFrom = sw.logs().length;
  const local = await ask(a, freshScopes());
  assert.equal(local.status, 200, `A mints a miss with the secrets it learnt: ${local.text}`);
  const calls = (await fake.stats()).calls.slice(callsBefore).filter((c) => c.client_id === creds[name].clientId);
  assert.deepEqual(calls.map((c) => c.outcome), ["ok"], "one IMS call, accepted");
  const line = await sw.waitForLog(/"credential_object_unreachable"/, { timeoutMs: 3000 });
  assert.match(line, /"level":"warn"/, line);
  assert.ok(sw.logs().slice(logFrom).some((l) => l.includes('"credential_object_unreachable"')), "logged for A's miss");

  // The object back: B mints a miss again.
  await sw.setObjectReachable(true);
  const back = await ask(b, freshScopes());
  assert.equal(back.status, 200, `B mints once the object is back: ${back.text}`);
});
