// The auth matrix (no key, unknown key, wrong credential, wrong scope, good) on
// every endpoint. Refusals cost no IMS call.
//
// /v1/token:    401 unauthorized + WWW-Authenticate: Bearer realm="ims-broker"; 403 forbidden.
// /oauth/token: 401 invalid_client + WWW-Authenticate: Basic realm="ims-broker";
//               wrong credential → 400 unauthorized_client; wrong scope → 400 invalid_scope.
// /healthz:     no auth at all.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { basicAuth, callerKey, expectError, expectToken, oauthToken, setup, tokenCalls, v1Token } from "./support.mjs";

let env;
before(async () => {
  env = await setup(null, {
    label: "auth",
    credentials: { analytics: { scopes: "openid,AdobeID" } },
    callers: {
      all: { credentials: "*", scopes: "*" },
      limited: { credentials: ["default"], scopes: ["openid"] },
      "ana-only": { credentials: ["analytics"], scopes: "*" },
    },
  });
});
after(() => env?.stop());

const bearerChallenge = (r) => assert.match(r.headers.get("www-authenticate") ?? "", /^Bearer realm="ims-broker"/, `WWW-Authenticate: ${r.headers.get("www-authenticate")}`);
const basicChallenge = (r) => assert.match(r.headers.get("www-authenticate") ?? "", /^Basic realm="ims-broker"/, `WWW-Authenticate: ${r.headers.get("www-authenticate")}`);

test("6.1 /healthz needs no auth (and ignores a bogus one)", async () => {
  for (const headers of [{}, { authorization: "Bearer nope" }, { authorization: "Basic Zm9vOmJhcg==" }]) {
    const r = await env.w.fetch("/healthz", { headers });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { status: "ok" });
  }
  const head = await env.w.fetch("/healthz", { method: "HEAD" });
  assert.equal(head.status, 200);
});

test("6.2 /v1/token: no key / unknown key / malformed header → 401 unauthorized with a Bearer challenge", async () => {
  const { fake, w, keys } = env;
  await fake.reset();
  const unknown = callerKey().key; // well-formed, never configured
  const good = keys.all;
  const cases = [
    ["no Authorization", null, {}],
    ["unknown key", unknown, {}],
    ["empty bearer", null, { authorization: "Bearer " }],
    ["bearer without key", null, { authorization: "Bearer" }],
    ["other scheme", null, { authorization: `Token ${good}` }],
    ["Basic with a valid key", null, { authorization: basicAuth("all", good) }],
    ["key with a suffix", `${good}x`, {}],
    ["key truncated", good.slice(0, -1), {}],
    ["key upper-cased", good.toUpperCase() === good ? `${good}A` : good.toUpperCase(), {}],
    ["the key's sha256 instead of the key", null, { authorization: `Bearer ${JSON.parse(env.callerKeysJson).all.sha256}` }],
  ];
  for (const [name, key, headers] of cases) {
    for (const body of [undefined, { scopes: ["openid"] }]) {
      const r = await v1Token(w, key, body, { headers });
      expectError(r, 401, "unauthorized", name);
      bearerChallenge(r);
      assert.ok(!r.text.includes(good), "the key is not echoed");
    }
  }
  assert.equal(await tokenCalls(fake), 0, "refusals cost no IMS call");
});

test("6.3 /v1/token: wrong credential / wrong scope → 403 forbidden; good → 200", async () => {
  const { fake, w, keys } = env;
  await fake.reset();
  const forbidden = [
    ["limited asks for analytics", keys.limited, { credential: "analytics", scopes: ["openid"] }],
    ["ana-only asks for default (implicitly)", keys["ana-only"], { scopes: ["openid"] }],
    ["ana-only asks for default (explicitly)", keys["ana-only"], { credential: "default" }],
    ["limited asks for AdobeID", keys.limited, { scopes: ["openid", "AdobeID"] }],
    ["limited asks for AdobeID (comma string)", keys.limited, { scopes: "AdobeID" }],
    ["limited's default scopes include AdobeID", keys.limited, undefined],
    ["limited asks for an unlisted scope", keys.limited, { scopes: ["read_organizations"] }],
  ];
  for (const [name, key, body] of forbidden) {
    const r = await v1Token(w, key, body);
    expectError(r, 403, "forbidden", name);
    assert.equal(r.headers.get("www-authenticate"), null, `${name}: no challenge on 403`);
  }
  assert.equal(await tokenCalls(fake), 0, "403s cost no IMS call");

  const allowed = [
    ["all, defaults", keys.all, undefined, "default", "AdobeID,openid"],
    ["all, analytics", keys.all, { credential: "analytics" }, "analytics", "AdobeID,openid"],
    ["limited, openid", keys.limited, { scopes: ["openid"] }, "default", "openid"],
    ["limited, openid twice", keys.limited, { scopes: "openid, openid" }, "default", "openid"],
    ["ana-only, analytics", keys["ana-only"], { credential: "analytics", scopes: ["openid"] }, "analytics", "openid"],
  ];
  for (const [name, key, body, cred, scope] of allowed) {
    const b = expectToken(await v1Token(w, key, body), name);
    assert.equal(b.credential, cred, name);
    assert.equal(b.scope, scope, name);
  }
});

test("6.4 /oauth/token: no client / unknown key / id-key mismatch → 401 invalid_client with a Basic challenge", async () => {
  const { fake, w, keys } = env;
  await fake.reset();
  const unknown = callerKey().key;
  const form = { grant_type: "client_credentials", scope: "openid" };
  const cases = [
    ["no client authentication", form, {}],
    ["Basic, unknown key", form, { basic: ["all", unknown] }],
    ["post, unknown key", { ...form, client_id: "all", client_secret: unknown }, {}],
    ["Basic, key of another caller", form, { basic: ["limited", keys.all] }],
    ["post, key of another caller", { ...form, client_id: "all", client_secret: keys.limited }, {}],
    ["Basic, unknown caller id", form, { basic: ["nobody", keys.all] }],
    ["Basic, and another caller's id as client_id in the form", { ...form, client_id: "limited" }, { basic: ["all", keys.all] }],
    ["post, client_id only", { ...form, client_id: "all" }, {}],
    ["post, client_secret only", { ...form, client_secret: keys.all }, {}],
    ["Bearer instead of Basic", form, { headers: { authorization: `Bearer ${keys.all}` } }],
    ["Basic, garbage", form, { headers: { authorization: "Basic !!!notbase64" } }],
    ["Basic, empty secret", form, { basic: ["all", ""] }],
  ];
  for (const [name, f, opts] of cases) {
    const r = await oauthToken(w, f, opts);
    expectError(r, 401, "invalid_client", name);
    basicChallenge(r);
    assert.ok(!r.text.includes(keys.all), "the key is not echoed");
  }
  assert.equal(await tokenCalls(fake), 0, "refusals cost no IMS call");
});

test("6.5 /oauth/token: wrong credential → 400 unauthorized_client; wrong scope → 400 invalid_scope; good → 200 (Basic and post)", async () => {
  const { fake, w, keys } = env;
  await fake.reset();
  const bad = [
    ["limited asks for analytics", { grant_type: "client_credentials", scope: "openid", credential: "analytics" }, ["limited", keys.limited], 400, "unauthorized_client"],
    ["ana-only asks for default", { grant_type: "client_credentials", scope: "openid" }, ["ana-only", keys["ana-only"]], 400, "unauthorized_client"],
    ["limited asks for AdobeID", { grant_type: "client_credentials", scope: "openid AdobeID" }, ["limited", keys.limited], 400, "invalid_scope"],
    ["limited, default scopes include AdobeID", { grant_type: "client_credentials" }, ["limited", keys.limited], 400, "invalid_scope"],
  ];
  const wrong = []; // every deviation, reported together at the end
  for (const [name, form, [id, key], status, code] of bad) {
    for (const how of ["basic", "post"]) {
      const r = how === "basic" ? await oauthToken(w, form, { basic: [id, key] }) : await oauthToken(w, { ...form, client_id: id, client_secret: key });
      try {
        expectError(r, status, code, `${name} (${how})`);
      } catch {
        wrong.push(`${name} (${how}): expected ${status} ${code}, got ${r.status} ${r.json?.error ?? r.text}`);
      }
      assert.equal(r.headers.get("cache-control"), "no-store", `${name}: error responses are not cached`);
    }
  }
  assert.equal(await tokenCalls(fake), 0);

  const got = [];
  // "basic + client_id": Basic, and the same id as a form parameter (RFC 6749 §3.2.1 allows it;
  // several libraries send it).
  for (const how of ["basic", "post", "basic + client_id"]) {
    const form = { grant_type: "client_credentials", scope: "openid" };
    const r =
      how === "basic"
        ? await oauthToken(w, form, { basic: ["limited", keys.limited] })
        : how === "post"
          ? await oauthToken(w, { ...form, client_id: "limited", client_secret: keys.limited })
          : await oauthToken(w, { ...form, client_id: "limited" }, { basic: ["limited", keys.limited] });
    assert.equal(r.status, 200, `${how}: ${r.text}`);
    assert.equal(r.json.token_type, "Bearer");
    assert.equal(r.json.scope, "openid");
    assert.equal(typeof r.json.access_token, "string");
    assert.ok(Number.isInteger(r.json.expires_in) && r.json.expires_in > 86000, `expires_in ${r.json.expires_in}`);
    assert.equal(r.headers.get("cache-control"), "no-store");
    assert.equal(r.headers.get("pragma"), "no-cache");
    assert.deepEqual(Object.keys(r.json).sort(), ["access_token", "expires_in", "scope", "token_type"]);
    got.push(r.json.access_token);
  }
  assert.equal(got[0], got[1], "Basic and post share the cache entry");
  assert.equal(got[2], got[0], "Basic with client_id too");
  const ana = await oauthToken(w, { grant_type: "client_credentials", scope: "AdobeID openid", credential: "analytics" }, { basic: ["ana-only", keys["ana-only"]] });
  assert.equal(ana.status, 200, ana.text);
  assert.equal(ana.json.scope, "AdobeID openid", "space-separated canonical scope");
  // At most one IMS call per (credential, scope set); 6.3 may have cached them already.
  assert.ok((await tokenCalls(fake)) <= 2, "one IMS call per (credential, scope set)");
  assert.deepEqual(wrong, []);
});

test("6.6 a browser request from another origin → 403 cross_origin_forbidden; from the broker's own origin → served", async () => {
  const { w, keys } = env;
  const own = new URL(w.url).origin;
  const before = await tokenCalls(env.fake);
  const good = await v1Token(w, keys.all, undefined, { headers: { origin: own } });
  expectToken(good, `Origin: ${own}`);
  const u = new URL(w.url);
  const otherPort = `${u.protocol}//${u.hostname}:${Number(u.port) + 1}`;
  const otherHost = `${u.protocol}//${u.hostname === "localhost" ? "127.0.0.1" : "localhost"}:${u.port}`;
  const otherScheme = `https://${u.host}`;
  for (const origin of [otherPort, otherHost, otherScheme, "https://evil.example", "null", `${own}/`]) {
    expectError(await v1Token(w, keys.all, undefined, { headers: { origin } }), 403, "cross_origin_forbidden", `Origin: ${origin}`);
    const admin = await w.fetch("/v1/credentials", { headers: { authorization: `Bearer ${keys.all}`, origin } });
    assert.equal(admin.status, 403, `GET /v1/credentials with Origin: ${origin}`);
  }
  // A browser sends no Origin on a same-origin GET; servers send none at all.
  expectToken(await v1Token(w, keys.all), "no Origin");
  assert.ok((await tokenCalls(env.fake)) - before <= 1, "refusals cost no IMS call");
});
