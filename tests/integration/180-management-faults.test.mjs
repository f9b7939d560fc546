// With faults injected in the fake's I/O Management API instead of the
// Worker's test hook: the error is recorded in the rotation (202, `last_error` at its step, no
// secret in it), tokens keep being minted, and the next rotate call resumes the same rotation to
// the end without repeating an effect:
//   - list answers 500: nothing happened; the resume runs the whole rotation;
//   - add answers 500 (not applied): the resume adds once;
//     (for these two, a Worker that retries a 5xx at once may also finish in the first call);
//   - add_then_drop: Adobe created the secret but the answer (its only plaintext) was lost: the
//     orphan is deleted on resume (`deleted_unused`), then a second add — 2 applied adds;
//   - delete_then_drop on retire: the old secret is gone but the Worker did not hear it: the
//     resume records the retire without a second delete.
// Every scenario ends with only the new secret at Adobe, never more than 2 at once.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import {
  assertLogsClean,
  assertRotationView,
  eventCounts,
  expectToken,
  fakeClientSecrets,
  rotate,
  rotationEnv,
  rotationStatus,
  uniqueScopes,
  v1Token,
} from "./support.mjs";

const SCENARIOS = [
  { cred: "list500", fault: { target: "list", kind: "status500" }, step: "create", adds: 1, applied: 1, deletes: 1, retryable: true },
  { cred: "add500", fault: { target: "add", kind: "status500" }, step: "create", adds: 2, applied: 1, deletes: 1, retryable: true },
  { cred: "add-drop", fault: { target: "add", kind: "add_then_drop" }, step: "create", adds: 2, applied: 2, deletes: 2, orphan: true },
  { cred: "del-drop", fault: { target: "delete", kind: "delete_then_drop" }, step: "retire", adds: 1, applied: 1, deletes: 1 },
];

let env;
let w;
before(async () => {
  env = await rotationEnv(null, {
    label: "mgmt-faults",
    credentials: Object.fromEntries(SCENARIOS.map((s) => [s.cred, {}])),
    vars: { ROTATION_GRACE_S: "0", IMS_TIMEOUT_MS: "3000" },
  });
  w = await env.broker();
});
after(() => env?.stop());

async function mintFresh(name, what) {
  const { fake, keys, creds } = env;
  const from = (await fake.stats()).calls.length;
  expectToken(await v1Token(w, keys.user, { credential: name, scopes: uniqueScopes(name) }), what);
  return (await fake.stats()).calls.slice(from).filter((c) => c.client_id === creds[name].clientId && c.outcome === "ok").at(-1);
}

for (const sc of SCENARIOS) {
  test(`3f. ${sc.fault.target} fault ${sc.fault.kind}: error recorded at ${sc.step}, tokens still served, the resume finishes once`, async () => {
    const { fake, keys, creds } = env;
    const c = creds[sc.cred];
    const [boot] = (await fakeClientSecrets(fake, c.clientId)).secrets;
    const mark = (await fake.stats()).api_log.length;
    await fake.faults([{ ...sc.fault, count: 1 }]);

    const r1 = await rotate(w, keys.admin, sc.cred);
    let r2 = r1;
    if (sc.retryable && r1.status === 200) {
      // The Worker retried through the single 5xx (allowed: nothing had taken effect).
      assertRotationView(r1.json, "retried through the fault");
    } else {
      assert.equal(r1.status, 202, r1.text);
      assertRotationView(r1.json, "after the fault");
      assert.equal(r1.json.busy, false);
      assert.equal(r1.json.step, sc.step, r1.text);
      assert.ok(r1.json.last_error, `the error is recorded: ${r1.text}`);
      assert.equal(r1.json.last_error.step, sc.step);
      for (const v of (await fake.secrets()).secrets) assert.ok(!r1.text.includes(v), "no secret value in the rotation view");
      const st = await rotationStatus(w, keys.admin, sc.cred);
      assert.deepEqual(st.json.last_error, r1.json.last_error);
      assert.ok((await fakeClientSecrets(fake, c.clientId)).max_secrets_seen <= 2);

      await mintFresh(sc.cred, "between the fault and the resume");

      r2 = await rotate(w, keys.admin, sc.cred);
      assert.equal(r2.status, 200, r2.text);
      assert.equal(r2.json.id, r1.json.id, "the same rotation");
    }
    assert.equal(r2.json.step, "done");
    assert.equal(r2.json.last_error, null, "cleared by progress");
    const expected = { identified: 1, added: 1, tested: 1, promoted: 1, retired: 1 };
    if (sc.orphan) expected.deleted_unused = 1;
    assert.deepEqual(eventCounts(r2.json), expected, JSON.stringify(r2.json.events));
    const newUuid = r2.json.events.find((e) => e.what === "promoted").uuid;
    assert.equal(r2.json.events.find((e) => e.what === "retired").uuid, boot.uuid);

    const log = (await fake.stats()).api_log.slice(mark);
    const adds = log.filter((e) => e.op === "add");
    const deletes = log.filter((e) => e.op === "delete");
    assert.equal(adds.length, sc.adds, JSON.stringify(adds));
    assert.equal(adds.filter((e) => e.applied).length, sc.applied, JSON.stringify(adds));
    assert.equal(deletes.length, sc.deletes, JSON.stringify(deletes));
    const deleted = deletes.filter((e) => e.applied).map((e) => e.uuid);
    assert.equal(new Set(deleted).size, deleted.length, "no uuid deleted twice");
    if (sc.orphan) {
      const orphan = adds.find((e) => e.applied && e.uuid !== newUuid).uuid;
      assert.equal(r2.json.events.find((e) => e.what === "deleted_unused").uuid, orphan, "the lost add's secret was deleted");
    }
    const held = await fakeClientSecrets(fake, c.clientId);
    assert.deepEqual(held.secrets.map((s) => s.uuid), [newUuid]);
    assert.ok(held.max_secrets_seen <= 2, `max_secrets_seen ${held.max_secrets_seen}`);
    assert.equal((await mintFresh(sc.cred, "after the resume")).secret_uuid, newUuid);
  });
}

test("3f.x (test 8, this file) the Worker logs hold no secret value and no token", async () => {
  await assertLogsClean(env.fake, env.workers, "management-faults");
});
