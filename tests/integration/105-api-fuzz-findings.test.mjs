// Regression tests for what the API fuzz run (schemathesis against /openapi.json, make api-fuzz,
// docs/api-fuzzing.md) found:
//   1. a request method workers-rs does not know (QUERY, PROPFIND, …) was served as a GET
//      (`QUERY /v1/credentials` answered the credential list); now 405 with Allow, or 404;
//   2. /oauth/token treated a parameter sent without a value as present (`client_id=&
//      client_secret=` next to Basic was "two authentication methods", `credential=` an unknown
//      credential); RFC 6749 §3.1 says such a parameter counts as omitted.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { expectError, oauthToken, readResponse, setup, tokenCalls } from "./support.mjs";

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

test("/oauth/token: a parameter sent without a value counts as omitted (RFC 6749 §3.1)", async () => {
  const { w, keys } = env;
  const basic = ["fuzz", keys.fuzz];
  const cc = "grant_type=client_credentials";

  // Empty client_id/client_secret next to Basic: one authentication method, not two.
  const both = await oauthToken(w, `${cc}&client_id=&client_secret=`, { basic });
  assert.equal(both.status, 200, both.text);
  assert.equal(both.json.token_type, "Bearer");
  // Only one of them empty: still one method (Basic).
  assert.equal((await oauthToken(w, `${cc}&client_secret=`, { basic })).status, 200);

  // Empty credential: the default credential, as if absent (was 400 unknown credential "").
  const cred = await oauthToken(w, `${cc}&credential=&scope=openid`, { basic });
  assert.equal(cred.status, 200, cred.text);
  assert.equal(cred.json.scope, "openid");

  // Empty scope: the credential's default scopes.
  const scope = await oauthToken(w, `${cc}&scope=`, { basic });
  assert.equal(scope.status, 200, scope.text);
  assert.equal(scope.json.scope, "AdobeID openid");

  // Empty grant_type is a missing grant_type.
  const grant = await oauthToken(w, "grant_type=&scope=openid", { basic });
  expectError(grant, 400, "invalid_request", "empty grant_type");
  assert.match(grant.json.error_description, /grant_type is required/);

  // A form with values still needs exactly one method.
  const twice = await oauthToken(w, `${cc}&client_id=fuzz&client_secret=${encodeURIComponent(keys.fuzz)}`, { basic });
  expectError(twice, 400, "invalid_request", "Basic and client_secret_post");
  // client_secret_post alone works.
  const post = await oauthToken(w, { grant_type: "client_credentials", client_id: "fuzz", client_secret: keys.fuzz });
  assert.equal(post.status, 200, post.text);
});
