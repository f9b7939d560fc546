// The global single flight. Several broker isolates (separate Workers in one workerd, each with
// its own memory cache and single flight) share KV and one credential object per credential;
// 300 concurrent cold requests spread over them cause ONE IMS call (the object mints, once per
// cache key). When the object cannot be reached:
//   - an isolate that never learnt the credential's secrets from it answers 503
//     `credential_unavailable` with Retry-After, and calls nobody;
//   - an isolate that learnt them (from an earlier answer of the object) still serves its cached
//     tokens, and mints a miss itself with those secrets (its own single flight: at most one IMS
//     call per isolate), logging `credential_object_unreachable` (level warn).
import assert from "node:assert/strict";
import { test } from "node:test";

import { callerKeysJson, newCallerKey, startBrokerFleet, startFakeAdobe } from "./harness.mjs";
import { jsonLogs } from "./support.mjs";

async function fleet(t, opts = {}) {
  const secret = `gsf-${Math.random().toString(36).slice(2)}`;
  const fake = await startFakeAdobe({ clients: { "gsf-client": secret } });
  t.after(() => fake.stop());
  const key = newCallerKey();
  const brokers = await startBrokerFleet(3, {
    fake,
    label: opts.label,
    unreachableObject: opts.unreachableObject,
    objectSwitch: opts.objectSwitch,
    vars: { CLIENT_ID: "gsf-client", SCOPES: "openid,AdobeID,gsf_a,gsf_b" },
    secrets: { CLIENT_SECRET: secret, CALLER_KEYS: callerKeysJson({ gsf: { sha256: key.sha256, credentials: "*", scopes: "*" } }) },
  });
  t.after(() => brokers.stop());
  const request = (i, scopes) =>
    brokers.fetchAt(i % brokers.urls.length, "/v1/token", {
      method: "POST",
      headers: { authorization: `Bearer ${key.key}`, ...(scopes ? { "content-type": "application/json" } : {}) },
      ...(scopes ? { body: JSON.stringify({ scopes }) } : {}),
    });
  // Warm every isolate (Wasm compile, config) without touching the token key: /healthz.
  for (const u of brokers.urls) assert.equal((await fetch(`${u}/healthz`)).status, 200);
  return { fake, brokers, request };
}

test("300 concurrent cold requests over 3 isolates → 1 IMS call", async (t) => {
  const { fake, brokers, request } = await fleet(t, { label: "global-sf" });
  await fake.config({ delay_ms: 400 });
  const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => request(i)));
  const bodies = await Promise.all(answers.map((r) => r.json()));
  assert.deepEqual([...new Set(answers.map((r) => r.status))], [200], JSON.stringify(bodies.find((b) => !b.access_token)));
  assert.equal(new Set(bodies.map((b) => b.access_token)).size, 1, "every isolate hands out the same token");
  assert.equal((await fake.stats()).token_calls, 1, "one IMS call for all three isolates");
  // Hits afterwards cost nothing more.
  await Promise.all(Array.from({ length: 30 }, (_, i) => request(i)));
  assert.equal((await fake.stats()).token_calls, 1);
  assert.ok(!brokers.logs().some((l) => l.includes("credential_object_unreachable")));
});

test("an object unreachable from the start: isolates that never learnt the secrets answer 503 credential_unavailable with Retry-After, and call nobody", async (t) => {
  const { fake, request } = await fleet(t, { label: "global-sf-unreachable", unreachableObject: true });
  const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => request(i)));
  for (const r of answers) {
    const body = await r.json();
    assert.equal(r.status, 503, JSON.stringify(body));
    assert.equal(body.error, "credential_unavailable", JSON.stringify(body));
    assert.equal(typeof body.error_description, "string");
    const retryAfter = r.headers.get("retry-after");
    assert.ok(retryAfter !== null && /^\d+$/.test(retryAfter) && Number(retryAfter) > 0, `Retry-After: ${retryAfter}`);
  }
  assert.equal((await fake.stats()).token_calls, 0, "no IMS call without the secrets");
});

test("the object becomes unreachable: cached tokens still served; a miss is minted by each isolate with the secrets it learnt (≤ 1 IMS call per isolate), logged", async (t) => {
  const { fake, brokers, request } = await fleet(t, { label: "global-sf-switch", objectSwitch: true });
  // Each isolate learns the secrets from the object: a miss of its own (a scope set of its own).
  const own = [["openid"], ["AdobeID"], ["gsf_a"]];
  const cached = [];
  for (let i = 0; i < 3; i++) {
    const r = await request(i, own[i]);
    const body = await r.json();
    assert.equal(r.status, 200, JSON.stringify(body));
    cached.push(body.access_token);
  }
  assert.equal((await fake.stats()).token_calls, 3);
  assert.ok(!brokers.logs().some((l) => l.includes("credential_object_unreachable")));

  await brokers.setObjectReachable(false);
  // Cached tokens: served as before, without IMS.
  for (let i = 0; i < 3; i++) {
    const r = await request(i, own[i]);
    const body = await r.json();
    assert.equal(r.status, 200, JSON.stringify(body));
    assert.equal(body.access_token, cached[i], `isolate ${i}: its cached token`);
  }
  assert.equal((await fake.stats()).token_calls, 3, "hits cost no IMS call");

  // A cold scope set on every isolate at once: each mints it itself.
  await fake.config({ delay_ms: 400 });
  const answers = await Promise.all(Array.from({ length: 90 }, (_, i) => request(i, ["gsf_b"])));
  const bodies = await Promise.all(answers.map((r) => r.json()));
  assert.deepEqual([...new Set(answers.map((r) => r.status))], [200], JSON.stringify(bodies.find((b) => !b.access_token)));
  const calls = (await fake.stats()).token_calls - 3;
  assert.ok(calls >= 1 && calls <= 3, `at most one IMS call per isolate: ${calls}`);
  assert.deepEqual((await fake.stats()).calls.slice(3).map((c) => c.outcome), Array(calls).fill("ok"), "minted with the learnt secret");
  await brokers.waitForLog(/credential_object_unreachable/);
  const lines = jsonLogs(brokers).filter((l) => l.msg === "credential_object_unreachable");
  assert.ok(lines.length > 0 && lines.every((l) => l.level === "warn"), JSON.stringify(lines.slice(0, 3)));

  // Reachable again: a new miss goes through the object (no new unreachable line for it).
  await brokers.setObjectReachable(true);
  await fake.config({ delay_ms: 0 });
  const before = lines.length;
  const back = await request(0, ["openid", "gsf_a"]);
  assert.equal(back.status, 200, await back.text());
  assert.equal(jsonLogs(brokers).filter((l) => l.msg === "credential_object_unreachable").length, before, "the object answered");
});
