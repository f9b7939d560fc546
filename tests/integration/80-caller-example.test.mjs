// The example caller Worker (examples/caller-worker) gets a token from a running broker both
// ways: through a Service Binding named BROKER, and by plain fetch() to BROKER_URL. It never
// returns the token itself, and passes the broker's errors through.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { startCallerExample, startWithCaller } from "./harness.mjs";
import { callerKey, randomSecret, startFake, tokenCalls } from "./support.mjs";

let fake, broker, byUrl, badKeyCaller, forbiddenScopeCaller;
const stops = [];
let key;

before(async () => {
  const clientId = "it-caller-example";
  const secret = randomSecret("cs");
  fake = await startFake({ clients: { [clientId]: secret } });
  stops.push(() => fake.stop());
  key = callerKey();
  const callers = { "caller-example": { sha256: key.sha256, credentials: ["default"], scopes: ["openid", "AdobeID"], admin: false } };
  broker = await startWithCaller({
    fake,
    label: "caller-example",
    vars: { CLIENT_ID: clientId, SCOPES: "openid,AdobeID" },
    secrets: { CLIENT_SECRET: secret, CALLER_KEYS: JSON.stringify(callers) },
    brokerKey: key.key,
    callerVars: { BROKER_SCOPES: "openid,AdobeID" },
  });
  stops.push(() => broker.stop());
  byUrl = await startCallerExample({ brokerUrl: broker.url, brokerKey: key.key, vars: { BROKER_SCOPES: "AdobeID, openid" }, label: "caller-example-url" });
  stops.push(() => byUrl.stop());
  badKeyCaller = await startCallerExample({ brokerUrl: broker.url, brokerKey: callerKey().key, label: "caller-example-badkey" });
  stops.push(() => badKeyCaller.stop());
  forbiddenScopeCaller = await startCallerExample({ brokerUrl: broker.url, brokerKey: key.key, vars: { BROKER_SCOPES: "openid,read_organizations" }, label: "caller-example-scope" });
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

test("the caller example gets a token through the Service Binding and through plain fetch, sharing one cached token", async () => {
  await fake.reset();
  const viaBinding = await call(broker.caller.fetch);
  assert.equal(viaBinding.status, 200, viaBinding.text);
  assert.deepEqual(Object.keys(viaBinding.json).sort(), ["expires_in", "got_token", "via"]);
  assert.equal(viaBinding.json.got_token, true);
  assert.equal(viaBinding.json.via, "binding");
  assert.ok(viaBinding.json.expires_in > 86000, `expires_in ${viaBinding.json.expires_in}`);

  const viaUrl = await call((p, init) => byUrl.fetch(p, init));
  assert.equal(viaUrl.status, 200, viaUrl.text);
  assert.equal(viaUrl.json.got_token, true);
  assert.equal(viaUrl.json.via, "url");

  const stats = await fake.stats();
  assert.equal(stats.token_calls, 1, "both paths were served by one IMS call (same scope set)");
  for (const t of stats.issued_tokens) {
    assert.ok(!viaBinding.text.includes(t) && !viaUrl.text.includes(t), "the example never returns the token");
  }
  // The broker saw both requests as the caller "caller-example".
  const lines = broker.logs().filter((l) => l.includes('"msg":"request"') && l.includes('"route":"POST /v1/token"'));
  assert.ok(lines.length >= 2, lines.join("\n"));
  assert.ok(lines.every((l) => l.includes('"caller":"caller-example"')));
});

test("the caller example passes the broker's errors through (401 with challenge, 403)", async () => {
  await fake.reset();
  const bad = await call((p, init) => badKeyCaller.fetch(p, init));
  assert.equal(bad.status, 401, bad.text);
  assert.equal(bad.json.error, "unauthorized");
  assert.match(bad.headers.get("www-authenticate") ?? "", /^Bearer/);

  const forbidden = await call((p, init) => forbiddenScopeCaller.fetch(p, init));
  assert.equal(forbidden.status, 403, forbidden.text);
  assert.equal(forbidden.json.error, "forbidden");
  assert.equal(await tokenCalls(fake), 0);
});
