// Concurrent rotate calls → one rotation. Two broker isolates (separate Workers in one workerd,
// like two edge locations, sharing KV and the credential's one object) each get a rotate call at
// the same instant, then one more each while the run is inside its add, which the fake slows
// down (fault `slow` on `add`). The object runs one rotation run at a time: exactly one call
// runs the rotation; the others answer `busy: true` (202) and do nothing; Adobe sees one add,
// never more than 2 secrets, and the rotation's events list each step once.
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
  sleep,
  uniqueScopes,
  v1Token,
} from "./support.mjs";

let env;
let a;
let b;
before(async () => {
  env = await rotationEnv(null, { label: "concurrent", vars: { ROTATION_GRACE_S: "0" } });
  [a, b] = await env.fleet(2, { label: "concurrent" });
  // Warm both isolates up (Wasm compile, config parse).
  for (const w of [a, b]) expectToken(await v1Token(w, env.keys.user, {}), "warm-up");
});
after(() => env?.stop());

test("4. concurrent rotate calls on two brokers → one rotation, one add; the others answer busy and do nothing", async () => {
  const { fake, keys, creds } = env;
  const d = creds.default;
  const [boot] = (await fakeClientSecrets(fake, d.clientId)).secrets;
  const api0 = (await fake.stats()).api_calls;
  await fake.faults([{ target: "add", kind: "slow", ms: 1500, count: 1 }]);

  // Two calls at the same instant, one per isolate: both reach the one object.
  const first = [rotate(a, keys.admin), rotate(b, keys.admin)];
  // Two more while the run is inside its (slow) add: the run is at work, the rotation recorded.
  await sleep(400);
  const during = await rotationStatus(a, keys.admin);
  const late = await Promise.all([rotate(a, keys.admin), rotate(b, keys.admin)]);
  const racing = await Promise.all(first);

  const show = (rs) => rs.map((r) => `${r.status} ${r.text}`).join(" | ");
  const runners = racing.filter((r) => r.json?.busy === false);
  assert.equal(runners.length, 1, `exactly one of the two simultaneous calls runs the rotation: ${show(racing)}`);
  const win = runners[0];
  assert.equal(win.status, 200, win.text);
  assertRotationView(win.json, "winner");
  assert.equal(win.json.step, "done");
  const loser = racing.find((r) => r !== win);
  assert.equal(loser.status, 202, `the other simultaneous call answers 202 busy: ${loser.text}`);
  assert.equal(loser.json.busy, true, loser.text);
  if (loser.json.id !== undefined && loser.json.id !== null) assert.equal(loser.json.id, win.json.id, loser.text);

  // While the rotation ran: it was visible in progress, and the late calls were busy.
  assert.equal(during.status, 200, during.text);
  assert.equal(during.json.id, win.json.id);
  assert.equal(during.json.in_progress, true, during.text);
  for (const r of late) {
    assert.equal(r.status, 202, `a call during the rotation answers 202 busy: ${r.text}`);
    assert.equal(r.json.busy, true, r.text);
    assertRotationView(r.json, "busy answer");
    assert.equal(r.json.id, win.json.id, `a busy answer shows the running rotation: ${r.text}`);
    assert.equal(r.json.in_progress, true, r.text);
  }

  const counts = eventCounts(win.json);
  assert.deepEqual(counts, { identified: 1, added: 1, tested: 1, promoted: 1, retired: 1 }, JSON.stringify(win.json.events));
  const api1 = (await fake.stats()).api_calls;
  assert.equal(api1.add - api0.add, 1, "one add at Adobe");
  assert.equal(api1.delete - api0.delete, 1, "one delete (the retire)");
  const held = await fakeClientSecrets(fake, d.clientId);
  const newUuid = win.json.events.find((e) => e.what === "added").uuid;
  assert.deepEqual(held.secrets.map((s) => s.uuid), [newUuid]);
  assert.ok(!held.secrets.some((s) => s.uuid === boot.uuid));
  assert.ok(held.max_secrets_seen <= 2, `max_secrets_seen ${held.max_secrets_seen}`);

  // Both isolates agree on the one rotation (they read it from the object); the winner mints
  // with the new secret.
  for (const w of [a, b]) {
    const st = await rotationStatus(w, keys.admin);
    assert.equal(st.json.id, win.json.id);
  }
  const winner = racing[0] === win ? a : b;
  const from = (await fake.stats()).calls.length;
  expectToken(await v1Token(winner, keys.user, { scopes: uniqueScopes("conc") }), "mint after the rotation");
  assert.equal((await fake.stats()).calls.slice(from).at(-1).secret_uuid, newUuid);
});

test("4.1 the Worker logs hold no secret value and no token", async () => {
  await assertLogsClean(env.fake, env.workers, "concurrent");
});
