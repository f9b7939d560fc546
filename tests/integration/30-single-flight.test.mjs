// 100 concurrent requests on a cold cache, with the fake answering slowly →
// exactly 1 IMS call, 100 successes. Also: concurrent waiters share a failure.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { expectError, expectToken, requestLogs, setup, tokenCalls, uniqueScopes, v1Token, waitFor } from "./support.mjs";

let env;
before(async () => {
  env = await setup(null, { scopePool: true, label: "single-flight" });
});
after(() => env?.stop());

test("4. 100 concurrent requests on a cold cache, slow IMS → exactly 1 IMS call, 100 successes", async () => {
  const { fake, w, keys } = env;
  await fake.reset();
  await fake.config({ delay_ms: 1500 });
  const scopes = uniqueScopes("herd");
  const results = await Promise.all(Array.from({ length: 100 }, () => v1Token(w, keys.all, { scopes })));
  const statuses = results.map((r) => r.status);
  const tokens = new Set();
  for (const r of results) tokens.add(expectToken(r, `statuses: ${JSON.stringify(statuses)}`).access_token);
  assert.equal(tokens.size, 1, "everyone got the same token");
  const stats = await fake.stats();
  assert.equal(stats.token_calls, 1, "exactly one IMS call");
  assert.deepEqual(stats.issued_tokens, [...tokens]);

  await waitFor(() => requestLogs(w).filter((l) => l.route === "POST /v1/token").length >= 100, { what: "100 request log lines" });
  const lines = requestLogs(w).filter((l) => l.route === "POST /v1/token");
  assert.equal(lines.filter((l) => l.upstream_attempts !== undefined).length, 1, "one request line carries the IMS call");
  assert.ok(lines.every((l) => l.status === 200));
  await fake.reset();
});

test("4b. concurrent waiters share one failure (1 IMS call, all get the same error)", async () => {
  const { fake, w, keys } = env;
  await fake.reset();
  await fake.config({ delay_ms: 800 });
  await fake.faults([{ kind: "invalid_client", count: 0 }]);
  const scopes = uniqueScopes("herd_fail");
  const results = await Promise.all(Array.from({ length: 30 }, () => v1Token(w, keys.all, { scopes })));
  for (const r of results) expectError(r, 502, "upstream_invalid_client");
  assert.equal(await tokenCalls(fake), 1, "invalid_client is final and shared: one IMS call");
  await fake.reset();
});
