// Self-check of the test harness (runs first): the fake Adobe IMS starts and its
// control API answers; the built Worker starts under Miniflare/workerd, answers
// /healthz, its logs are captured, and the TOKENS KV namespace is reachable from the
// test and shared between two instances on one persistence dir.
import assert from "node:assert/strict";
import fs from "node:fs";
import { test } from "node:test";

import { WORKER_LOG_FILE, startFakeAdobe, startWorker, startWorkers, workerBuilt } from "./harness.mjs";

test("fake-adobe starts on a free port and its control API answers", async (t) => {
  const fake = await startFakeAdobe({ clients: { "demo-client": "demo-secret" } });
  t.after(() => fake.stop());

  assert.match(fake.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(fake.tokenUrl, `${fake.url}/ims/token/v3`);

  const stats = await fake.stats();
  assert.equal(stats.token_calls, 0);
  assert.deepEqual(stats.calls, []);

  const cfg = await fake.config({ expires_in: 120 });
  assert.equal(cfg.expires_in, 120);
  assert.deepEqual(await fake.faults([{ kind: "status503", count: 1 }]), { pending_faults: 1 });
  await fake.reset();
  assert.equal((await fake.stats()).pending_faults, 0);
  assert.ok((await fake.secrets()).secrets.includes("demo-secret"));
});

// Skips only while build/index.js does not exist yet (run `make build`); `make test`
// always builds first, so in CI this never skips.
test("the built Worker runs under Miniflare with KV and log capture", { skip: workerBuilt() ? false : "build/index.js missing: run `make build`" }, async (t) => {
  const fake = await startFakeAdobe();
  t.after(() => fake.stop());
  const [a, b] = await startWorkers(2, { fake, label: "harness-self-check" });
  t.after(() => Promise.all([a.stop(), b.stop()]));

  const res = await a.fetch("/healthz");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: "ok" });

  // The Worker's console output reaches logs() and the run's log file.
  const line = await a.waitForLog(/healthz/);
  assert.ok(fs.readFileSync(WORKER_LOG_FILE, "utf8").includes(line));

  // KV from the test side, shared by both instances (same persistence dir).
  await a.kv.put("harness-self-check", "v1", { expirationTtl: 60 });
  assert.equal(await b.kv.get("harness-self-check"), "v1");
  const listed = await b.kv.list({ prefix: "harness-self-check" });
  assert.equal(listed.keys.length, 1);
  assert.ok(listed.keys[0].expiration > Date.now() / 1000);
  await b.kv.delete("harness-self-check");
  assert.equal(await a.kv.get("harness-self-check"), null);
});
