// A caller reports a token an Adobe API refused (`"refused"`: its SHA-256, hex, in the body of
// POST /v1/token). The broker stops serving that token and mints a new one, at most once a
// minute per scope set, for every isolate together (the credential's object keeps the limit);
// a report of a token it no longer serves changes nothing; a malformed report is a 400 that
// changes nothing.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, test } from "node:test";

import { startBrokerFleet } from "./harness.mjs";
import { callerKey, expectError, expectToken, randomSecret, rnd, startFake, tokenCalls, v1Token } from "./support.mjs";

const sha256 = (token) => createHash("sha256").update(token).digest("hex");

// Two brokers in one Miniflare: two isolates (own memory, own limit) that share KV and ONE
// credential object, as two locations do on Cloudflare.
let fake;
let fleet;
const env = { workers: [], keys: {} };
before(async () => {
  const clientId = `it-refused-${rnd()}`;
  const secret = randomSecret("cs");
  fake = await startFake({ clients: { [clientId]: secret } });
  const k = callerKey();
  env.keys.all = k.key;
  fleet = await startBrokerFleet(2, {
    fake,
    label: "refused",
    vars: { CLIENT_ID: clientId, SCOPES: "openid,AdobeID" },
    secrets: {
      CLIENT_SECRET: secret,
      CALLER_KEYS: JSON.stringify({ all: { sha256: k.sha256, credentials: "*", scopes: "*" } }),
    },
  });
  env.workers = [0, 1].map((i) => ({ fetch: (p, init) => fleet.fetchAt(i, p, init) }));
  env.fake = fake;
});
after(async () => {
  await fleet?.stop();
  await fake?.stop();
});

test("a refused token is replaced once; a stale report, or a second one within the minute, mints nothing", async () => {
  const [a, b] = env.workers;
  const key = env.keys.all;
  await env.fake.reset();
  const first = expectToken(await v1Token(a, key)).access_token;
  assert.equal(await tokenCalls(env.fake), 1);

  // The caller reports it: a new token, one IMS call.
  const second = expectToken(await v1Token(a, key, { refused: sha256(first) })).access_token;
  assert.notEqual(second, first);
  assert.equal(await tokenCalls(env.fake), 2);
  // Every isolate serves the new one: the other isolate (KV, the object) never serves the old.
  assert.equal(expectToken(await v1Token(b, key)).access_token, second);
  assert.equal(expectToken(await v1Token(a, key)).access_token, second);

  // A report of the old token again (another caller that kept it): idempotent, no IMS call.
  assert.equal(expectToken(await v1Token(b, key, { refused: sha256(first) })).access_token, second);
  assert.equal(expectToken(await v1Token(a, key, { refused: sha256(first) })).access_token, second);
  assert.equal(await tokenCalls(env.fake), 2);

  // The new token reported within the minute, through either isolate: served as it is.
  assert.equal(expectToken(await v1Token(a, key, { refused: sha256(second) })).access_token, second);
  assert.equal(expectToken(await v1Token(b, key, { refused: sha256(second) })).access_token, second);
  assert.equal(await tokenCalls(env.fake), 2, "at most one replacement a minute per scope set");
});

test("a malformed report is a 400 that calls nothing", async () => {
  const [a] = env.workers;
  await env.fake.reset();
  for (const refused of ["abc", "x".repeat(64), 5, ["a"]]) {
    const r = await v1Token(a, env.keys.all, { refused });
    expectError(r, 400, "invalid_request", JSON.stringify(refused));
    assert.match(r.json.error_description, /"refused" must be the SHA-256 of the refused access token/);
  }
  assert.equal(await tokenCalls(env.fake), 0);
});
