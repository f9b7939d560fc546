// generateAccessToken of ims-broker-core (installed from its tarball) against the one of
// @adobe/aio-lib-core-auth (pinned in tests/package/package.json): the same calls to both,
// the same answers, and this package's caching underneath.
//
// aio-lib-core-auth cannot be pointed at another IMS: it posts to the fixed hosts
// https://ims-na1.adobelogin.com (prod) and https://ims-na1-stg1.adobelogin.com (stage), at
// /ims/token/v2, with an org_id form field, through the global fetch. This test replaces the
// global fetch (which both libraries use) with one that sends those hosts' token calls to the
// fake Adobe's /ims/token/v3 instead, dropping org_id (the fake refuses unknown fields), and
// records which host and path each call was meant for.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

import { HERE, importPackage, rejection, startFakeAdobe } from "./support.mjs";

const aio = createRequire(`${HERE}/`)("@adobe/aio-lib-core-auth");
const CLIENT = "aio-client";
const SECRET = "aio-secret-0123456789";
const ORG = "1234ABCD@AdobeOrg";
const PARAMS = { clientId: CLIENT, clientSecret: SECRET, orgId: ORG, scopes: ["openid", "AdobeID"] };
const IMS_HOSTS = new Set(["ims-na1.adobelogin.com", "ims-na1-stg1.adobelogin.com"]);
let pkg;
let fake;
let realFetch;
let sent = []; // { host, path, orgId } of each IMS token call, as meant

before(async () => {
  pkg = await importPackage();
  fake = await startFakeAdobe({ clients: { [CLIENT]: SECRET } });
  realFetch = globalThis.fetch;
  globalThis.fetch = async (input, init = {}) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    if (!IMS_HOSTS.has(url.hostname)) return realFetch(input, init);
    const body = typeof init.body === "string" ? init.body : new TextDecoder().decode(init.body);
    const form = new URLSearchParams(body);
    sent.push({ host: url.hostname, path: url.pathname, orgId: form.get("org_id") });
    form.delete("org_id");
    return realFetch(fake.tokenUrl, { ...init, body: form.toString() });
  };
});
after(() => {
  globalThis.fetch = realFetch;
  return fake?.stop();
});
beforeEach(async () => {
  aio.invalidateCache();
  pkg.invalidateCache();
  sent = [];
  await fake.reset();
});

const calls = async () => (await fake.stats()).token_calls;
const claims = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());
const shape = (o) => Object.keys(o).sort().map((k) => `${k}:${typeof o[k]}`);

/** Asserts two answers of generateAccessToken are alike: keys, types, deterministic values. */
function assertSameAnswer(ours, theirs) {
  assert.deepEqual(shape(ours), shape(theirs));
  assert.deepEqual(shape(ours), ["access_token:string", "expires_in:number", "token_type:string"]);
  assert.equal(ours.token_type, theirs.token_type);
  // aio passes IMS's expires_in on (a fixed 86399 here); ours counts down to the expiry less the
  // skew (min(60 s, lifetime / 10)).
  assert.ok(Number.isInteger(ours.expires_in) && ours.expires_in <= theirs.expires_in && ours.expires_in >= theirs.expires_in - 62, `${ours.expires_in} vs ${theirs.expires_in}`);
  const [a, b] = [claims(ours.access_token), claims(theirs.access_token)];
  assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort());
  assert.equal(a.client_id, b.client_id);
  assert.deepEqual(a.scope.split(",").sort(), b.scope.split(",").sort());
}

test("the same call gives the same answer, then a cached one, from both packages", async () => {
  const theirs = await aio.generateAccessToken({ ...PARAMS });
  const ours = await pkg.generateAccessToken({ ...PARAMS });
  assertSameAnswer(ours, theirs);
  assert.deepEqual(sent.map((s) => [s.host, s.path, s.orgId]), [
    ["ims-na1.adobelogin.com", "/ims/token/v2", ORG],
    ["ims-na1.adobelogin.com", "/ims/token/v3", null],
  ]);
  // Cached by both: the same token again, no IMS call.
  assert.equal((await aio.generateAccessToken({ ...PARAMS })).access_token, theirs.access_token);
  const again = await pkg.generateAccessToken({ ...PARAMS, scopes: ["AdobeID", "openid"] });
  assert.equal(again.access_token, ours.access_token, "the same scope set in another order");
  assert.equal(await calls(), 2);
});

test("the same parameter spellings: snake_case, the include-ims-credentials inputs, imsEnv", async () => {
  const snake = { client_id: CLIENT, client_secret: SECRET, org_id: ORG, scopes: ["openid"] };
  assertSameAnswer(await pkg.generateAccessToken(snake), await aio.generateAccessToken(snake));
  const annotated = { __ims_oauth_s2s: { ...PARAMS, scopes: ["AdobeID"] }, __ims_env: "stage" };
  assertSameAnswer(await pkg.generateAccessToken(annotated), await aio.generateAccessToken(annotated));
  assertSameAnswer(await pkg.generateAccessToken({ ...PARAMS }, "stage"), await aio.generateAccessToken({ ...PARAMS }, "stage"));
  const [prod, stage] = ["ims-na1.adobelogin.com", "ims-na1-stg1.adobelogin.com"];
  assert.deepEqual(sent.map((s) => s.host), [prod, prod, stage, stage, stage, stage]);
});

test("the same calls fail in both; ours with an ImsError and a stable code", async () => {
  for (const [params, missing] of [
    [{ clientId: CLIENT }, "clientSecret, orgId"],
    [{ clientSecret: SECRET, orgId: ORG }, "clientId"],
    [{ clientId: CLIENT, clientSecret: SECRET }, "orgId"],
  ]) {
    const theirs = await rejection(() => aio.generateAccessToken(params));
    const ours = await rejection(() => pkg.generateAccessToken(params));
    assert.ok(theirs.message.includes(missing), theirs.message);
    assert.ok(ours.message.includes(missing), ours.message);
    assert.ok(ours instanceof pkg.ImsError);
    assert.equal(ours.code, "invalid_options");
  }
  for (const params of [null, "a string", { ...PARAMS, scopes: "openid" }]) {
    await rejection(() => aio.generateAccessToken(params));
    assert.equal((await rejection(() => pkg.generateAccessToken(params))).code, "invalid_options", JSON.stringify(params));
  }
  const wrong = { ...PARAMS, clientSecret: "wrong-secret" };
  const theirs = await rejection(() => aio.generateAccessToken(wrong));
  const ours = await rejection(() => pkg.generateAccessToken(wrong));
  assert.equal(theirs.sdkDetails.statusCode, 400);
  assert.equal(ours.code, "upstream_invalid_client");
  assert.equal(ours.upstreamStatus, theirs.sdkDetails.statusCode);
  assert.equal(typeof ours.debugId, "string");
  assert.ok(!ours.message.includes("wrong-secret"));
  assert.equal(await calls(), 2, "no call for malformed params");
});

test("ours keeps the token for its lifetime with one IMS call for concurrent callers; invalidateCache drops it", async () => {
  await fake.config({ delay_ms: 200 });
  const all = await Promise.all(Array.from({ length: 20 }, () => pkg.generateAccessToken({ ...PARAMS })));
  assert.equal(new Set(all.map((t) => t.access_token)).size, 1);
  assert.equal(await calls(), 1, "single flight");
  await fake.reset();
  // aio-lib-core-auth has no single flight: each concurrent call of a cold cache calls IMS.
  await Promise.all(Array.from({ length: 3 }, () => aio.generateAccessToken({ ...PARAMS })));
  assert.equal(await calls(), 3);
  await fake.reset();
  // A 2 s token: aio would serve it for 5 minutes, past its expiry; ours mints again once it
  // is no longer usable (expires_in counts down to that).
  await fake.config({ expires_in: 2 });
  pkg.invalidateCache();
  const short = await pkg.generateAccessToken({ ...PARAMS });
  assert.ok(short.expires_in <= 2);
  await new Promise((r) => setTimeout(r, 1_900));
  const next = await pkg.generateAccessToken({ ...PARAMS });
  assert.notEqual(next.access_token, short.access_token);
  assert.equal(await calls(), 2);
  pkg.invalidateCache();
  assert.notEqual((await pkg.generateAccessToken({ ...PARAMS })).access_token, next.access_token);
  assert.equal(await calls(), 3);
});
