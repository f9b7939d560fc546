// Trust boundaries: no caller gets more than its credential allows.
//   1. The scope-ceiling matrix: {plain caller, admin} × {a subset of the credential's scopes, a
//      scope outside them, the I/O Management scopes} on /v1/token and /oauth/token → 200 / 403
//      or 400 invalid_scope / 403 or 400 invalid_scope. Every refusal costs 0 IMS calls (counted
//      at the fake) and 0 KV calls (counted by the KV wrapper).
//   2. The broker's own management token is never handed to a caller: after the broker minted it
//      (listing secrets), a caller asking for exactly its scope list is refused; its cache entry
//      is in a namespace of its own and `/tokens` marks it as the broker's.
//   3. A caller that may not use a credential cannot tell an unknown name from a forbidden one.
//   4. Roles: every operator endpoint × {viewer, admin, plain caller} → the right 200/403; a
//      viewer gets no token and changes nothing at Adobe.
//   5. Upstream URLs: https, or plain http to a loopback host only; anything else is 500
//      `misconfigured` naming the setting (to an admin), and nothing is sent.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import {
  adminCall,
  deleteSecret,
  expectError,
  expectToken,
  fakeAddSecret,
  jsonLogs,
  listSecrets,
  oauthToken,
  readResponse,
  rotate,
  rotationEnv,
  rotationStatus,
  setup,
  tokenCalls,
  v1Token,
} from "./support.mjs";

/** The scopes Adobe requires for the I/O Management API (what the broker mints for itself). */
const MANAGEMENT = ["AdobeID", "openid", "read_organizations", "additional_info.projectedProductContext", "additional_info.roles", "adobeio_api", "read_client_secret", "manage_client_secrets"];

let env;
let w;
before(async () => {
  // The credential is configured with every management scope, as a careless operator might:
  // the two that touch secrets must still never reach a caller.
  env = await rotationEnv(null, {
    label: "trust",
    vars: { ROTATION_GRACE_S: "0" },
    credentials: { default: { scopes: MANAGEMENT.join(",") }, other: { scopes: "openid,AdobeID" } },
    callers: {
      plain: { credentials: "*", scopes: "*" },
      admin: { credentials: "*", scopes: "*", admin: true },
      viewer: { credentials: "*", scopes: "*", role: "viewer" },
      limited: { credentials: ["default"], scopes: "*" },
    },
  });
  w = await env.broker({ label: "trust-1", kvWrapper: true });
});
after(() => env?.stop());

/** KV calls made through the broker's binding so far (reads, writes, lists, deletes). */
async function kvCalls() {
  const c = await w.kvFaults.counts();
  return c.reads + c.writes + c.lists + c.deletes;
}

test("1. the scope ceiling: {plain, admin} × {subset, outside, management} on /v1/token and /oauth/token", async () => {
  const { fake, keys } = env;
  const cases = [
    ["a subset of the configured scopes", ["openid", "AdobeID"], 200],
    ["a scope outside the configured scopes", ["openid", "not_configured"], 403],
    ["read_client_secret", ["openid", "read_client_secret"], 403],
    ["manage_client_secrets", ["manage_client_secrets"], 403],
    ["the whole management scope list", MANAGEMENT, 403],
  ];
  const wrong = [];
  for (const caller of ["plain", "admin"]) {
    for (const [what, scopes, status] of cases) {
      const calls0 = await tokenCalls(fake);
      const kv0 = await kvCalls();
      const v1 = await v1Token(w, keys[caller], { scopes });
      const oauth = await oauthToken(w, { grant_type: "client_credentials", scope: scopes.join(" ") }, { basic: [caller, keys[caller]] });
      const where = `${caller}, ${what}`;
      if (status === 200) {
        if (v1.status !== 200) wrong.push(`${where}, /v1/token: ${v1.status} ${v1.text}`);
        if (oauth.status !== 200) wrong.push(`${where}, /oauth/token: ${oauth.status} ${oauth.text}`);
        continue;
      }
      try {
        expectError(v1, 403, "forbidden", `${where}, /v1/token`);
        assert.ok(scopes.some((s) => v1.json.error_description.includes(`"${s}"`)), `names the scope: ${v1.text}`);
        assert.equal(oauth.status, 400, `${where}, /oauth/token: ${oauth.text}`);
        assert.equal(oauth.json.error, "invalid_scope", `${where}, /oauth/token: ${oauth.text}`);
        assert.ok(scopes.some((s) => oauth.json.error_description.includes(`"${s}"`)), `names the scope: ${oauth.text}`);
      } catch (e) {
        wrong.push(e.message);
      }
      if ((await tokenCalls(fake)) !== calls0) wrong.push(`${where}: the refusal called IMS`);
      if ((await kvCalls()) !== kv0) wrong.push(`${where}: the refusal read or wrote KV`);
    }
  }
  assert.deepEqual(wrong, []);
  // A caller's default is the configured scopes without the broker's own two.
  const def = expectToken(await v1Token(w, keys.plain, {}), "the default scopes");
  assert.equal(def.scope, MANAGEMENT.filter((s) => !s.endsWith("client_secret") && !s.endsWith("client_secrets")).sort().join(","));
});

test("2. after the broker minted its management token, a caller asking for the same scopes does not get it", async () => {
  const { fake, keys } = env;
  const list = await listSecrets(w, keys.admin);
  assert.equal(list.status, 200, list.text);
  const mgmtCall = (await fake.stats()).calls.find((c) => c.scope === [...MANAGEMENT].sort().join(","));
  assert.ok(mgmtCall, "the broker minted the management scopes for itself");
  const calls0 = await tokenCalls(fake);
  for (const key of [keys.admin, keys.plain]) {
    expectError(await v1Token(w, key, { scopes: MANAGEMENT }), 403, "forbidden", "the management scope list");
    expectError(await v1Token(w, key, { scopes: MANAGEMENT.join(",") }), 403, "forbidden", "as a comma string");
  }
  assert.equal(await tokenCalls(fake), calls0, "no IMS call");
  // Its cache entry: in the broker's own namespace, marked as such.
  const tokens = await adminCall(w, keys.admin, "GET", "/v1/credentials/default/tokens");
  assert.equal(tokens.status, 200, tokens.text);
  const mine = tokens.json.entries.filter((e) => e.use === "broker");
  assert.equal(mine.length, 1, tokens.text);
  assert.equal(mine[0].scope, [...MANAGEMENT].sort().join(","));
  assert.match(mine[0].key, /^token:v1:default:[^:]+:broker:[0-9a-f]+$/);
  assert.ok(tokens.json.entries.filter((e) => e.use === "callers").every((e) => !e.scope.includes("client_secret")), "no caller entry holds a secret-management scope");
});

test("3. a caller that may not use a credential gets the same answer for an unknown and an existing name", async () => {
  const { fake, keys } = env;
  const calls0 = await tokenCalls(fake);
  const kv0 = await kvCalls();
  const known = await v1Token(w, keys.limited, { credential: "other", scopes: ["openid"] });
  const unknown = await v1Token(w, keys.limited, { credential: "nope", scopes: ["openid"] });
  expectError(known, 403, "forbidden", "an existing credential it may not use");
  expectError(unknown, 403, "forbidden", "an unknown credential");
  assert.equal(known.json.error_description.replace('"other"', "NAME"), unknown.json.error_description.replace('"nope"', "NAME"));
  const oKnown = await oauthToken(w, { grant_type: "client_credentials", credential: "other" }, { basic: ["limited", keys.limited] });
  const oUnknown = await oauthToken(w, { grant_type: "client_credentials", credential: "nope" }, { basic: ["limited", keys.limited] });
  assert.deepEqual([oKnown.status, oKnown.json.error], [oUnknown.status, oUnknown.json.error]);
  assert.equal(oKnown.json.error, "unauthorized_client");
  // A caller that may use every name is told the name does not exist.
  expectError(await v1Token(w, keys.plain, { credential: "nope" }), 404, "unknown_credential");
  assert.equal(await tokenCalls(fake), calls0);
  assert.equal(await kvCalls(), kv0, "no KV call for any refusal");
});

test("4. roles: operator endpoints × {viewer, admin, plain}; a viewer gets no token and changes nothing", async () => {
  const { fake, keys, creds } = env;
  // A rotation exists (for GET …/rotation) and a spare secret to delete (by the admin, last).
  const rot = await rotate(w, keys.admin);
  assert.ok([200, 202].includes(rot.status), rot.text);
  const ops = [
    ["GET /v1/credentials", (k) => adminCall(w, k, "GET", "/v1/credentials"), [200, 200, 403]],
    ["GET tokens", (k) => adminCall(w, k, "GET", "/v1/credentials/default/tokens"), [200, 200, 403]],
    ["GET secrets", (k) => listSecrets(w, k), [200, 200, 403]],
    ["GET rotation", (k) => rotationStatus(w, k), [200, 200, 403]],
    ["GET metrics", (k) => adminCall(w, k, "GET", "/v1/metrics"), [200, 200, 403]],
    ["GET metrics (prometheus)", (k) => adminCall(w, k, "GET", "/v1/metrics?format=prometheus"), [200, 200, 403]],
  ];
  const wrong = [];
  for (const [what, call, [viewer, admin, plain]] of ops) {
    for (const [who, expected] of [["viewer", viewer], ["admin", admin], ["plain", plain]]) {
      const r = await call(keys[who]);
      if (r.status !== expected) wrong.push(`${what} as ${who}: ${r.status} ${r.text.slice(0, 200)}`);
      if (expected === 403 && r.json?.error !== "forbidden") wrong.push(`${what} as ${who}: ${r.text.slice(0, 200)}`);
    }
  }
  const creds0 = await adminCall(w, keys.viewer, "GET", "/v1/credentials");
  assert.deepEqual(creds0.json.caller, { id: "viewer", role: "viewer" });
  assert.deepEqual((await adminCall(w, keys.admin, "GET", "/v1/credentials")).json.caller, { id: "admin", role: "admin" });

  // Changes: only the admin.
  const spare = await fakeAddSecret(fake, creds.default.clientId);
  const api0 = (await fake.stats()).api_calls;
  for (const who of ["viewer", "plain"]) {
    const r = await rotate(w, keys[who]);
    if (r.status !== 403 || r.json.error !== "forbidden") wrong.push(`rotate as ${who}: ${r.status} ${r.text}`);
    const d = await deleteSecret(w, keys[who], "default", spare.uuid);
    if (d.status !== 403 || d.json.error !== "forbidden") wrong.push(`delete as ${who}: ${d.status} ${d.text}`);
  }
  const api1 = (await fake.stats()).api_calls;
  assert.deepEqual(api1, api0, "refused changes make no I/O Management call");
  const del = await deleteSecret(w, keys.admin, "default", spare.uuid);
  if (del.status !== 204) wrong.push(`delete as admin: ${del.status} ${del.text}`);

  // Tokens: the viewer gets none.
  const calls0 = await tokenCalls(fake);
  const vt = await v1Token(w, keys.viewer, { scopes: ["openid"] });
  if (vt.status !== 403 || !/read-only/.test(vt.json?.error_description ?? "")) wrong.push(`token as viewer: ${vt.status} ${vt.text}`);
  const vo = await oauthToken(w, { grant_type: "client_credentials", scope: "openid" }, { basic: ["viewer", keys.viewer] });
  if (vo.status !== 400 || vo.json.error !== "unauthorized_client") wrong.push(`oauth token as viewer: ${vo.status} ${vo.text}`);
  assert.equal(await tokenCalls(fake), calls0, "no IMS call for the viewer");
  expectToken(await v1Token(w, keys.admin, { scopes: ["openid"] }), "the admin");
  expectToken(await v1Token(w, keys.plain, { scopes: ["openid"] }), "the plain caller");
  assert.deepEqual(wrong, []);
});

test("5. upstream URLs: https, or http to a loopback host only", async (t) => {
  const callers = { ops: { credentials: "*", scopes: "*", admin: true }, svc: { credentials: "*", scopes: "*" } };
  for (const [setting, value] of [
    ["IMS_TOKEN_URL", "http://ims-na1.adobelogin.com/ims/token/v3"],
    ["IMS_TOKEN_URL", "http://10.0.0.1:8080/ims/token/v3"],
    ["IMS_TOKEN_URL", "http://localhost.example.com/ims/token/v3"],
    ["IO_API_BASE_URL", "http://api.adobe.io"],
    ["IMS_TOKEN_URL", "ftp://127.0.0.1/x"],
  ]) {
    const e = await setup(t, { label: `url-${setting}`, vars: { [setting]: value }, callers });
    const admin = await v1Token(e.w, e.keys.ops);
    expectError(admin, 500, "misconfigured", `${setting}=${value}`);
    assert.match(admin.json.error_description, new RegExp(`${setting} is invalid`), admin.text);
    assert.ok(!admin.text.includes(value), "the value is not quoted");
    const plain = await v1Token(e.w, e.keys.svc);
    expectError(plain, 500, "misconfigured", `${setting}=${value}, plain caller`);
    assert.doesNotMatch(plain.json.error_description, new RegExp(setting));
    assert.equal(await tokenCalls(e.fake), 0, "nothing was sent");
    assert.ok(jsonLogs(e.w).some((l) => (l.detail ?? "").includes(`${setting} is invalid`)), "the log names the setting");
    await e.stop();
  }
  // Loopback over plain http is what the tests use: 127.0.0.1 (the fake) and [::1]/localhost
  // are accepted as settings.
  for (const value of ["http://[::1]:9/ims/token/v3", "http://localhost:9/ims/token/v3"]) {
    const e = await setup(t, { label: "url-loopback", vars: { IMS_TOKEN_URL: value }, callers });
    const r = await readResponse(await e.w.fetch("/v1/credentials", { headers: { authorization: `Bearer ${e.keys.ops}` } }));
    assert.equal(r.status, 200, `${value} is accepted: ${r.text}`);
    await e.stop();
  }
  // The harness points IMS_TOKEN_URL at the fake's http://127.0.0.1 address.
  const ok = await setup(t, { label: "url-fake", callers });
  expectToken(await v1Token(ok.w, ok.keys.svc), "http://127.0.0.1 (the fake)");
});
