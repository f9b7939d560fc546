// ims-broker-core installed from its tarball, against the fake Adobe over loopback: caching,
// single-flight, expiry and background refresh, faults, custom stores, the OAuth2 mode,
// secret hygiene and the pure helpers.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import util from "node:util";

import { importPackage, rejection, sleep, startFakeAdobe, waitFor } from "./support.mjs";

const CLIENT = "pkg-client";
const SECRET = "pkg-secret-0123456789";
let pkg;
let fake;

before(async () => {
  pkg = await importPackage();
  fake = await startFakeAdobe({ clients: { [CLIENT]: SECRET } });
});
after(() => fake?.stop());

const calls = async () => (await fake.stats()).token_calls;

function client(extra = {}) {
  return new pkg.TokenClient({ tokenUrl: fake.tokenUrl, clientId: CLIENT, clientSecret: SECRET, scopes: "openid,AdobeID", ...extra });
}

test("first call mints, then memory; equivalent spellings share an entry, other sets do not", async () => {
  await fake.reset();
  const c = client();
  const first = await c.getToken();
  assert.equal(first.source, "miss");
  assert.equal(first.tokenType, "bearer");
  assert.equal(first.scope, "AdobeID,openid");
  assert.ok(first.expiresIn > 86_000 && first.expiresIn <= 86_339, `expiresIn ${first.expiresIn}`);
  assert.ok(Math.abs(first.expiresAt - (Date.now() + first.expiresIn * 1000)) < 2_000);
  for (let i = 0; i < 50; i++) {
    const t = await c.getToken();
    assert.equal(t.accessToken, first.accessToken);
    assert.equal(t.source, "memory");
  }
  for (const spelling of [["openid", " AdobeID", "openid"], "AdobeID,openid", " openid , AdobeID"]) {
    assert.equal((await c.getToken(spelling)).accessToken, first.accessToken);
  }
  assert.equal(await calls(), 1);
  const other = await c.getToken(["openid"]);
  assert.notEqual(other.accessToken, first.accessToken);
  assert.equal(other.scope, "openid");
  assert.equal(await calls(), 2);
  assert.equal(c.cacheKey(["openid", "AdobeID"]), c.cacheKey());
  assert.equal(c.cacheKey(), pkg.cacheKey("default", CLIENT, "AdobeID,openid"));
});

test("scope spellings are remembered per client, past 256 of them, and a reused array is read again", async () => {
  await fake.reset();
  const c = client();
  const d = client();
  // 300 distinct sets (more than the 256 spellings a client remembers): one call each, then hits.
  const sets = Array.from({ length: 300 }, (_, i) => ["openid", `s${i}`]);
  const first = [];
  for (const s of sets) first.push((await c.getToken(s)).accessToken);
  assert.equal(await calls(), 300);
  for (const [i, s] of sets.entries()) {
    const t = await c.getToken([...s].reverse());
    assert.equal(t.accessToken, first[i], `set ${i} again, another spelling`);
    assert.equal(t.scope, `openid,s${i}`);
  }
  assert.equal(await calls(), 300, "remembered spellings and fresh ones hit the same entries");
  // Another client with the same spelling gets its own cache; one client's handle is refused by
  // another (the handles are internal, but must not mix caches).
  assert.notEqual((await d.getToken(sets[0])).accessToken, first[0]);
  assert.equal(await calls(), 301);
  const foreign = await rejection(() => c._getTokenFor(d._scopeEntry(sets[0])));
  assert.match(foreign.message, /another client/);
  // The same array object, changed in place, is a new scope set.
  const reused = ["openid", "s0"];
  assert.equal((await c.getToken(reused)).accessToken, first[0]);
  reused[1] = "s1";
  assert.equal((await c.getToken(reused)).accessToken, first[1]);
  reused.push("s_new");
  const grown = await c.getToken(reused);
  assert.equal(grown.scope, "openid,s1,s_new");
  assert.equal(await calls(), 302);
  // A bad spelling is refused each time it is asked, never remembered as good.
  for (let i = 0; i < 2; i++) {
    const e = await rejection(() => c.getToken(["openid", "bad scope"]));
    assert.equal(e.code, "invalid_scope", `attempt ${i}: ${e.message}`);
  }
  assert.equal(await calls(), 302);
});

test("100 concurrent getToken on a cold cache share one upstream call", async () => {
  await fake.reset();
  await fake.config({ delay_ms: 300 });
  const c = client();
  const all = await Promise.all(Array.from({ length: 100 }, () => c.getToken()));
  assert.equal(await calls(), 1);
  assert.equal(new Set(all.map((t) => t.accessToken)).size, 1);
  assert.equal(all.filter((t) => t.source === "miss").length, 100);
  await fake.reset();
});

test("a short-lived token is refreshed in the background after 23/24 and never handed out past expiresAt", async () => {
  await fake.reset();
  await fake.config({ expires_in: 2 }); // skew 0.2 s: usable 1.8 s, refresh from ~1.725 s
  const errors = [];
  const c = client({ onError: (e, source) => errors.push([source, e.code]) });
  const started = Date.now();
  const first = await c.getToken();
  assert.ok(first.expiresIn <= 1);
  assert.ok(first.expiresAt <= started + 1_800 + 50);
  await sleep(Math.max(0, started + 1_740 - Date.now()));
  const stale = await c.getToken();
  assert.equal(stale.source, "stale");
  assert.equal(stale.accessToken, first.accessToken, "served at once while the refresh runs");
  await waitFor(async () => (await calls()) === 2, { what: "background refresh" });
  const fresh = await c.getToken();
  assert.equal(fresh.source, "memory");
  assert.notEqual(fresh.accessToken, first.accessToken);
  assert.equal(await calls(), 2, "exactly one refresh");

  // IMS now fails for good: the cached token is served until its usable end, never after.
  await fake.faults([{ kind: "status500", count: 0 }]);
  let last;
  for (;;) {
    const now = Date.now();
    let t;
    try {
      t = await c.getToken();
    } catch (e) {
      assert.equal(e.code, "upstream_unavailable");
      assert.ok(now >= fresh.expiresAt - 50, `failed ${fresh.expiresAt - now} ms before the usable end`);
      break;
    }
    assert.equal(t.accessToken, fresh.accessToken);
    assert.ok(Date.now() <= t.expiresAt + 5, "handed out after expiresAt");
    last = t;
    await sleep(40);
  }
  assert.ok(last, "the cached token was served while usable");
  assert.ok(errors.some(([source, code]) => source === "refresh" && code === "upstream_unavailable"), JSON.stringify(errors));
  await fake.reset();
});

test("faults: 500 then success, 429 with Retry-After, garbage, timeout, dropped connection", async () => {
  await fake.reset();
  await fake.faults([{ kind: "status500", count: 1 }]);
  assert.equal((await client().getToken()).source, "miss");
  assert.equal(await calls(), 2);

  await fake.reset();
  await fake.faults([{ kind: "status429", retry_after: 1, count: 1 }]);
  const t0 = Date.now();
  await client().getToken();
  assert.ok(Date.now() - t0 >= 950, "waited for Retry-After");
  assert.equal(await calls(), 2);

  await fake.reset();
  await fake.faults([{ kind: "status429", retry_after: 30, count: 1 }]);
  let e = await rejection(() => client().getToken());
  assert.equal(e.code, "upstream_unavailable");
  assert.equal(e.retryAfter, 30);
  assert.equal(e.status, 503);
  assert.equal(e.upstreamStatus, 429);
  assert.equal(await calls(), 1, "a Retry-After beyond the wait limit answers at once");

  await fake.reset();
  await fake.faults([{ kind: "garbage", count: 2 }]);
  e = await rejection(() => client().getToken());
  assert.equal(e.code, "upstream_bad_response");
  assert.equal(typeof e.debugId, "string");
  assert.equal(await calls(), 2, "garbage is retried once");

  await fake.reset();
  await fake.faults([{ kind: "slow", ms: 1_000, count: 3 }]);
  e = await rejection(() => client({ timeoutMs: 150 }).getToken());
  assert.equal(e.code, "upstream_timeout");
  assert.equal(e.status, 504);
  assert.equal(await calls(), 3);

  await fake.reset();
  await fake.faults([{ kind: "drop", count: 3 }]);
  e = await rejection(() => client().getToken());
  assert.equal(e.code, "upstream_unreachable");
  assert.equal(await calls(), 3);
  assert.ok(e instanceof Error && pkg.isImsError(e));
  await fake.reset();
});

test("invalid_client is final, shared by concurrent callers, and cools down", async () => {
  await fake.reset();
  const c = new pkg.TokenClient({ tokenUrl: fake.tokenUrl, clientId: CLIENT, clientSecret: "wrong-secret-xyz" });
  const all = await Promise.allSettled(Array.from({ length: 10 }, () => c.getToken("openid")));
  assert.ok(all.every((r) => r.status === "rejected" && r.reason.code === "upstream_invalid_client"));
  const e = all[0].reason;
  assert.equal(e.status, 502);
  assert.equal(e.upstreamStatus, 400);
  assert.match(e.debugId, /\S/);
  assert.match(e.message, /invalid client_secret parameter/);
  assert.ok(!e.message.includes("wrong-secret-xyz") && !util.inspect(e).includes("wrong-secret-xyz"));
  assert.equal(await calls(), 1);
  await rejection(() => c.getToken("openid"));
  assert.equal(await calls(), 1, "cooling down: no call");
});

test("with a usable cached token every fault still yields that token", async () => {
  await fake.reset();
  const c = client();
  const t = await c.getToken();
  await fake.faults([{ kind: "status500", count: 0 }]);
  for (let i = 0; i < 5; i++) assert.equal((await c.getToken()).accessToken, t.accessToken);
  assert.equal(await calls(), 1);
  await fake.reset();
});

test("custom store: written once with the usable-life TTL, read by another client, failures reported", async () => {
  await fake.reset();
  const data = new Map();
  const puts = [];
  const store = {
    async get(key) {
      return data.get(key) ?? null;
    },
    async put(key, value, ttl) {
      puts.push({ key, ttl });
      data.set(key, value);
    },
  };
  const a = client({ store });
  const t = await a.getToken();
  assert.equal(puts.length, 1);
  assert.equal(puts[0].key, a.cacheKey());
  assert.ok(puts[0].ttl >= 86_330 && puts[0].ttl <= 86_339, `ttl ${puts[0].ttl}`);
  assert.equal(JSON.parse(data.get(a.cacheKey())).access_token, t.accessToken);
  const b = client({ store });
  const fromStore = await b.getToken();
  assert.equal(fromStore.source, "store");
  assert.equal(fromStore.accessToken, t.accessToken);
  assert.equal((await b.getToken()).source, "memory", "a store hit is kept in memory");
  assert.equal(await calls(), 1);

  const errors = [];
  const broken = {
    get: () => Promise.reject(new Error("redis down")),
    put: () => {
      throw new Error("redis still down");
    },
  };
  const c = client({ store: broken, onError: (e, source) => errors.push(`${source}: ${e.message}`) });
  assert.equal((await c.getToken()).source, "miss");
  assert.deepEqual(errors, ["store_get: redis down", "store_put: redis still down"]);

  const shared = new pkg.MemoryStore();
  await client({ store: shared }).getToken(["openid"]);
  assert.equal((await client({ store: shared }).getToken(["openid"])).source, "store");
  assert.equal(shared.size, 1);
  assert.ok(!util.inspect(shared).includes("eyJ"));
});

test("OAuth2 mode: any RFC 6749 endpoint, Basic or post client auth, space-separated scopes", async (t) => {
  const seen = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      const form = new URLSearchParams(body);
      const basic = req.headers.authorization?.startsWith("Basic ")
        ? Buffer.from(req.headers.authorization.slice(6), "base64").toString().split(":").map(decodeURIComponent)
        : null;
      const [id, secret] = basic ?? [form.get("client_id"), form.get("client_secret")];
      seen.push({ auth: basic ? "basic" : "post", scope: form.get("scope"), grant: form.get("grant_type") });
      res.setHeader("content-type", "application/json");
      if (id !== "svc" || secret !== "p@ss:w0rd") {
        res.statusCode = 401;
        res.end(JSON.stringify({ error: "invalid_client" }));
        return;
      }
      res.end(JSON.stringify({ access_token: `opaque-${seen.length}`, token_type: "Bearer", expires_in: 3600 }));
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => server.close());
  const tokenUrl = `http://127.0.0.1:${server.address().port}/oauth2/token`;
  const opts = { protocol: "oauth2", tokenUrl, clientId: "svc", clientSecret: "p@ss:w0rd", scopes: "write read" };

  const basic = new pkg.TokenClient(opts);
  const all = await Promise.all(Array.from({ length: 20 }, () => basic.getToken()));
  assert.equal(seen.length, 1);
  assert.deepEqual(seen[0], { auth: "basic", scope: "read write", grant: "client_credentials" });
  assert.equal(all[0].scope, "read write");
  assert.ok(all[0].expiresIn > 3_500 && all[0].expiresIn <= 3_540);
  assert.equal((await basic.getToken(["read", "write"])).source, "memory");

  const post = new pkg.TokenClient({ ...opts, clientAuth: "post" });
  await post.getToken("read");
  assert.deepEqual(seen[1], { auth: "post", scope: "read", grant: "client_credentials" });

  const wrong = new pkg.TokenClient({ ...opts, clientSecret: "nope" });
  const e = await rejection(() => wrong.getToken());
  assert.equal(e.code, "upstream_invalid_client", "a 401 invalid_client is final too");
  assert.equal(seen.length, 3);

  const req = pkg.tokenRequest({ ...opts, clientAuth: "post" });
  assert.equal(req.body, "grant_type=client_credentials&client_id=svc&client_secret=p%40ss%3Aw0rd&scope=read+write");
});

test("secrets are never shown by toString, JSON.stringify, util.inspect or error messages", async () => {
  const secret = new pkg.Secret("p8e-never-print-me");
  for (const shown of [String(secret), JSON.stringify({ secret }), util.inspect(secret), `${secret}`]) {
    assert.ok(!shown.includes("p8e-never-print-me"), shown);
  }
  assert.equal(secret.reveal(), "p8e-never-print-me");
  const c = new pkg.TokenClient({ tokenUrl: fake.tokenUrl, clientId: CLIENT, clientSecret: secret });
  for (const shown of [String(c), JSON.stringify(c), util.inspect(c), util.inspect(c, { showHidden: true, depth: 9 })]) {
    assert.ok(!shown.includes("p8e-never-print-me"), shown);
    assert.ok(!shown.includes(SECRET), shown);
  }
  assert.equal(c.toJSON().clientSecret, "[redacted]");
  const withString = client();
  assert.ok(!util.inspect(withString, { showHidden: true, depth: 9 }).includes(SECRET));
  const e = await rejection(() => new pkg.TokenClient({ tokenUrl: fake.tokenUrl, clientId: CLIENT, clientSecret: "bad-secret-123" }).getToken());
  assert.ok(!`${e.message} ${e.stack} ${util.inspect(e)}`.includes("bad-secret-123"));
});

test("pure helpers: scopes, cache key, token request and response, claims, cache decision", async () => {
  assert.deepEqual(pkg.canonicalScopes(" openid,AdobeID,openid"), { list: ["AdobeID", "openid"], comma: "AdobeID,openid", space: "AdobeID openid" });
  assert.deepEqual(pkg.canonicalScopes("b a", " ").list, ["a", "b"]);
  let e = await rejection(() => pkg.canonicalScopes(["ok", "no way"]));
  assert.equal(e.code, "invalid_scope");
  assert.equal(pkg.cacheKey("default", "c", ["b", "a"]), pkg.cacheKey("default", "c", "a,b"));

  const req = pkg.tokenRequest({ tokenUrl: fake.tokenUrl, clientId: CLIENT, clientSecret: SECRET, scopes: ["openid", "AdobeID"] });
  assert.equal(req.method, "POST");
  const sentAt = Date.now();
  const res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body });
  const parsed = pkg.parseTokenResponse({ status: res.status, headers: res.headers, body: await res.text() }, sentAt);
  assert.equal(parsed.expiresAt, sentAt + 86_399_000);
  const claims = pkg.decodeClaims(parsed.accessToken);
  assert.equal(claims.expiresIn, 86_399_000);
  assert.ok(Math.abs(claims.createdAt - sentAt) < 5_000);
  e = await rejection(() => pkg.parseTokenResponse({ status: 400, headers: [["x-debug-id", "d-1"]], body: '{"error":"invalid_scope","error_description":"nope"}' }, 0));
  assert.deepEqual([e.code, e.debugId, e.status], ["invalid_scope", "d-1", 400]);
  e = await rejection(() => pkg.decodeClaims("not-a-jwt"));
  assert.equal(e.code, "invalid_token");

  const d = pkg.cacheDecision({ sentAt: 0, expiresAt: 86_399_000 }, 0);
  assert.deepEqual(d, { freshness: "fresh", lifetimeMs: 86_399_000, skewMs: 60_000, usableUntil: 86_339_000, refreshAt: 82_741_541, expiresIn: 86_339, storeTtl: 86_339 });
  assert.equal(pkg.cacheDecision({ sentAt: 0, expiresAt: 86_399_000 }, 82_741_541).freshness, "stale");
  assert.equal(pkg.cacheDecision({ sentAt: 0, expiresAt: 86_399_000 }, 86_339_000).freshness, "unusable");
  assert.equal(pkg.DEFAULT_TOKEN_URL, "https://ims-na1.adobelogin.com/ims/token/v3");
  assert.equal(pkg.MANAGEMENT_SCOPES.length, 8);
});

test("bad options and scopes are clear errors, never a call", async () => {
  await fake.reset();
  for (const [opts, code] of [
    [{ clientSecret: "x" }, "invalid_options"],
    [{ clientId: "a" }, "invalid_options"],
    [{ clientId: "a", clientSecret: "x", protocol: "oauth2" }, "invalid_options"],
    [{ clientId: "a", clientSecret: "x", scopes: "open id" }, "invalid_scope"],
    [{ clientId: "a", clientSecret: "x", store: "redis" }, "invalid_options"],
    [{ clientId: "a", clientSecret: "x", clientAuth: "post" }, "invalid_options"],
    // The secret is sent to tokenUrl: https, or plain http to a loopback host only.
    [{ clientId: "a", clientSecret: "x", tokenUrl: "http://ims-na1.adobelogin.com/ims/token/v3" }, "invalid_options"],
    [{ clientId: "a", clientSecret: "x", tokenUrl: "http://10.0.0.1/token" }, "invalid_options"],
    [{ clientId: "a", clientSecret: "x", tokenUrl: "not a url" }, "invalid_options"],
  ]) {
    const err = await rejection(() => new pkg.TokenClient(opts));
    assert.equal(err.code, code, JSON.stringify(opts));
    assert.equal(err.name, "ImsError");
  }
  assert.match((await rejection(() => new pkg.TokenClient({ clientId: "a", clientSecret: "x", tokenUrl: "http://example.com/t" }))).message, /tokenUrl is invalid: must use https/);
  for (const tokenUrl of ["https://ims.example.com/t", "http://127.0.0.1:9/t", "http://localhost:9/t", "http://[::1]:9/t"]) {
    new pkg.TokenClient({ clientId: "a", clientSecret: "x", tokenUrl });
  }
  const mgmt = await rejection(() => client().secrets({ orgId: "1", credentialId: "2", baseUrl: "http://api.adobe.io" }));
  assert.equal(mgmt.code, "invalid_options");
  const c = client();
  assert.equal((await rejection(() => c.getToken(["bad scope"]))).code, "invalid_scope");
  assert.equal((await rejection(() => c.getToken(Array.from({ length: 65 }, (_, i) => `s${i}`)))).code, "invalid_scope");
  assert.equal(await calls(), 0);
});

test("invalidate(scopes) drops one scope set's token: its next call mints, the others stay cached", async () => {
  await fake.reset();
  const c = client();
  const a = await c.getToken();
  const o = await c.getToken("openid");
  assert.equal(await calls(), 2);
  c.invalidate(["openid", "AdobeID"]); // another spelling of the default set
  const a2 = await c.getToken();
  assert.equal(a2.source, "miss");
  assert.notEqual(a2.accessToken, a.accessToken);
  assert.equal(await calls(), 3);
  assert.equal((await c.getToken()).source, "memory", "then cached again");
  assert.equal((await c.getToken("openid")).accessToken, o.accessToken, "other scope sets are kept");
  assert.equal(await calls(), 3);
  assert.equal((await rejection(() => c.invalidate("bad scope"))).code, "invalid_scope");
});

test("invalidate() drops every scope set's token; a shared store does not hand it back", async () => {
  await fake.reset();
  const store = new pkg.MemoryStore();
  const c = client({ store });
  const before = await Promise.all([c.getToken(), c.getToken("openid"), c.getToken(["AdobeID"])]);
  assert.equal(await calls(), 3);
  c.invalidate();
  const after = await Promise.all([c.getToken(), c.getToken("openid"), c.getToken(["AdobeID"])]);
  assert.equal(await calls(), 6, "one new IMS call per scope set");
  for (const [i, t] of after.entries()) {
    assert.equal(t.source, "miss", `set ${i}: not the store's copy`);
    assert.notEqual(t.accessToken, before[i].accessToken);
  }
  // The new tokens replaced the store's: another client sharing it gets them.
  const other = await client({ store }).getToken("openid");
  assert.equal(other.source, "store");
  assert.equal(other.accessToken, after[1].accessToken);
  assert.equal(await calls(), 6);
});

test("getToken(scopes, { forceRefresh: true }) makes a new IMS call; concurrent forced calls share it", async () => {
  await fake.reset();
  const store = new pkg.MemoryStore();
  const c = client({ store });
  const first = await c.getToken();
  const forced = await c.getToken(undefined, { forceRefresh: true });
  assert.equal(forced.source, "miss");
  assert.notEqual(forced.accessToken, first.accessToken);
  assert.equal(await calls(), 2);
  assert.equal((await c.getToken()).accessToken, forced.accessToken, "the new token is the cached one");
  assert.equal((await c.getToken("AdobeID,openid", { forceRefresh: false })).source, "memory");
  assert.equal(JSON.parse(store.get(c.cacheKey())).access_token, forced.accessToken, "and the store's");
  await fake.config({ delay_ms: 200 });
  const all = await Promise.all(Array.from({ length: 10 }, () => c.getToken(["openid", "AdobeID"], { forceRefresh: true })));
  assert.equal(new Set(all.map((t) => t.accessToken)).size, 1);
  assert.equal(await calls(), 3, "single flight for forced calls too");
  await fake.reset();
});

test("ImsError is a class: every failing call throws or rejects with an instance carrying a stable code", async () => {
  await fake.reset();
  assert.equal(typeof pkg.ImsError, "function");
  const own = new pkg.ImsError("made here", { code: "upstream_unavailable", retryAfter: 3 });
  assert.ok(own instanceof pkg.ImsError && own instanceof Error);
  assert.deepEqual([own.name, own.code, own.retryAfter, own.message], ["ImsError", "upstream_unavailable", 3, "made here"]);
  const codes = new Set(["upstream_invalid_client", "invalid_scope", "upstream_rejected", "upstream_unavailable", "upstream_bad_response", "upstream_timeout", "upstream_unreachable", "upstream_management_error", "invalid_options", "invalid_token", "rotation_ambiguous", "rotation_active_missing", "no_rotation"]);
  const c = client();
  const failing = {
    "new TokenClient": [() => new pkg.TokenClient({ clientSecret: "x" }), "invalid_options"],
    "getToken bad scope": [() => c.getToken(["bad scope"]), "invalid_scope"],
    "getToken wrong secret": [() => client({ clientSecret: "wrong" }).getToken("openid"), "upstream_invalid_client"],
    "getToken unreachable": [() => new pkg.TokenClient({ tokenUrl: "http://127.0.0.1:9/t", clientId: "a", clientSecret: "b", timeoutMs: 500 }).getToken(), "upstream_unreachable"],
    cacheKey: [() => c.cacheKey("bad scope"), "invalid_scope"],
    invalidate: [() => c.invalidate(["no way"]), "invalid_scope"],
    secrets: [() => c.secrets({ orgId: "1" }), "invalid_options"],
    "secrets().list": [() => c.secrets({ orgId: "1", credentialId: "2", baseUrl: fake.url }).list(), "upstream_management_error"],
    "RotationState.plan": [() => new pkg.RotationState().plan([], 0), "no_rotation"],
    canonicalScopes: [() => pkg.canonicalScopes(["a b"]), "invalid_scope"],
    cacheKey_fn: [() => pkg.cacheKey("default", "c", "x y"), "invalid_scope"],
    tokenRequest: [() => pkg.tokenRequest({ clientId: "a" }), "invalid_options"],
    parseTokenResponse: [() => pkg.parseTokenResponse({ status: 200, body: "not json" }, 0), "upstream_bad_response"],
    decodeClaims: [() => pkg.decodeClaims("x"), "invalid_token"],
    generateAccessToken: [() => pkg.generateAccessToken({ clientId: "a" }), "invalid_options"],
  };
  for (const [what, [call, code]] of Object.entries(failing)) {
    const e = await rejection(call);
    assert.ok(e instanceof pkg.ImsError, `${what}: ${e?.constructor?.name} ${e}`);
    assert.ok(e instanceof Error && pkg.isImsError(e), what);
    assert.equal(e.name, "ImsError", what);
    assert.equal(e.code, code, `${what}: ${e.message}`);
    assert.ok(codes.has(e.code), what);
    assert.ok(e.stack.includes(e.message), what);
  }
});

test("store failures without onError go to console.warn once per kind of failure and client", async (t) => {
  await fake.reset();
  const warnings = [];
  t.mock.method(console, "warn", (...args) => warnings.push(args.join(" ")));
  const broken = {
    get: () => Promise.reject(new Error("redis down")),
    put: () => {
      throw new Error("redis still down");
    },
  };
  const c = client({ store: broken });
  assert.equal((await c.getToken()).source, "miss");
  assert.equal((await c.getToken("openid")).source, "miss");
  await c.getToken(undefined, { forceRefresh: true });
  assert.equal(warnings.length, 2, warnings.join("\n"));
  assert.match(warnings[0], /ims-broker-core: the token store's get\(\) failed.*Error: redis down.*onError/);
  assert.match(warnings[1], /ims-broker-core: the token store's put\(\) failed.*Error: redis still down/);
  // Another client warns on its own; a client with onError never warns.
  await client({ store: broken }).getToken();
  assert.equal(warnings.length, 4);
  const seen = [];
  await client({ store: broken, onError: (_e, source) => seen.push(source) }).getToken();
  assert.equal(warnings.length, 4);
  assert.deepEqual(seen, ["store_get", "store_put"]);
  assert.ok(!warnings.join("\n").includes(SECRET));
});
