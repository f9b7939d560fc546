// The example caller Worker (examples/caller-worker) gets a token from a running broker both
// ways (a Service Binding named BROKER, and plain fetch() to BROKER_URL) and calls the fake's
// protected Adobe API (GET /api/v1/profile) with it and the broker's client_id as x-api-key. It
// keeps the token until the broker's expires_in runs out, and on the API's 401 asks the broker
// once more and retries once. It never returns the token itself, and passes the broker's errors
// through.
//
// Broker requests are counted from the broker's own log (one line per request: the tests run it
// with LOG_REQUESTS=all), IMS calls and API calls from the fake's stats.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { startCallerExample, startWithCaller } from "./harness.mjs";
import { callerKey, randomSecret, startFake, tokenCalls } from "./support.mjs";

const SCOPES = "openid,AdobeID";
const clientId = "it-caller-example";
let fake, broker, byUrl, badKeyCaller, forbiddenScopeCaller;
const stops = [];
let key;

const apiUrl = (f) => `${f.url}/api/v1/profile`;

/** A fake with the example's client, and a broker with the example bound to it. */
async function startBrokerWithExample(label) {
  const secret = randomSecret("cs");
  const f = await startFake({ clients: { [clientId]: secret } });
  stops.push(() => f.stop());
  const k = callerKey();
  const callers = { "caller-example": { sha256: k.sha256, credentials: ["default"], scopes: ["openid", "AdobeID"], admin: false } };
  const b = await startWithCaller({
    fake: f,
    label,
    vars: { CLIENT_ID: clientId, SCOPES },
    secrets: { CLIENT_SECRET: secret, CALLER_KEYS: JSON.stringify(callers) },
    brokerKey: k.key,
    callerVars: { BROKER_SCOPES: SCOPES, ADOBE_API_URL: apiUrl(f) },
  });
  stops.push(() => b.stop());
  return { fake: f, broker: b, key: k };
}

before(async () => {
  ({ fake, broker, key } = await startBrokerWithExample("caller-example"));
  const vars = { ADOBE_API_URL: apiUrl(fake) };
  byUrl = await startCallerExample({ brokerUrl: broker.url, brokerKey: key.key, vars: { ...vars, BROKER_SCOPES: "AdobeID, openid" }, label: "caller-example-url" });
  stops.push(() => byUrl.stop());
  badKeyCaller = await startCallerExample({ brokerUrl: broker.url, brokerKey: callerKey().key, vars, label: "caller-example-badkey" });
  stops.push(() => badKeyCaller.stop());
  forbiddenScopeCaller = await startCallerExample({ brokerUrl: broker.url, brokerKey: key.key, vars: { ...vars, BROKER_SCOPES: "openid,read_organizations" }, label: "caller-example-scope" });
  stops.push(() => forbiddenScopeCaller.stop());
});
after(async () => {
  for (const s of stops.reverse()) await s().catch(() => {});
});

async function call(fetcher) {
  const res = await fetcher("/", { method: "GET" });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: JSON.parse(text) };
}

/** The broker's request log lines for POST /v1/token: one per request the broker answered. */
function tokenRequests(b) {
  return b.logs().filter((l) => l.includes('"msg":"request"') && l.includes('"route":"POST /v1/token"'));
}

async function revoke(f, body = {}) {
  const res = await fetch(`${f.url}/__fake/revoke`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  assert.equal(res.status, 200);
  return res.json();
}

/** Asserts that no answer text and no log line carries any token the fake issued. */
async function assertNoTokenLeaks(f, b, answers) {
  const { all_issued_tokens: tokens } = await f.secrets();
  const logs = b.logs();
  for (const t of tokens) {
    for (const a of answers) assert.ok(!a.text.includes(t), "the example never returns the token");
    assert.ok(!logs.some((l) => l.includes(t)), "no log line carries the token");
  }
}

test("the caller example calls the Adobe API with a token got through the Service Binding and through plain fetch, sharing one cached token", async () => {
  await fake.reset();
  const viaBinding = await call(broker.caller.fetch);
  assert.equal(viaBinding.status, 200, viaBinding.text);
  assert.deepEqual(Object.keys(viaBinding.json).sort(), ["api", "api_status", "retried", "token_from", "via"]);
  assert.equal(viaBinding.json.via, "binding");
  assert.equal(viaBinding.json.api_status, 200);
  assert.equal(viaBinding.json.api.client_id, clientId);
  assert.equal(viaBinding.json.token_from, "broker");
  assert.equal(viaBinding.json.retried, false);

  const viaUrl = await call((p, init) => byUrl.fetch(p, init));
  assert.equal(viaUrl.status, 200, viaUrl.text);
  assert.equal(viaUrl.json.via, "url");
  assert.equal(viaUrl.json.api.client_id, clientId);
  assert.equal(viaUrl.json.token_from, "broker");

  const stats = await fake.stats();
  assert.equal(stats.token_calls, 1, "both paths were served by one IMS call (same scope set)");
  assert.deepEqual(
    stats.profile_log.map((r) => [r.status, r.access_token, r.api_key]),
    [
      [200, stats.issued_tokens[0], clientId],
      [200, stats.issued_tokens[0], clientId],
    ],
    "both called the API with the one token and the broker's client_id as x-api-key",
  );
  await assertNoTokenLeaks(fake, broker, [viaBinding, viaUrl]);
  // The broker saw both requests as the caller "caller-example".
  const lines = tokenRequests(broker);
  assert.ok(lines.length >= 2, lines.join("\n"));
  assert.ok(lines.every((l) => l.includes('"caller":"caller-example"')));
});

test("the caller example passes the broker's errors through (401 with challenge, 403) without calling the API", async () => {
  await fake.reset();
  const bad = await call((p, init) => badKeyCaller.fetch(p, init));
  assert.equal(bad.status, 401, bad.text);
  assert.equal(bad.json.error, "unauthorized");
  assert.match(bad.headers.get("www-authenticate") ?? "", /^Bearer/);

  const forbidden = await call((p, init) => forbiddenScopeCaller.fetch(p, init));
  assert.equal(forbidden.status, 403, forbidden.text);
  assert.equal(forbidden.json.error, "forbidden");
  assert.equal(await tokenCalls(fake), 0);
  assert.equal((await fake.stats()).profile_calls, 0);
});

test("the caller example keeps its token: later requests ask the broker nothing and the API sees the same token; a revoked token is reported and replaced for the one retry; a second 401 within the minute is an error", async () => {
  // A broker and example of their own, so that the example starts without a token.
  const env = await startBrokerWithExample("caller-example-keep");
  const ask = () => call(env.broker.caller.fetch);

  // (a) The first request gets a token from the broker and calls the API with it.
  const first = await ask();
  assert.equal(first.status, 200, first.text);
  assert.equal(first.json.token_from, "broker");
  assert.equal(first.json.api.client_id, clientId);
  assert.equal(first.json.api.scope, "AdobeID,openid");
  let stats = await env.fake.stats();
  const [token] = stats.issued_tokens;
  assert.deepEqual(stats.profile_log.map((r) => [r.status, r.outcome, r.access_token, r.api_key]), [[200, "ok", token, clientId]]);
  assert.equal(tokenRequests(env.broker).length, 1);

  // (b) The second and third reuse the kept token: no broker request, the same token at the API.
  for (const i of [2, 3]) {
    const r = await ask();
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.token_from, "kept", `request ${i}`);
    assert.equal(r.json.retried, false);
  }
  assert.equal(tokenRequests(env.broker).length, 1, "no broker request while the token is kept");
  stats = await env.fake.stats();
  assert.equal(stats.token_calls, 1);
  assert.deepEqual(stats.profile_log.map((r) => r.access_token), [token, token, token]);
  assert.deepEqual(stats.profile_outcomes, { ok: 3 });

  // (c) Adobe revokes the token. The API's 401 makes the example drop it and ask the broker once
  // more, reporting the token as refused (its SHA-256): the broker drops its cached copy, mints
  // a new token, and the example's one retry with it succeeds.
  assert.deepEqual(await revoke(env.fake), { revoked: 1 });
  const renewed = await ask();
  assert.equal(renewed.status, 200, renewed.text);
  assert.equal(renewed.json.retried, true);
  assert.equal(renewed.json.token_from, "broker");
  assert.equal(tokenRequests(env.broker).length, 2, "exactly one more broker request");
  stats = await env.fake.stats();
  assert.equal(stats.token_calls, 2, "the broker minted a new token for the report");
  const newToken = stats.issued_tokens[1];
  assert.notEqual(newToken, token);
  assert.deepEqual(
    stats.profile_log.slice(3).map((r) => [r.status, r.outcome, r.access_token]),
    [
      [401, "token_revoked", token],
      [200, "ok", newToken],
    ],
    "the revoked token was refused once, then the new one accepted",
  );

  // Adobe revokes the new token too, within the minute: the broker replaces a scope set's token
  // at most once a minute (reports cannot make it call IMS at a caller's pace), so it serves the
  // same token again, and the example answers the second 401 as an error instead of looping.
  assert.deepEqual(await revoke(env.fake), { revoked: 1 });
  const refused = await ask();
  assert.equal(refused.status, 502, refused.text);
  assert.deepEqual(refused.json, {
    error: "adobe_unauthorized",
    via: "binding",
    message: "the Adobe API refused the broker's token twice (401)",
    retried: true,
  });
  assert.equal(tokenRequests(env.broker).length, 3);
  stats = await env.fake.stats();
  assert.equal(stats.token_calls, 2, "no second replacement within the minute");
  assert.deepEqual(
    stats.profile_log.slice(5).map((r) => [r.status, r.outcome, r.access_token]),
    [
      [401, "token_revoked", newToken],
      [401, "token_revoked", newToken],
    ],
  );
  assert.ok(env.broker.logs().some((l) => l.includes("the Adobe API answered 401; asking the broker for a token and retrying once")));
  await assertNoTokenLeaks(env.fake, env.broker, [first, renewed, refused]);
});

test("on the API's 401 the caller example retries with the token the broker has moved on to, and answers 200", async () => {
  const env = await startBrokerWithExample("caller-example-retry");
  // Short-lived tokens: the broker may hand out a 4 s token for 3.6 s (its own margin) and
  // says expires_in 3; the example keeps it 2.7 s.
  await env.fake.config({ expires_in: 4 });
  const ask = () => call(env.broker.caller.fetch);

  const first = await ask();
  assert.equal(first.status, 200, first.text);
  assert.equal(first.json.token_from, "broker");
  const [oldToken] = (await env.fake.stats()).issued_tokens;

  // Adobe revokes the token; the example's next API call is refused on arrival (401), and the
  // answer takes 4.5 s to come back, by when the broker's copy has passed its usable end. The
  // example, which still kept the token when the request began, drops it on the 401, asks the
  // broker, which mints a new one, and retries the API with that.
  assert.deepEqual(await revoke(env.fake), { revoked: 1 });
  await env.fake.faults([{ target: "profile", kind: "slow", ms: 4500 }]);
  const retried = await ask();
  assert.equal(retried.status, 200, retried.text);
  assert.equal(retried.json.token_from, "broker");
  assert.equal(retried.json.retried, true);
  assert.equal(retried.json.api.client_id, clientId);

  const stats = await env.fake.stats();
  assert.equal(stats.token_calls, 2, "the broker minted once more, for the retry");
  const newToken = stats.issued_tokens[1];
  assert.notEqual(newToken, oldToken);
  assert.deepEqual(
    stats.profile_log.map((r) => [r.status, r.outcome, r.access_token, r.api_key]),
    [
      [200, "ok", oldToken, clientId],
      [401, "token_revoked", oldToken, clientId],
      [200, "ok", newToken, clientId],
    ],
  );
  assert.equal(tokenRequests(env.broker).length, 2, "the kept token needed no broker request; the retry one");

  // The new token is kept in turn.
  const again = await ask();
  assert.equal(again.status, 200, again.text);
  assert.equal(again.json.token_from, "kept");
  assert.equal((await env.fake.stats()).profile_log.at(-1).access_token, newToken);
  assert.equal(tokenRequests(env.broker).length, 2);
  await assertNoTokenLeaks(env.fake, env.broker, [first, retried, again]);
});
