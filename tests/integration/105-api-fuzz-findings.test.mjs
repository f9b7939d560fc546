// Regression tests for what the API fuzz run (schemathesis against /openapi.json, make api-fuzz,
// docs/api-fuzzing.md) found:
//   1. a request method workers-rs does not know (QUERY, PROPFIND, …) was served as a GET
//      (`QUERY /v1/credentials` answered the credential list); now 405 with Allow, or 404;
//   2. /oauth/token treated a parameter sent without a value as present (`client_id=&
//      client_secret=` next to Basic was "two authentication methods", `credential=` an unknown
//      credential); RFC 6749 §3.1 says such a parameter counts as omitted;
//   3. the OpenAPI request schemas said something else than the Worker does (null `credential`
//      and `scopes` are accepted, scope names are restricted, client_id/client_secret come in
//      pairs, extra form parameters are single strings): every request below is accepted by the
//      Worker exactly when the served document's schema says it is valid.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

import { expectError, oauthToken, readResponse, requestLogs, setup, tokenCalls, v1Token, waitFor } from "./support.mjs";

let env;
before(async () => {
  env = await setup(null, {
    label: "api-fuzz-findings",
    // The longest scope name accepted must be among a credential's scopes to be granted.
    credentials: { extra: { scopes: `openid,AdobeID,${"a".repeat(128)}` } },
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
  // (`QUERY /` and `QUERY /openapi.json` never reach the Worker: the static-asset server answers
  // them with its 405 and Allow, 95-static-assets.test.mjs.)
  const cases = [
    ["QUERY", "/healthz", 405, "GET, HEAD"],
    ["QUERY", "/v1/credentials", 405, "GET"],
    ["QUERY", "/v1/metrics", 405, "GET"],
    ["QUERY", "/v1/credentials/default/secrets", 405, "GET"],
    ["PROPFIND", "/v1/credentials/default/tokens", 405, "GET"],
    ["QUERY", "/v1/token", 405, "POST"],
    ["QUERY", "/no/such/route", 404, null],
  ];
  const logsBefore = requestLogs(w).length;
  for (const [method, path, status, allow] of cases) {
    const r = await readResponse(await w.fetch(path, { method, headers: auth }));
    expectError(r, status, status === 405 ? "method_not_allowed" : "not_found", `${method} ${path}`);
    assert.equal(r.headers.get("allow"), allow, `${method} ${path}: Allow`);
    assert.ok(!r.text.includes("credentials\":["), `${method} ${path} must not serve the GET answer`);
  }
  // Logged with the method as sent, not as the GET workers-rs makes of it.
  await waitFor(() => requestLogs(w).length >= logsBefore + cases.length, { what: "request log lines" });
  const logged = requestLogs(w).slice(logsBefore, logsBefore + cases.length);
  assert.deepEqual(
    logged.map((l) => `${l.method} ${l.status}`),
    cases.map(([method, , status]) => `${method} ${status}`),
  );
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

/** Validators for the request schemas of the document the Worker serves. */
async function requestSchemas(w) {
  const doc = await (await w.fetch("/openapi.json")).json();
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: "openapi.json", components: doc.components });
  const compile = (schema) =>
    ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"openapi.json#/components/')));
  const tokenSchema = doc.paths["/v1/token"].post.requestBody.content["application/json"].schema;
  const formSchema = doc.paths["/oauth/token"].post.requestBody.content["application/x-www-form-urlencoded"].schema;
  return { token: compile(tokenSchema), form: compile(formSchema) };
}

test("POST /v1/token: the Worker accepts a body exactly when the OpenAPI request schema does", async () => {
  const { w, keys } = env;
  const schemas = await requestSchemas(w);
  const bodies = [
    {},
    { credential: null },
    { scopes: null },
    { credential: null, scopes: "" },
    { credential: "extra", scopes: ["openid"] },
    { scopes: [] },
    { scopes: ["openid", " AdobeID ", "", "openid"] },
    { scopes: "openid, AdobeID,," },
    { scopes: "\topenid\n" },
    { credential: "extra", scopes: ["a".repeat(128)] },
    { scopes: ["a".repeat(129)] },
    { scopes: ["open id"] },
    { scopes: ["a;b"] },
    { scopes: ["é"] },
    { scopes: "openid AdobeID" },
    { scopes: "openid,a;b" },
    { scopes: [null] },
    { scopes: [1] },
    { scopes: 5 },
    { credential: 5 },
    { credential: "default", extra: 1 },
    "not an object",
    42,
  ];
  const wrong = [];
  for (const body of bodies) {
    const r = await v1Token(w, keys.fuzz, body);
    assert.ok([200, 400].includes(r.status), `${JSON.stringify(body)}: ${r.status} ${r.text}`);
    const valid = schemas.token(body);
    if ((r.status === 200) !== valid) wrong.push(`${JSON.stringify(body)}: Worker ${r.status}, schema ${valid ? "valid" : "invalid"}`);
  }
  assert.deepEqual(wrong, []);
});

test(
  "POST /v1/token: a JSON array body is refused like any other non-object",
  async () => {
    const { w, keys } = env;
    for (const body of [[null, null], ["extra", "openid"]]) {
      const r = await v1Token(w, keys.fuzz, body);
      // Status and code only: a 200 body holds a token, which test output does not print.
      assert.equal(r.status, 400, `${JSON.stringify(body)} answered ${r.status}`);
      assert.equal(r.json?.error, "invalid_request");
    }
  },
);

test("POST /oauth/token: the Worker accepts a form exactly when the OpenAPI request schema does (Basic auth)", async () => {
  const { w, keys } = env;
  const schemas = await requestSchemas(w);
  const forms = [
    { grant_type: "client_credentials" },
    { grant_type: "client_credentials", scope: "openid AdobeID" },
    { grant_type: "client_credentials", scope: "openid  AdobeID " },
    { grant_type: "client_credentials", scope: "openid\t AdobeID" },
    { grant_type: "client_credentials", scope: "" },
    { grant_type: "client_credentials", scope: "openid,AdobeID" },
    { grant_type: "client_credentials", scope: "openid\tAdobeID" },
    { grant_type: "client_credentials", scope: "a;b" },
    { grant_type: "client_credentials", credential: "extra" },
    { grant_type: "client_credentials", credential: "" },
    { grant_type: "client_credentials", client_id: "", client_secret: "" },
    { grant_type: "client_credentials", unknown_parameter: "ignored" },
    { grant_type: "password" },
    { grant_type: "" },
    { scope: "openid" },
  ];
  const wrong = [];
  for (const form of forms) {
    const r = await oauthToken(w, form, { basic: ["fuzz", keys.fuzz] });
    assert.ok([200, 400].includes(r.status), `${JSON.stringify(form)}: ${r.status} ${r.text}`);
    // A parameter without a value counts as omitted (RFC 6749 §3.1): so does the schema check.
    const sent = Object.fromEntries(Object.entries(form).filter(([, v]) => v !== ""));
    const valid = schemas.form(sent);
    if ((r.status === 200) !== valid) wrong.push(`${JSON.stringify(form)}: Worker ${r.status}, schema ${valid ? "valid" : "invalid"}`);
  }
  assert.deepEqual(wrong, []);
  // client_id without client_secret (or the reverse) is schema-invalid and refused.
  assert.equal(schemas.form({ grant_type: "client_credentials", client_id: "fuzz" }), false);
  expectError(await oauthToken(w, { grant_type: "client_credentials", client_id: "fuzz" }), 401, "invalid_client", "client_id alone");
});
