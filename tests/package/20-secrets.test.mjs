// ims-broker-core's Adobe secrets operations (I/O Management API) and the rotation state
// machine, installed from the tarball, against the fake Adobe.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import util from "node:util";

import { importPackage, rejection, startFakeAdobe } from "./support.mjs";

const CLIENT = "rot-client";
const SECRET = "rot-secret-initial";
const TARGET = { orgId: "4242", credentialId: "77" };
let pkg;
let fake;

before(async () => {
  pkg = await importPackage();
  fake = await startFakeAdobe({ clients: { [CLIENT]: SECRET }, args: ["--credential", `${TARGET.orgId}:${TARGET.credentialId}:${CLIENT}`] });
});
after(() => fake?.stop());

const tokens = (secret) => new pkg.TokenClient({ tokenUrl: fake.tokenUrl, clientId: CLIENT, clientSecret: secret });

test("list, add, delete with a management token from the same cache", async () => {
  const c = tokens(SECRET);
  const s = c.secrets({ ...TARGET, baseUrl: fake.url });
  const before = await s.list();
  assert.equal(before.length, 1);
  assert.match(before[0].uuid, /^[0-9a-f]{32}$/);
  assert.equal(typeof before[0].createdAt, "number");
  assert.equal(typeof before[0].lastUsedAt, "number", "the management token used it");

  const added = await s.add();
  assert.match(added.uuid, /^[0-9a-f]{32}$/);
  const value = added.clientSecret.reveal();
  assert.match(value, /^p8e-/);
  for (const shown of [util.inspect(added), JSON.stringify(added), String(added.clientSecret)]) {
    assert.ok(!shown.includes(value), shown);
  }
  assert.equal((await s.list()).length, 2);
  assert.equal((await tokens(added.clientSecret).getToken("openid")).source, "miss", "the new secret works");

  const full = await rejection(() => s.add());
  assert.equal(full.code, "upstream_management_error");
  assert.equal(full.upstreamStatus, 400);
  assert.equal(full.adobeCode, "400024");
  assert.match(full.debugId, /\S/);

  await s.delete(added.uuid);
  await s.delete(added.uuid); // already gone: still fine
  assert.deepEqual((await s.list()).map((x) => x.uuid), [before[0].uuid]);
  assert.equal((await rejection(() => tokens(added.clientSecret).getToken("openid"))).code, "upstream_invalid_client");

  const stats = await fake.stats();
  assert.equal(stats.token_calls, 3, "one management token (cached for every call) + the new and the deleted secret's tries");

  await fake.faults([{ target: "list", kind: "status503", count: 1 }]);
  const e = await rejection(() => s.list());
  assert.deepEqual([e.code, e.upstreamStatus, e.status], ["upstream_management_error", 503, 502]);
  const missing = await rejection(() => c.secrets({ orgId: "1", credentialId: "2", baseUrl: fake.url }).list());
  assert.equal(missing.upstreamStatus, 404);
  assert.equal((await rejection(() => c.secrets({ orgId: "1" }))).code, "invalid_options");
  const oauth = new pkg.TokenClient({ protocol: "oauth2", tokenUrl: fake.tokenUrl, clientId: CLIENT, clientSecret: SECRET });
  assert.equal((await rejection(() => oauth.secrets(TARGET))).code, "invalid_options");
});

test("a full rotation driven by RotationState: identify, add, test, promote, retire", async () => {
  await fake.reset();
  const vault = new Map(); // uuid -> Secret (a real caller keeps these sealed)
  let current = new pkg.Secret(SECRET);
  const admin = () => tokens(current).secrets({ ...TARGET, baseUrl: fake.url });
  const state = new pkg.RotationState();
  assert.equal(state.rotating, false);
  assert.equal(state.start("rot-1", Date.now()), true);
  assert.equal(state.start("rot-2", Date.now()), false, "one rotation at a time");

  const seen = [];
  for (let i = 0; i < 20; i++) {
    const saved = pkg.RotationState.fromJSON(JSON.parse(JSON.stringify(state.toJSON())));
    assert.equal(saved.serialize(), state.serialize(), "the record round-trips");
    const action = state.plan(await admin().list(), Date.now());
    seen.push(action.kind);
    if (action.kind === "done") break;
    const now = Date.now();
    switch (action.kind) {
      case "identify":
        state.identified(action.uuid, now);
        vault.set(action.uuid, current);
        break;
      case "add": {
        state.adding(now);
        const added = await admin().add();
        vault.set(added.uuid, added.clientSecret);
        state.added(added.uuid, `vault:${added.uuid}`, added.createdAt, Date.now());
        break;
      }
      case "test":
        await tokens(vault.get(state.pendingUuid)).getToken("openid");
        state.tested(Date.now());
        break;
      case "promote":
        state.promote(Date.now(), 0);
        current = vault.get(state.activeUuid);
        break;
      case "retire":
        await admin().delete(action.uuid);
        state.retired(Date.now());
        break;
      default:
        assert.fail(`unexpected action ${JSON.stringify(action)}`);
    }
  }
  assert.deepEqual(seen, ["identify", "add", "test", "promote", "retire", "done"]);
  assert.equal(state.rotating, false);
  assert.equal(state.step, "done");
  const left = await admin().list();
  assert.deepEqual(left.map((s) => s.uuid), [state.activeUuid]);
  assert.equal((await rejection(() => tokens(SECRET).getToken("openid"))).code, "upstream_invalid_client", "the old secret is gone");
  const record = state.toJSON();
  assert.deepEqual(record.rotation.events.map((e) => e.what), ["identified", "added", "tested", "promoted", "retired"]);
  assert.ok(!JSON.stringify(record).includes("p8e-"), "no plaintext in the record");

  assert.equal((await rejection(() => new pkg.RotationState().plan([], 0))).code, "no_rotation");
  assert.equal(pkg.identifyByUsage([{ uuid: "a", createdAt: 0, lastUsedAt: 10 }, { uuid: "b", createdAt: 0, lastUsedAt: null }], 5), "a");
});
