// Caching: one IMS call per key, shared through KV; equivalent scope spellings share an entry.
//  1. First request → 1 IMS call; the next 50 → 0 more. A fresh Worker instance sharing the
//     same KV state serves from KV with 0 IMS calls.
//  2. Equivalent scope spellings share one entry; different scope sets (and credentials) do not.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { startWorker } from "./harness.mjs";
import {
  expectToken,
  oauthToken,
  readStoredToken,
  requestLogs,
  setup,
  tokenCalls,
  v1Token,
  waitFor,
} from "./support.mjs";

/** Both credentials' configured scopes: the default set, and the most a caller can get. */
const CONFIGURED = "openid,AdobeID,read_organizations";
/** The default set, canonical. */
const DEFAULT = "AdobeID,openid,read_organizations";

let env;
before(async () => {
  env = await setup(null, {
    label: "caching",
    vars: { SCOPES: CONFIGURED },
    credentials: { analytics: { scopes: CONFIGURED } },
  });
});
after(() => env?.stop());

test("1. first request → 1 IMS call, the next 50 → none; a fresh instance on the same KV → none", async (t) => {
  const { fake, w, keys, clientId } = env;
  await fake.reset();
  const key = keys.all;

  const t0 = Date.now();
  const first = await v1Token(w, key);
  const t1 = Date.now();
  const body = expectToken(first, "first request");
  assert.equal(await tokenCalls(fake), 1, "first request made exactly one IMS call");

  // Response shape.
  assert.equal(body.token_type, "bearer");
  assert.equal(body.scope, DEFAULT);
  assert.equal(body.credential, "default");
  // Adobe APIs want the client id as x-api-key next to the token: the answer says it.
  assert.equal(body.client_id, clientId);
  assert.equal(first.headers.get("cache-control"), "no-store");
  assert.match(first.headers.get("content-type") ?? "", /^application\/json/);
  // 86399 s from IMS less skew min(60, 8639.9) = 60 s → 86339 (86338 if a second ticked).
  assert.ok([86339, 86338].includes(body.expires_in), `expires_in ${body.expires_in}`);
  const expiresAt = Date.parse(body.expires_at);
  assert.ok(Number.isFinite(expiresAt), `expires_at is RFC 3339: ${body.expires_at}`);
  assert.match(body.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
  assert.ok(expiresAt >= t0 + 86339_000 - 1000 && expiresAt <= t1 + 86339_000 + 1000, `expires_at ${body.expires_at} ≈ sent + 86339 s`);

  // The token is the one the fake issued, and was requested with the canonical scope list.
  const stats = await fake.stats();
  assert.deepEqual(stats.issued_tokens, [body.access_token]);
  assert.equal(stats.calls[0].client_id, clientId);
  assert.equal(stats.calls[0].scope, DEFAULT);

  // The next 50 (concurrently): same token, no IMS call.
  const rest = await Promise.all(Array.from({ length: 50 }, () => v1Token(w, key)));
  for (const r of rest) assert.equal(expectToken(r).access_token, body.access_token);
  assert.equal(await tokenCalls(fake), 1, "50 more requests made no IMS call");

  // Log lines: one miss, then memory hits.
  await waitFor(() => requestLogs(w).filter((l) => l.route === "POST /v1/token" && l.status === 200).length >= 51, { what: "51 request log lines" });
  const lines = requestLogs(w).filter((l) => l.route === "POST /v1/token" && l.status === 200);
  assert.equal(lines.filter((l) => l.cache === "miss").length, 1, "exactly one miss logged");
  assert.equal(lines.filter((l) => l.cache === "memory").length, 50, "50 memory hits logged");
  const miss = lines.find((l) => l.cache === "miss");
  assert.equal(miss.upstream_status, 200);
  assert.equal(miss.upstream_attempts, 1);
  assert.equal(typeof miss.debug_id, "string");
  assert.equal(miss.caller, "all");
  assert.equal(miss.credential, "default");

  // KV holds the entry under token:v1:default:<client_id>:…
  const listed = await w.kv.list({ prefix: `token:v1:default:${clientId}:` });
  assert.equal(listed.keys.length, 1, `KV keys: ${JSON.stringify(listed.keys.map((k) => k.name))}`);
  const stored = await readStoredToken(w, listed.keys[0].name);
  assert.equal(typeof stored.expires_at_ms, "number", "the KV value carries its own expires_at_ms");

  // A fresh instance (new workerd process, empty memory) on the same KV dir.
  const w2 = await startWorker({ fake, vars: env.vars, secrets: env.secrets, kvPersistDir: w.kvPersistDir, label: "caching-fresh" });
  t.after(() => w2.stop());
  const fromKv = await v1Token(w2, key);
  const b2 = expectToken(fromKv, "fresh instance");
  assert.equal(b2.access_token, body.access_token, "fresh instance serves the KV token");
  assert.equal(b2.scope, DEFAULT);
  assert.ok(Math.abs(Date.parse(b2.expires_at) - expiresAt) <= 1000, "same expires_at from KV");
  assert.equal(await tokenCalls(fake), 1, "fresh instance made no IMS call");
  const again = await Promise.all(Array.from({ length: 5 }, () => v1Token(w2, key)));
  for (const r of again) assert.equal(expectToken(r).access_token, body.access_token);
  assert.equal(await tokenCalls(fake), 1);
  const line = await waitFor(() => requestLogs(w2).find((l) => l.route === "POST /v1/token" && l.status === 200), { what: "fresh instance log line" });
  assert.equal(line.cache, "kv", "fresh instance's first hit is logged as a KV hit");
  await waitFor(() => requestLogs(w2).filter((l) => l.cache === "memory").length >= 5, { what: "memory hits on the fresh instance" });
});

test("2. equivalent scope spellings share one entry; different scope sets and credentials do not", async () => {
  const { fake, w, keys, clientId } = env;
  await fake.reset();
  const key = keys.all;
  // Configured, and not in a set the other tests ask for.
  const scope = "read_organizations";

  // All of these are the canonical set {openid, <scope>}.
  const spellings = [
    { scopes: ["openid", scope] },
    { scopes: [scope, "openid"] },
    { scopes: ["openid", ` ${scope}`, "openid"] },
    { scopes: `${scope},openid` },
    { scopes: ` openid , ${scope} ,openid` },
    { credential: "default", scopes: [`${scope} `, " openid "] },
  ];
  const canonical = [scope, "openid"].sort().join(",");
  let token;
  for (const b of spellings) {
    const r = expectToken(await v1Token(w, key, b), JSON.stringify(b));
    assert.equal(r.scope, canonical, `canonical scope for ${JSON.stringify(b)}`);
    token ??= r.access_token;
    assert.equal(r.access_token, token, `same token for ${JSON.stringify(b)}`);
  }
  // The OAuth endpoint's space-separated spelling is the same entry too.
  for (const s of [`openid ${scope}`, `${scope}  openid`, `openid ${scope} openid`]) {
    const r = await oauthToken(w, { grant_type: "client_credentials", scope: s }, { basic: ["all", key] });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.access_token, token, `oauth scope ${JSON.stringify(s)} shares the entry`);
  }
  assert.equal(await tokenCalls(fake), 1, "all spellings shared one IMS call");
  assert.equal((await fake.stats()).calls[0].scope, canonical, "IMS got the canonical comma list");

  // Default scopes: no body, {}, an empty list and the explicit spelling share one entry
  // (the default credential's entry may already exist from test 1: at most one IMS call).
  const before = await tokenCalls(fake);
  const defaults = [undefined, {}, { scopes: [] }, { credential: "default" }, { scopes: ["AdobeID", "openid", scope] }, { scopes: `openid,AdobeID,${scope}` }];
  let defToken;
  for (const b of defaults) {
    const r = expectToken(await v1Token(w, key, b), JSON.stringify(b));
    assert.equal(r.scope, DEFAULT);
    defToken ??= r.access_token;
    assert.equal(r.access_token, defToken, `same default token for ${JSON.stringify(b)}`);
  }
  assert.notEqual(defToken, token, "default scope set differs from {openid, x}");
  assert.ok((await tokenCalls(fake)) - before <= 1, "default scope set: at most one IMS call");
  // The analytics credential's defaults (the same configured scopes): exactly one new entry.
  const before2 = await tokenCalls(fake);
  let anaDefault;
  for (const b of [{ credential: "analytics" }, { credential: "analytics", scopes: [] }, { credential: "analytics", scopes: ["openid", scope, "AdobeID", "AdobeID"] }]) {
    const r = expectToken(await v1Token(w, key, b), JSON.stringify(b));
    assert.equal(r.scope, DEFAULT);
    assert.equal(r.credential, "analytics");
    anaDefault ??= r.access_token;
    assert.equal(r.access_token, anaDefault, `same analytics default token for ${JSON.stringify(b)}`);
  }
  assert.notEqual(anaDefault, defToken, "same scopes, other credential → other entry");
  assert.equal(await tokenCalls(fake), before2 + 1, "analytics defaults: one IMS call");

  // Different sets: a subset, a superset, another single scope → each its own entry.
  const different = [["openid"], [scope], ["AdobeID", scope]];
  const seen = new Set([token, defToken, anaDefault]);
  let calls = await tokenCalls(fake);
  for (const s of different) {
    const r = expectToken(await v1Token(w, key, { scopes: s }), JSON.stringify(s));
    assert.equal(r.scope, [...new Set(s)].sort().join(","));
    assert.ok(!seen.has(r.access_token), `scope set ${JSON.stringify(s)} got its own token`);
    seen.add(r.access_token);
    assert.equal(await tokenCalls(fake), ++calls, `scope set ${JSON.stringify(s)} made its own IMS call`);
    // ... and is cached itself.
    assert.equal(expectToken(await v1Token(w, key, { scopes: s })).access_token, r.access_token);
    assert.equal(await tokenCalls(fake), calls);
  }

  // Same scopes, another credential → another entry (another client id at IMS).
  const other = expectToken(await v1Token(w, key, { credential: "analytics", scopes: ["openid", scope] }));
  assert.equal(other.credential, "analytics");
  assert.ok(!seen.has(other.access_token), "another credential got its own token");
  assert.equal(await tokenCalls(fake), ++calls);
  const lastCall = (await fake.stats()).calls.at(-1);
  assert.notEqual(lastCall.client_id, clientId, "the analytics credential used its own client id");
  assert.equal(other.client_id, lastCall.client_id, "the answer names the analytics credential's client id");
  assert.equal(expectToken(await v1Token(w, key, { credential: "analytics", scopes: `${scope},openid` })).access_token, other.access_token);
  assert.equal(await tokenCalls(fake), calls);

  // KV: one entry per (credential, client id, scope set).
  const listed = await w.kv.list({ prefix: "token:v1:" });
  const names = listed.keys.map((k) => k.name);
  assert.equal(new Set(names).size, names.length);
  assert.ok(names.filter((n) => n.startsWith(`token:v1:default:${clientId}:`)).length >= 5, `KV keys: ${names.join(", ")}`);
  assert.equal(names.filter((n) => n.startsWith(`token:v1:analytics:${lastCall.client_id}:`)).length, 2, `KV keys: ${names.join(", ")}`);
});
