// Every bad input → its status and code, and 0 IMS calls.
//   malformed JSON / unknown field / wrong types → 400 invalid_request; wrong content type → 415;
//   body over 16 KiB → 413; unknown credential → 404 unknown_credential; bad scope names → 400
//   invalid_scope; unknown route → 404 not_found; wrong method → 405 + Allow;
//   a misconfigured credential → 500 misconfigured naming the missing setting.
// Plus the order of the checks on /v1/token and the RFC 6749 §5.2 errors of /oauth/token.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { expectError, expectToken, oauthToken, readResponse, sendChunked, setup, tokenCalls, v1Token } from "./support.mjs";

/** 65 scope names; the first 64 are the `many` credential's scopes. */
const MANY = Array.from({ length: 65 }, (_, i) => `s${i}`);
/** Names at the edges of what is allowed, configured for the `edges` credential. */
const EDGES = ["a".repeat(128), "additional_info.projectedProductContext", "a-b:c/d.E_9"];

let env;
before(async () => {
  env = await setup(null, {
    label: "bad-input",
    // A scope is granted only within a credential's configured scopes: these credentials carry
    // the boundary cases of scope names.
    credentials: { analytics: {}, many: { scopes: MANY.slice(0, 64).join(",") }, edges: { scopes: ["openid", ...EDGES].join(",") } },
    callers: {
      all: { credentials: "*", scopes: "*" },
      limited: { credentials: ["default"], scopes: ["openid"] },
    },
  });
});
after(() => env?.stop());

const MAX = 16384;

test("7.1 /v1/token body: malformed JSON, unknown fields, wrong types → 400 invalid_request", async () => {
  const { fake, w, keys } = env;
  await fake.reset();
  const bodies = [
    "{",
    '{"scopes":["openid"]',
    "not json",
    '{"scopes":["openid"]} trailing',
    "[]",
    '"default"',
    "42",
    "true",
    '{"scope":["openid"]}',
    '{"credential":"default","extra":1}',
    '{"Credential":"default"}',
    '{"credential":5}',
    '{"credential":["default"]}',
    '{"credential":{"name":"default"}}',
    '{"scopes":5}',
    '{"scopes":[1,2]}',
    '{"scopes":["openid",null]}',
    '{"scopes":{"openid":true}}',
    '{"scopes":[["openid"]]}',
  ];
  for (const b of bodies) {
    const r = await v1Token(w, keys.all, b);
    expectError(r, 400, "invalid_request", `body ${b}`);
  }
  assert.equal(await tokenCalls(fake), 0);
});

test("7.2 /v1/token content type: a non-empty body that is not application/json → 415", async () => {
  const { fake, w, keys } = env;
  await fake.reset();
  const json = JSON.stringify({ scopes: ["openid"] });
  const cases = [
    ["text/plain", { "content-type": "text/plain" }, json],
    ["form", { "content-type": "application/x-www-form-urlencoded" }, "scopes=openid"],
    ["application/jsonx", { "content-type": "application/jsonx" }, json],
    ["no content type", {}, new TextEncoder().encode(json)],
  ];
  for (const [name, headers, body] of cases) {
    const r = readResponse(await w.fetch("/v1/token", { method: "POST", headers: { authorization: `Bearer ${keys.all}`, ...headers }, body }));
    expectError(await r, 415, "unsupported_media_type", name);
  }
  assert.equal(await tokenCalls(fake), 0);

  // Controls: JSON with parameters / in upper case is fine, and an empty body needs no type.
  for (const [name, headers, body] of [
    ["charset parameter", { "content-type": "application/json; charset=utf-8" }, json],
    ["upper case", { "content-type": "Application/JSON" }, json],
    ["empty body, text/plain", { "content-type": "text/plain" }, ""],
    ["empty body, no type", {}, undefined],
    ["whitespace JSON body", { "content-type": "application/json" }, "  "],
  ]) {
    const r = await readResponse(await w.fetch("/v1/token", { method: "POST", headers: { authorization: `Bearer ${keys.all}`, ...headers }, body }));
    expectToken(r, name);
  }
});

test("7.3 /v1/token body over 16 KiB → 413 payload_too_large (by Content-Length and when streamed)", async () => {
  const { fake, w, keys } = env;
  await fake.reset();
  const pad = (n) => {
    const base = JSON.stringify({ scopes: ["openid"] });
    return base.slice(0, -1) + " ".repeat(n - base.length) + "}";
  };
  const big = pad(MAX + 1);
  assert.equal(Buffer.byteLength(big), MAX + 1);
  expectError(await v1Token(w, keys.all, big), 413, "payload_too_large", "16385 bytes");
  expectError(await v1Token(w, keys.all, "x".repeat(100_000)), 413, "payload_too_large", "100 kB of garbage");
  expectError(await v1Token(w, keys.all, big, { headers: { "content-type": "text/plain" } }), 413, "payload_too_large", "size is checked before type");

  // Streamed (chunked, no Content-Length): the read stops past the limit, long before the end.
  const streamed = await sendChunked(w, "/v1/token", { headers: { authorization: `Bearer ${keys.all}`, "content-type": "application/json" }, total: 4 * MAX });
  assert.equal(streamed.status, 413, JSON.stringify(streamed));
  assert.equal(streamed.json?.error, "payload_too_large");
  assert.ok(streamed.sentAtAnswer < 4 * MAX, `answered after ${streamed.sentAtAnswer} bytes`);
  assert.equal(await tokenCalls(fake), 0);

  // Exactly 16384 bytes is accepted.
  const exact = pad(MAX);
  assert.equal(Buffer.byteLength(exact), MAX);
  expectToken(await v1Token(w, keys.all, exact), "exactly 16384 bytes");
});

test("7.4 unknown credential → 404 unknown_credential", async () => {
  const { fake, w, keys } = env;
  await fake.reset();
  for (const credential of ["nope", "Default", "ANALYTICS", "", "default ", "../default"]) {
    const r = await v1Token(w, keys.all, { credential, scopes: ["openid"] });
    expectError(r, 404, "unknown_credential", `credential ${JSON.stringify(credential)}`);
  }
  assert.equal(await tokenCalls(fake), 0);
});

test("7.5 bad scope names → 400 invalid_scope (characters, length > 128, more than 64)", async () => {
  const { fake, w, keys } = env;
  await fake.reset();
  const many = MANY;
  const bad = [
    ["space inside", { scopes: ["open id"] }],
    ["semicolon", { scopes: ["openid;drop"] }],
    ["quote", { scopes: ['open"id'] }],
    ["non-ASCII", { scopes: ["öpenid"] }],
    ["newline", { scopes: ["openid\nAdobeID"] }],
    ["comma inside a list item", { scopes: ["openid,AdobeID"] }],
    ["percent", { scopes: ["a%2Cb"] }],
    ["129 characters", { scopes: ["a".repeat(129)] }],
    ["65 scopes", { scopes: many }],
    ["65 scopes as a comma string", { scopes: many.join(",") }],
    ["bad name in a comma string", { scopes: "openid,Adobe ID" }],
  ];
  for (const [name, body] of bad) {
    const r = await v1Token(w, keys.all, body);
    expectError(r, 400, "invalid_scope", name);
  }
  assert.equal(await tokenCalls(fake), 0);

  // Boundaries that are allowed (each within its credential's configured scopes): 128
  // characters, 64 scopes, every allowed character class.
  for (const [name, body] of [
    ["128 characters", { credential: "edges", scopes: [EDGES[0]] }],
    ["64 scopes", { credential: "many", scopes: many.slice(0, 64) }],
    ["65 entries that de-duplicate to 64", { credential: "many", scopes: [...many.slice(0, 64), "s0"] }],
    ["allowed characters", { credential: "edges", scopes: EDGES.slice(1) }],
  ]) {
    expectToken(await v1Token(w, keys.all, body), name);
  }
});

test("7.6 unknown route → 404 not_found; wrong method → 405 method_not_allowed with Allow", async () => {
  const { fake, w, keys } = env;
  await fake.reset();
  const auth = { authorization: `Bearer ${keys.all}` };
  for (const [method, p] of [["GET", "/nope"], ["POST", "/v1/nope"], ["POST", "/v1/tokens"], ["POST", "/v1"], ["POST", "/v2/token"], ["POST", "/v1/token/extra"], ["GET", "/healthz/x"], ["POST", "/oauth/authorize"]]) {
    const r = await readResponse(await w.fetch(p, { method, headers: auth }));
    expectError(r, 404, "not_found", `${method} ${p}`);
  }
  const allow = (v) => v?.split(",").map((s) => s.trim().toUpperCase()).sort().join(",");
  for (const [method, p, expected] of [
    ["GET", "/v1/token", "POST"],
    ["PUT", "/v1/token", "POST"],
    ["DELETE", "/v1/token", "POST"],
    ["PATCH", "/v1/token", "POST"],
    ["GET", "/oauth/token", "POST"],
    ["PUT", "/oauth/token", "POST"],
    ["POST", "/healthz", "GET,HEAD"],
    ["DELETE", "/healthz", "GET,HEAD"],
  ]) {
    const r = await readResponse(await w.fetch(p, { method, headers: auth }));
    expectError(r, 405, "method_not_allowed", `${method} ${p}`);
    assert.equal(allow(r.headers.get("allow")), expected, `${method} ${p}: Allow ${r.headers.get("allow")}`);
  }
  assert.equal(await tokenCalls(fake), 0);
});

test("7.7 order of checks on /v1/token: 413 → 401 → 415/400 → 403 credential (known or not) → 404 → 400 scope names → 403 scopes", async () => {
  const { fake, w, keys } = env;
  await fake.reset();
  const big = JSON.stringify({ scopes: ["openid"], pad: "x".repeat(MAX) });
  const cases = [
    // The size first, whoever sends it: the body was read no further than the limit.
    ["no key + oversized body", null, big, {}, 413, "payload_too_large"],
    ["no key + malformed JSON", null, "{", {}, 401, "unauthorized"],
    ["no key + unknown credential", null, { credential: "nope" }, {}, 401, "unauthorized"],
    ["oversized + malformed", keys.all, "{" + " ".repeat(MAX + 1), {}, 413, "payload_too_large"],
    ["wrong type + unknown credential", keys.all, JSON.stringify({ credential: "nope" }), { "content-type": "text/plain" }, 415, "unsupported_media_type"],
    ["malformed JSON + bad scope", keys.all, '{"credential":"nope","scopes":["a b"]', {}, 400, "invalid_request"],
    ["unknown credential + bad scope names", keys.all, { credential: "nope", scopes: ["a b"] }, {}, 404, "unknown_credential"],
    // A caller that may not use a name is not told whether it exists.
    ["unknown credential + forbidden scope", keys.limited, { credential: "nope", scopes: ["AdobeID"] }, {}, 403, "forbidden"],
    ["credential not allowed + bad scope names", keys.limited, { credential: "analytics", scopes: ["a b"] }, {}, 403, "forbidden"],
    ["bad scope names + scope not allowed", keys.limited, { scopes: ["AdobeID", "a b"] }, {}, 400, "invalid_scope"],
  ];
  // Collect every deviation so one run shows all of them.
  const wrong = [];
  for (const [name, key, body, headers, status, code] of cases) {
    const r = await v1Token(w, key, body, { headers });
    try {
      expectError(r, status, code, name);
    } catch {
      wrong.push(`${name}: expected ${status} ${code}, got ${r.status} ${r.json?.error ?? r.text}`);
    }
  }
  assert.deepEqual(wrong, []);
  assert.equal(await tokenCalls(fake), 0);
});

test("7.8 /oauth/token bad input → RFC 6749 §5.2 errors, 0 IMS calls", async () => {
  const { fake, w, keys } = env;
  await fake.reset();
  const basic = ["all", keys.all];
  const cc = "grant_type=client_credentials";
  const cases = [
    ["JSON instead of a form", JSON.stringify({ grant_type: "client_credentials" }), { basic, headers: { "content-type": "application/json" } }, 400, "invalid_request"],
    ["no content type", cc, { basic, headers: { "content-type": "" } }, 400, "invalid_request"],
    ["missing grant_type", "scope=openid", { basic }, 400, "invalid_request"],
    ["empty body", "", { basic }, 400, "invalid_request"],
    ["repeated scope", `${cc}&scope=openid&scope=AdobeID`, { basic }, 400, "invalid_request"],
    ["repeated grant_type", `${cc}&${cc}`, { basic }, 400, "invalid_request"],
    ["both Basic and post", `${cc}&client_id=all&client_secret=${encodeURIComponent(keys.all)}`, { basic }, 400, "invalid_request"],
    ["unknown credential", `${cc}&credential=nope`, { basic }, 400, "invalid_request"],
    ["body over 16 KiB", `${cc}&scope=openid&pad=${"x".repeat(MAX)}`, { basic }, 413, "invalid_request"],
    ["password grant", "grant_type=password&username=a&password=b", { basic }, 400, "unsupported_grant_type"],
    ["authorization_code grant", "grant_type=authorization_code&code=x", { basic }, 400, "unsupported_grant_type"],
    ["bad scope name", `${cc}&scope=${encodeURIComponent("openid a;b")}`, { basic }, 400, "invalid_scope"],
    ["comma-separated scope is one bad name", `${cc}&scope=${encodeURIComponent("openid,AdobeID")}`, { basic }, 400, "invalid_scope"],
    ["65 scopes", `${cc}&scope=${encodeURIComponent(Array.from({ length: 65 }, (_, i) => `s${i}`).join(" "))}`, { basic }, 400, "invalid_scope"],
    ["129-character scope", `${cc}&scope=${"a".repeat(129)}`, { basic }, 400, "invalid_scope"],
  ];
  for (const [name, body, opts, status, code] of cases) {
    const headers = { ...(opts.headers ?? {}) };
    if (headers["content-type"] === "") delete headers["content-type"];
    const init = { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: name === "no content type" ? new TextEncoder().encode(body) : body };
    if (name === "no content type") delete init.headers["content-type"];
    if (opts.basic) init.headers.authorization = "Basic " + Buffer.from(`${opts.basic[0]}:${opts.basic[1]}`).toString("base64");
    const r = await readResponse(await w.fetch("/oauth/token", init));
    expectError(r, status, code, name);
    assert.equal(r.headers.get("cache-control"), "no-store", `${name}: cache-control`);
  }
  assert.equal(await tokenCalls(fake), 0);
  // Control: the same endpoint works.
  const ok = await oauthToken(w, { grant_type: "client_credentials", scope: "openid" }, { basic });
  assert.equal(ok.status, 200, ok.text);
});

test("7.9 misconfiguration → 500 misconfigured naming the missing setting to an admin, generic to others (no values, no IMS call)", async (t) => {
  const callers = { all: { credentials: "*", scopes: "*" }, ops: { credentials: "*", scopes: "*", admin: true } };
  const generic = (r, what) => {
    expectError(r, 500, "misconfigured", what);
    assert.doesNotMatch(r.json.error_description, /CLIENT_SECRET|CALLER_KEYS|is not set/, `${what}: generic: ${r.text}`);
  };
  // No CLIENT_SECRET for the default credential (an empty secret counts as missing).
  const e = await setup(t, { label: "misconfigured", secrets: { CLIENT_SECRET: "" }, callers });
  const { fake, w, keys } = e;
  const def = await v1Token(w, keys.ops);
  expectError(def, 500, "misconfigured", "default credential without CLIENT_SECRET");
  assert.match(def.json.error_description, /CLIENT_SECRET/);
  const plain = await v1Token(w, keys.all);
  generic(plain, "a plain caller");
  await w.waitForLog(/CLIENT_SECRET is not set/);
  assert.equal(await tokenCalls(fake), 0);

  // A Worker whose CALLER_KEYS secret is missing: nobody can be known as an admin.
  const e2 = await setup(t, { label: "misconfigured-callers", secrets: { CALLER_KEYS: "" } });
  const r2 = await v1Token(e2.w, e2.keys.all);
  generic(r2, "no CALLER_KEYS");
  await e2.w.waitForLog(/CALLER_KEYS is not set/);
  assert.equal(await tokenCalls(e2.fake), 0);

  // A named credential whose secret is missing (the default one is fine).
  const e3 = await setup(t, { label: "misconfigured-named", credentials: { "no-secret": {} }, secrets: { CLIENT_SECRET_NO_SECRET: "" }, callers });
  const ok = expectToken(await v1Token(e3.w, e3.keys.all), "default credential still works");
  assert.equal(ok.credential, "default");
  const named = await v1Token(e3.w, e3.keys.ops, { credential: "no-secret" });
  expectError(named, 500, "misconfigured", "named credential without its secret");
  assert.match(named.json.error_description, /CLIENT_SECRET_NO_SECRET/);
  generic(await v1Token(e3.w, e3.keys.all, { credential: "no-secret" }), "a plain caller, named credential");
  for (const r of [def, plain, r2, named]) {
    assert.ok(!r.text.includes(e3.clientSecret) && !r.text.includes(e.clientSecret), "no secret values in the error");
  }
  assert.equal(await tokenCalls(e3.fake), 1);
});
