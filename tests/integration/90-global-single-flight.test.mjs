// Issue 6: the global single flight. Several broker isolates (separate Workers in one workerd,
// each with its own memory cache and single flight) share KV and one Durable Object namespace;
// 300 concurrent cold requests spread over them cause ONE IMS call. If the object is
// unreachable, each isolate falls back to its own single flight and says so in the log.
import assert from "node:assert/strict";
import { test } from "node:test";

import { callerKeysJson, newCallerKey, startBrokerFleet, startFakeAdobe } from "./harness.mjs";

async function fleet(t, opts = {}) {
  const secret = `gsf-${Math.random().toString(36).slice(2)}`;
  const fake = await startFakeAdobe({ clients: { "gsf-client": secret } });
  t.after(() => fake.stop());
  const key = newCallerKey();
  const brokers = await startBrokerFleet(3, {
    fake,
    label: opts.label,
    brokenRefresher: opts.brokenRefresher,
    withoutRefresher: opts.withoutRefresher,
    vars: { CLIENT_ID: "gsf-client", SCOPES: "openid,AdobeID" },
    secrets: { CLIENT_SECRET: secret, CALLER_KEYS: callerKeysJson({ gsf: { sha256: key.sha256, credentials: "*", scopes: "*" } }) },
  });
  t.after(() => brokers.stop());
  const request = (i) =>
    brokers.fetchAt(i % brokers.urls.length, "/v1/token", { method: "POST", headers: { authorization: `Bearer ${key.key}` } });
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
  assert.ok(!brokers.logs().some((l) => l.includes("coordinator_unreachable")));
});

test("an unreachable coordinator: each isolate falls back to its own single flight and logs it", async (t) => {
  const { fake, brokers, request } = await fleet(t, { label: "global-sf-broken", brokenRefresher: true });
  await fake.config({ delay_ms: 400 });
  const answers = await Promise.all(Array.from({ length: 90 }, (_, i) => request(i)));
  assert.deepEqual([...new Set(answers.map((r) => r.status))], [200]);
  const calls = (await fake.stats()).token_calls;
  assert.ok(calls >= 1 && calls <= 3, `at most one IMS call per isolate: ${calls}`);
  await brokers.waitForLog(/coordinator_unreachable/);
});

test("control: without the coordinator the same load costs one IMS call per isolate", async (t) => {
  const { fake, request } = await fleet(t, { label: "global-sf-control", withoutRefresher: true });
  await fake.config({ delay_ms: 400 });
  const answers = await Promise.all(Array.from({ length: 90 }, (_, i) => request(i)));
  assert.deepEqual([...new Set(answers.map((r) => r.status))], [200]);
  assert.equal((await fake.stats()).token_calls, 3, "three isolates, three single flights");
});
