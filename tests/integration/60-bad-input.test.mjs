// Issue 2, test 7: every bad input → its status and code, and 0 IMS calls.
//   malformed JSON / unknown field / wrong types → 400 invalid_request; wrong content type → 415;
//   body over 16 KiB → 413; unknown credential → 404 unknown_credential; bad scope names → 400
//   invalid_scope; unknown route → 404 not_found; wrong method → 405 + Allow;
//   a misconfigured credential → 500 misconfigured naming the missing setting.
// Plus the order of the checks on /v1/token and the RFC 6749 §5.2 errors of /oauth/token.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { expectError, expectToken, oauthToken, readResponse, setup, tokenCalls, v1Token } from "./support.mjs";

let env;
before(async () => {
  env = await setup(null, {
    label: "bad-input",
    credentials: { analytics: {} },
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

  // Streamed (chunked, no Content-Length).
  const chunks = [new TextEncoder().encode('{"scopes":["openid"]'), new TextEncoder().encode(" ".repeat(MAX)), new TextEncoder().encode("}")];
  const stream = new ReadableStream({
    pull(c) {
      const next = chunks.shift();
      if (next) c.enqueue(next);
      else c.close();
    },
  });
  const streamed = await readResponse(await w.fetch("/v1/token", { method: "POST", headers: { authorization: `Bearer ${keys.all}`, "content-type": "application/json" }, body: stream, duplex: "half" }));
  expectError(streamed, 413, "payload_too_large", "chunked");
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
  const many = Array.from({ length: 65 }, (_, i) => `s${i}`);
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

  // Boundaries that are allowed: 128 characters, 64 scopes, every allowed character class.
  for (const [name, body] of [
    ["128 characters", { scopes: ["a".repeat(128)] }],
    ["64 scopes", { scopes: many.slice(0, 64) }],
    ["65 entries that de-duplicate to 64", { scopes: [...many.slice(0, 64), "s0"] }],
    ["allowed characters", { scopes: ["additional_info.projectedProductContext", "a-b:c/d.E_9"] }],
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

test("7.7 order of checks on /v1/token: 401 → 413/415/400 → 404 → 403 credential → 400 scope names → 403 scopes", async () => {
  const { fake, w, keys } = env;
  await fake.reset();
  const big = JSON.stringify({ scopes: ["openid"], pad: "x".repeat(MAX) });
  const cases = [
    ["no key + oversized body", null, big, {}, 401, "unauthorized"],
    ["no key + malformed JSON", null, "{", {}, 401, "unauthorized"],
    ["no key + unknown credential", null, { credential: "nope" }, {}, 401, "unauthorized"],
    ["oversized + malformed", keys.all, "{" + " ".repeat(MAX + 1), {}, 413, "payload_too_large"],
    ["wrong type + unknown credential", keys.all, JSON.stringify({ credential: "nope" }), { "content-type": "text/plain" }, 415, "unsupported_media_type"],
    ["malformed JSON + bad scope", keys.all, '{"credential":"nope","scopes":["a b"]', {}, 400, "invalid_request"],
    ["unknown credential + bad scope names", keys.all, { credential: "nope", scopes: ["a b"] }, {}, 404, "unknown_credential"],
    ["unknown credential + forbidden scope", keys.limited, { credential: "nope", scopes: ["AdobeID"] }, {}, 404, "unknown_credential"],
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

test("7.9 misconfiguration → 500 misconfigured naming the missing setting (no values, no IMS call)", async (t) => {
  // No CLIENT_SECRET for the default credential (an empty secret counts as missing).
  const e = await setup(t, { label: "misconfigured", secrets: { CLIENT_SECRET: "" } });
  const { fake, w, keys } = e;
  const def = await v1Token(w, keys.all);
  expectError(def, 500, "misconfigured", "default credential without CLIENT_SECRET");
  assert.match(def.json.error_description, /CLIENT_SECRET/);
  assert.equal(await tokenCalls(fake), 0);

  // A Worker whose CALLER_KEYS secret is missing.
  const e2 = await setup(t, { label: "misconfigured-callers", secrets: { CALLER_KEYS: "" } });
  const r2 = await v1Token(e2.w, e2.keys.all);
  expectError(r2, 500, "misconfigured", "no CALLER_KEYS");
  assert.match(r2.json.error_description, /CALLER_KEYS/);
  assert.equal(await tokenCalls(e2.fake), 0);

  // A named credential whose secret is missing (the default one is fine).
  const e3 = await setup(t, { label: "misconfigured-named", credentials: { "no-secret": {} }, secrets: { CLIENT_SECRET_NO_SECRET: "" } });
  const ok = expectToken(await v1Token(e3.w, e3.keys.all), "default credential still works");
  assert.equal(ok.credential, "default");
  const named = await v1Token(e3.w, e3.keys.all, { credential: "no-secret" });
  expectError(named, 500, "misconfigured", "named credential without its secret");
  assert.match(named.json.error_description, /CLIENT_SECRET_NO_SECRET/);
  for (const r of [def, r2, named]) {
    assert.ok(!r.text.includes(e3.clientSecret) && !r.text.includes(e.clientSecret), "no secret values in the error");
  }
  assert.equal(await tokenCalls(e3.fake), 1);
});
