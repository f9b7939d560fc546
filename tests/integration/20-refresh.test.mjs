// A token issued with a short expires_in is refreshed in the background after
// 23/24 of its usable life and never handed out past expires_at - skew; the KV TTL written is
// as specified (read from KV's listing, not by sleeping).
//
// With expires_in 6: lifetime 6 s, skew 0.6 s, usable until sent + 5.4 s, refresh (stale) from
// sent + 5.175 s. `sent` lies in [t0, t1] (just before / after the minting request).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import {
  expectError,
  expectToken,
  jsonLogs,
  requestLogs,
  readStoredToken,
  setup,
  sleep,
  tokenCalls,
  uniqueScopes,
  v1Token,
  waitFor,
} from "./support.mjs";

let env;
before(async () => {
  env = await setup(null, { scopePool: true, label: "refresh", workers: 2 });
  // Warm both instances up (Wasm compile, config parse) so later mints are quick.
  for (const w of env.workers) expectToken(await v1Token(w, env.keys.all, { scopes: ["openid"] }), "warm-up");
});

/** KV keys (with expiration) written since `before` (a list of names). */
async function newKvKeys(w, before) {
  const { keys } = await w.kv.list({ prefix: "token:v1:" });
  return keys.filter((k) => !before.includes(k.name));
}
const kvNames = async (w) => (await w.kv.list({ prefix: "token:v1:" })).keys.map((k) => k.name);
after(() => env?.stop());

/** Sleeps until the wall clock reaches `at` (ms since epoch). */
async function until(at) {
  const d = at - Date.now();
  if (d > 0) await sleep(d);
}

/** Mints a token for `scopes`; returns it with the [t0, t1] window around its sending. */
async function mint(w, key, scopes) {
  const t0 = Date.now();
  const r = await v1Token(w, key, { scopes });
  const t1 = Date.now();
  return { body: expectToken(r, "mint"), t0, t1 };
}

test("3a. KV TTL: expires_in 86399 → expiration ≈ sent + 86339 s; expires_in 6 → write + 65 s", async () => {
  const { fake, w, keys, clientId } = env;
  await fake.reset();

  const longScopes = uniqueScopes("ttl_long");
  const before0 = await kvNames(w);
  const long = await mint(w, keys.all, longScopes);
  const keysLong = await newKvKeys(w, before0);
  assert.equal(keysLong.length, 1, JSON.stringify(keysLong));
  assert.ok(keysLong[0].name.startsWith(`token:v1:default:${clientId}:`), keysLong[0].name);
  const exp = keysLong[0].expiration;
  assert.equal(typeof exp, "number", `KV key has an expiration: ${JSON.stringify(keysLong[0])}`);
  assert.ok(exp >= long.t0 / 1000 + 86339 - 2 && exp <= long.t1 / 1000 + 86339 + 2, `expiration ${exp} ≈ sent + 86339 s (sent in [${long.t0 / 1000}, ${long.t1 / 1000}])`);
  const storedLong = await readStoredToken(w, keysLong[0].name);
  assert.ok(storedLong.expires_at_ms >= long.t0 + 86399_000 && storedLong.expires_at_ms <= long.t1 + 86399_000, `stored expires_at_ms ${storedLong.expires_at_ms} = sent + 86399 s`);

  await fake.config({ expires_in: 6 });
  const shortScopes = uniqueScopes("ttl_short");
  const before1 = await kvNames(w);
  const short = await mint(w, keys.all, shortScopes);
  assert.ok([4, 5].includes(short.body.expires_in), `expires_in counts down to sent + 5.4 s: ${short.body.expires_in}`);
  const usable = Date.parse(short.body.expires_at);
  // RFC 3339 may be written in whole seconds (rounded down: never later than the usable end).
  assert.ok(usable >= Math.floor((short.t0 + 5400) / 1000) * 1000 && usable <= short.t1 + 5400, `expires_at ${short.body.expires_at} = sent + 5.4 s (t0 ${new Date(short.t0).toISOString()})`);
  const added = await newKvKeys(w, before1);
  assert.equal(added.length, 1, JSON.stringify(added));
  const shortKey = added[0];
  assert.ok(shortKey.expiration >= short.t0 / 1000 + 65 - 2 && shortKey.expiration <= short.t1 / 1000 + 65 + 2, `expiration ${shortKey.expiration} ≈ write + 65 s (t0 ${short.t0 / 1000})`);
  const storedShort = await readStoredToken(w, shortKey.name);
  assert.ok(storedShort.expires_at_ms >= short.t0 + 6000 && storedShort.expires_at_ms <= short.t1 + 6000, `stored expires_at_ms = sent + 6 s`);
  assert.equal(await tokenCalls(fake), 2);
  await fake.reset();
});

test("3b. background refresh after 23/24 of the usable life: served stale without waiting, exactly one refresh, then the new token", async () => {
  const { fake, w, keys } = env;
  await fake.reset();
  await fake.config({ expires_in: 6 });
  const scopes = uniqueScopes("refresh");
  const { body: first, t0, t1 } = await mint(w, keys.all, scopes);
  assert.ok(t1 - t0 < 150, `minting took ${t1 - t0} ms; the stale window needs it short`);
  assert.equal(await tokenCalls(fake), 1);

  // Fresh until sent + 5.175 s: served from memory, no IMS call.
  await until(t0 + 2500);
  assert.equal(expectToken(await v1Token(w, keys.all, { scopes })).access_token, first.access_token);
  await until(t0 + 5000);
  assert.equal(expectToken(await v1Token(w, keys.all, { scopes })).access_token, first.access_token);
  assert.equal(await tokenCalls(fake), 1, "no refresh before 23/24 of the usable life");

  // The refresh will be slow at IMS: callers must not wait for it.
  await fake.config({ expires_in: 6, delay_ms: 800 });

  // Stale window [sent + 5.175 s, sent + 5.4 s): several concurrent requests all get the old
  // token at once, and only ONE background refresh starts.
  await until(t1 + 5200);
  const start = Date.now();
  assert.ok(start < t0 + 5380, `timer overshoot: at ${start - t0} ms, past the stale window`);
  const stale = await Promise.all(Array.from({ length: 5 }, () => v1Token(w, keys.all, { scopes })));
  const took = Date.now() - start;
  for (const r of stale) {
    const b = expectToken(r, "stale request");
    assert.equal(b.access_token, first.access_token, "stale token served while refreshing");
    assert.equal(b.expires_in, 0, "expires_in counts down to sent + 5.4 s");
  }
  assert.ok(took < 500, `stale requests answered without waiting for IMS (took ${took} ms)`);

  await waitFor(async () => (await tokenCalls(fake)) >= 2, { timeoutMs: 3000, what: "the background refresh's IMS call" });
  const refresh = await w.waitForLog(/"msg":"background_refresh"/, { timeoutMs: 3000 });
  assert.match(refresh, /"ok":true/, `background refresh succeeded: ${refresh}`);

  const next = expectToken(await v1Token(w, keys.all, { scopes }), "after refresh");
  assert.notEqual(next.access_token, first.access_token, "the refreshed token is served");
  assert.ok(next.expires_in >= 4, `new token's expires_in ${next.expires_in}`);
  await sleep(300);
  assert.equal(await tokenCalls(fake), 2, "exactly one background refresh");

  const lines = requestLogs(w).filter((l) => l.status === 200 && l.route === "POST /v1/token");
  assert.ok(lines.filter((l) => l.cache === "stale").length >= 5, "stale hits logged as cache: stale");
  assert.equal(jsonLogs(w).filter((l) => l.msg === "background_refresh").length, 1, "one background_refresh line");

  // The other instance (same KV) picks up the refreshed token from KV, no IMS call.
  const other = expectToken(await v1Token(env.workers[1], keys.all, { scopes }));
  assert.equal(other.access_token, next.access_token, "the refreshed token was written to KV");
  assert.equal(await tokenCalls(fake), 2);
  await fake.reset();
});

test("3c. a token is never handed out past expires_at - skew (memory or KV), even when its refresh fails", async () => {
  const { fake, workers, keys } = env;
  const [w, w2] = workers;
  await fake.reset();
  await fake.config({ expires_in: 6 });
  const scopes = uniqueScopes("never_past");
  const { body: first, t0, t1 } = await mint(w, keys.all, scopes);
  assert.ok(t1 - t0 < 150, `minting took ${t1 - t0} ms`);
  const deadline = t1 + 5400; // ≥ sent + 5.4 s

  // From now on IMS fails every call (500) until reset: the refresh fails.
  await fake.faults([{ kind: "status500", count: 0 }]);

  // Stale window: still served (a usable token exists), refresh starts and fails.
  await until(t1 + 5200);
  const s = Date.now();
  const r = await v1Token(w, keys.all, { scopes });
  if (s < t0 + 5380) assert.equal(expectToken(r, "stale").access_token, first.access_token);

  // Past sent + 5.4 s, from memory (w) and from KV (w2, whose KV entry still lives for ~60 s):
  // an error or a new token, never the old one.
  await until(deadline + 30);
  const outcomes = [];
  const endAt = Date.now() + 2000;
  while (Date.now() < endAt) {
    const startedAt = Date.now();
    const [a, b] = await Promise.all([v1Token(w, keys.all, { scopes }), v1Token(w2, keys.all, { scopes })]);
    for (const [name, x] of [["memory", a], ["kv", b]]) {
      outcomes.push(`${name}:${x.status}:${x.json?.error ?? ""}`);
      if (x.status === 200) {
        assert.notEqual(x.json.access_token, first.access_token, `${name} instance handed out the old token ${startedAt - t1} ms after minting (usable until 5400)`);
        assert.ok(Date.parse(x.json.expires_at) > startedAt, "a served token is still usable");
      } else {
        expectError(x, 503, "upstream_unavailable", `${name} instance after expiry`);
      }
    }
    await sleep(150);
  }
  assert.ok(outcomes.length >= 4, outcomes.join(" "));
  const kvKeys = (await w.kv.list({ prefix: "token:v1:" })).keys;
  assert.ok(kvKeys.length >= 1, "the expired entry may still be in KV; its own expires_at_ms is what counts");

  // IMS recovers: after the cooldown a new token is minted.
  await fake.reset();
  await fake.config({ expires_in: 6 });
  const fresh = await waitFor(async () => {
    const x = await v1Token(w, keys.all, { scopes });
    return x.status === 200 ? x.json : null;
  }, { timeoutMs: 4000, intervalMs: 200, what: "a new token after IMS recovers" });
  assert.notEqual(fresh.access_token, first.access_token);
  await fake.reset();
});
