// Regression tests for what the API fuzz run (schemathesis against /openapi.json, make api-fuzz,
// docs/api-fuzzing.md) found:
//   1. a request method workers-rs does not know (QUERY, PROPFIND, …) was served as a GET
//      (`QUERY /v1/credentials` answered the credential list); now 405 with Allow, or 404.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { expectError, readResponse, setup, tokenCalls } from "./support.mjs";

let env;
before(async () => {
  env = await setup(null, {
    label: "api-fuzz-findings",
    credentials: { extra: {} },
    callers: {
      fuzz: { credentials: "*", scopes: "*", admin: true },
    },
  });
});
after(() => env?.stop());

test("a method the Worker does not know is 405 with Allow on a route, 404 elsewhere; never served as GET", async () => {
  const { w, keys, fake } = env;
  await fake.reset();
  const auth = { authorization: `Bearer ${keys.fuzz}` };
  const cases = [
    ["QUERY", "/healthz", 405, "GET, HEAD"],
    ["QUERY", "/", 405, "GET, HEAD"],
    ["QUERY", "/openapi.json", 405, "GET, HEAD"],
    ["QUERY", "/v1/credentials", 405, "GET"],
    ["QUERY", "/v1/metrics", 405, "GET"],
    ["QUERY", "/v1/credentials/default/secrets", 405, "GET"],
    ["PROPFIND", "/v1/credentials/default/tokens", 405, "GET"],
    ["QUERY", "/v1/token", 405, "POST"],
    ["QUERY", "/no/such/route", 404, null],
  ];
  for (const [method, path, status, allow] of cases) {
    const r = await readResponse(await w.fetch(path, { method, headers: auth }));
    expectError(r, status, status === 405 ? "method_not_allowed" : "not_found", `${method} ${path}`);
    assert.equal(r.headers.get("allow"), allow, `${method} ${path}: Allow`);
    assert.ok(!r.text.includes("credentials\":["), `${method} ${path} must not serve the GET answer`);
  }
  // The same routes still answer their own methods.
  assert.equal((await w.fetch("/healthz")).status, 200);
  assert.equal((await w.fetch("/v1/credentials", { headers: auth })).status, 200);
  assert.equal(await tokenCalls(fake), 0);
});
