// Each injected fault (500 then success; 429 with Retry-After; garbage; slow
// beyond the timeout; dropped connection; invalid_client) → the right status, code and IMS call
// count; and with a usable cached token, every fault still yields that token.
//
// The broker runs with IMS_TIMEOUT_MS=1000 and the default MAX_RETRY_WAIT_S=5. Every scenario
// uses its own scope set (its own cache key and cooldown).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import {
  expectError,
  expectToken,
  jsonLogs,
  requestLogs,
  setup,
  sleep,
  tokenCalls,
  uniqueScopes,
  v1Token,
  waitFor,
} from "./support.mjs";

const VARS = { IMS_TIMEOUT_MS: "1000" };

let env;
before(async () => {
  env = await setup(null, { scopePool: true, label: "faults", vars: VARS });
});
after(() => env?.stop());

/**
 * Runs one cold-cache scenario: reset the fake, queue `faults`, request a fresh scope set.
 * @returns {Promise<{r, calls: number, ms: number, scopes: string[], stats: any}>}
 */
async function scenario(faults, tag) {
  const { fake, w, keys } = env;
  await fake.reset();
  if (faults.length) await fake.faults(faults);
  const scopes = uniqueScopes(tag);
  const start = Date.now();
  const r = await v1Token(w, keys.all, { scopes });
  const ms = Date.now() - start;
  const stats = await fake.stats();
  return { r, ms, scopes, stats, calls: stats.token_calls };
}

/** The request log line of the last request with these scopes' error code. */
async function lastLine(pred) {
  return waitFor(() => requestLogs(env.w).filter(pred).at(-1), { what: "request log line" });
}

/** 5xx bodies: only error, error_description and (when Adobe answered) debug_id; no internals. */
function assertNoInternals(r) {
  const allowed = new Set(["error", "error_description", "debug_id"]);
  for (const k of Object.keys(r.json)) assert.ok(allowed.has(k), `unexpected field ${k} in ${r.text}`);
  const fakeUrl = new URL(env.fake.url);
  for (const leak of [fakeUrl.host, `:${fakeUrl.port}`, "127.0.0.1", env.clientId, env.clientSecret, "/ims/token", "panicked", "wasm", "HTTP 5", "stack"]) {
    assert.ok(!r.text.includes(leak), `error body leaks ${JSON.stringify(leak)}: ${r.text}`);
  }
}

/** debug_id in body and x-debug-id header agree and came from the fake. */
function assertDebugId(r) {
  const id = r.json.debug_id;
  assert.equal(typeof id, "string", `debug_id in ${r.text}`);
  assert.equal(r.headers.get("x-debug-id"), id, "x-debug-id header = body debug_id");
  assert.ok(env.fake.logs().some((l) => l.includes(`x-debug-id=${id}`)), `debug_id ${id} is one the fake sent`);
}

test("5.1 status 500 once, then success → 200 after 2 IMS calls", async () => {
  const { r, calls, scopes } = await scenario([{ kind: "status500", count: 1 }], "f500once");
  expectToken(r, "500 then success");
  assert.equal(calls, 2);
  const line = await lastLine((l) => l.status === 200 && l.upstream_attempts !== undefined);
  assert.equal(line.upstream_attempts, 2);
  assert.equal(line.upstream_status, 200);
  // Cached afterwards.
  assert.equal(expectToken(await v1Token(env.w, env.keys.all, { scopes })).access_token, r.json.access_token);
  assert.equal(await tokenCalls(env.fake), 2);
});

test("5.2 status 500 on every call → 503 upstream_unavailable after 3 calls, then a cooldown with 0 calls", async () => {
  const { r, calls, scopes } = await scenario([{ kind: "status500", count: 0 }], "f500always");
  expectError(r, 503, "upstream_unavailable");
  assert.equal(calls, 3, "three attempts");
  assertNoInternals(r);
  assertDebugId(r);
  const line = await lastLine((l) => l.error === "upstream_unavailable" && l.upstream_attempts !== undefined);
  assert.equal(line.upstream_attempts, 3);
  assert.equal(line.upstream_status, 500);
  assert.equal(line.debug_id, r.json.debug_id);

  // Cooldown (1 s without Retry-After): the same error, no IMS call.
  const again = await v1Token(env.w, env.keys.all, { scopes });
  expectError(again, 503, "upstream_unavailable", "during cooldown");
  assert.equal(await tokenCalls(env.fake), 3, "no IMS call during the cooldown");

  // IMS recovers; after the cooldown the key works again.
  await env.fake.reset();
  await sleep(1100);
  expectToken(await v1Token(env.w, env.keys.all, { scopes }), "after cooldown");
  assert.equal(await tokenCalls(env.fake), 1);
});

test("5.3 429 with Retry-After: 1 (≤ MAX_RETRY_WAIT_S) once → waits ~1 s, then 200 (2 calls)", async () => {
  const { r, calls, ms, stats } = await scenario([{ kind: "status429", retry_after: 1, count: 1 }], "f429once");
  expectToken(r, "429 then success");
  assert.equal(calls, 2);
  const gap = stats.calls[1].at_ms - stats.calls[0].at_ms;
  assert.ok(gap >= 950, `Retry-After honoured: second call ${gap} ms after the first`);
  assert.ok(ms >= 950 && ms < 3000, `took ${ms} ms`);
});

test("5.4 429 with Retry-After: 30 (> MAX_RETRY_WAIT_S) → 503 with Retry-After at once, 1 call; cooldown keeps answering it", async () => {
  const { r, calls, ms, scopes } = await scenario([{ kind: "status429", retry_after: 30, count: 0 }], "f429long");
  expectError(r, 503, "upstream_unavailable");
  assert.equal(calls, 1, "no retry when Retry-After exceeds MAX_RETRY_WAIT_S");
  assert.ok(ms < 1000, `answered at once (${ms} ms)`);
  const ra = Number(r.headers.get("retry-after"));
  assert.ok(ra >= 28 && ra <= 30, `Retry-After header ${r.headers.get("retry-after")}`);
  assertNoInternals(r);
  assertDebugId(r);

  await env.fake.reset(); // IMS would now answer; the broker must still honour Adobe's 30 s
  const again = await v1Token(env.w, env.keys.all, { scopes });
  expectError(again, 503, "upstream_unavailable", "during Retry-After cooldown");
  const ra2 = Number(again.headers.get("retry-after"));
  assert.ok(ra2 >= 27 && ra2 <= 30, `Retry-After during cooldown ${again.headers.get("retry-after")}`);
  assert.equal(await tokenCalls(env.fake), 0, "no IMS call while Adobe's Retry-After runs");
});

test("5.5 429 on every call, Retry-After: 1 → 3 calls, 503 upstream_unavailable with Retry-After", async () => {
  const { r, calls } = await scenario([{ kind: "status429", retry_after: 1, count: 0 }], "f429always");
  expectError(r, 503, "upstream_unavailable");
  assert.equal(calls, 3);
  assert.ok(Number(r.headers.get("retry-after")) >= 1, `Retry-After header: ${r.headers.get("retry-after")}`);
  assertDebugId(r);
});

test("5.6 429 on every call without Retry-After → 3 calls, 503 upstream_unavailable", async () => {
  const { r, calls } = await scenario([{ kind: "status429", count: 0 }], "f429noRA");
  expectError(r, 503, "upstream_unavailable");
  assert.equal(calls, 3);
  assertNoInternals(r);
});

test("5.7 garbage body: once → 200 (2 calls); always → 502 upstream_bad_response (2 calls)", async () => {
  const once = await scenario([{ kind: "garbage", count: 1 }], "fgarbage1");
  expectToken(once.r, "garbage then success");
  assert.equal(once.calls, 2);

  const always = await scenario([{ kind: "garbage", count: 0 }], "fgarbage");
  expectError(always.r, 502, "upstream_bad_response");
  assert.equal(always.calls, 2, "a garbage body is retried once only");
  assertNoInternals(always.r);
  assertDebugId(always.r);
  assert.ok(!always.r.text.includes("oops"), "Adobe's garbage is not echoed");
});

test("5.8 slow beyond IMS_TIMEOUT_MS: once → 200 (2 calls); always → 504 upstream_timeout (3 calls)", async () => {
  const once = await scenario([{ kind: "slow", ms: 2500, count: 1 }], "fslow1");
  expectToken(once.r, "slow then success");
  assert.equal(once.calls, 2);
  assert.ok(once.ms >= 950, `waited for the timeout (${once.ms} ms)`);

  const always = await scenario([{ kind: "slow", ms: 2500, count: 0 }], "fslow");
  expectError(always.r, 504, "upstream_timeout");
  assert.equal(always.calls, 3);
  assert.ok(always.ms >= 2900 && always.ms < 6000, `3 timeouts of 1 s plus backoff: ${always.ms} ms`);
  assertNoInternals(always.r);
  assert.equal(always.r.json.debug_id, undefined, "no debug id when Adobe did not answer");
});

test("5.9 dropped connection: once → 200 (2 calls); always → 502 upstream_unreachable (3 calls)", async () => {
  const once = await scenario([{ kind: "drop", count: 1 }], "fdrop1");
  expectToken(once.r, "drop then success");
  assert.equal(once.calls, 2);

  const always = await scenario([{ kind: "drop", count: 0 }], "fdrop");
  expectError(always.r, 502, "upstream_unreachable");
  assert.equal(always.calls, 3);
  assertNoInternals(always.r);
});

test("5.10 invalid_client → 502 upstream_invalid_client with Adobe's description, 1 call, no retry; cooldown", async () => {
  const { r, calls, scopes } = await scenario([{ kind: "invalid_client", count: 0 }], "finvclient");
  expectError(r, 502, "upstream_invalid_client");
  assert.equal(calls, 1, "invalid_client is final");
  assert.match(r.json.error_description, /invalid client_secret parameter/);
  assertDebugId(r);
  assert.ok(!r.text.includes(env.clientSecret));
  const again = await v1Token(env.w, env.keys.all, { scopes });
  expectError(again, 502, "upstream_invalid_client", "during cooldown");
  assert.equal(await tokenCalls(env.fake), 1, "no IMS call during the cooldown");
});

test("5.11 invalid_scope from IMS → 400 invalid_scope, 1 call", async () => {
  const { r, calls } = await scenario([{ kind: "invalid_scope", count: 0 }], "finvscope");
  expectError(r, 400, "invalid_scope");
  assert.equal(calls, 1, "invalid_scope is final");
  assertDebugId(r);
});

test("5.12 a real client-secret mismatch at IMS → 502 upstream_invalid_client (1 call)", async (t) => {
  // The broker is configured with a secret the fake does not accept.
  const bad = await setup(t, { scopePool: true, label: "faults-badsecret", vars: VARS, secrets: { CLIENT_SECRET: "cs_wrong_secret_value_0123456789" } });
  const r = await v1Token(bad.w, bad.keys.all);
  expectError(r, 502, "upstream_invalid_client");
  assert.match(r.json.error_description, /client_secret/);
  assert.ok(!r.text.includes("cs_wrong_secret_value_0123456789"));
  assert.equal(await tokenCalls(bad.fake), 1);
});

test("5.13 expiry from the JWT claims when expires_in is missing; neither usable → 502 upstream_bad_response", async () => {
  const { fake, w, keys } = env;
  await fake.reset();
  await fake.config({ omit_expires_in: true, claims_expires_in_ms: 7_200_000 });
  const t0 = Date.now();
  const ok = expectToken(await v1Token(w, keys.all, { scopes: uniqueScopes("claims") }), "claims expiry");
  // lifetime 7200 s → skew 60 s → 7140 s.
  assert.ok(ok.expires_in >= 7138 && ok.expires_in <= 7140, `expires_in from claims: ${ok.expires_in}`);
  assert.ok(Math.abs(Date.parse(ok.expires_at) - (t0 + 7_140_000)) < 2000);

  await fake.reset();
  await fake.config({ omit_expires_in: true, claims_expires_in_ms: "s" });
  const bad = await v1Token(w, keys.all, { scopes: uniqueScopes("noexpiry") });
  expectError(bad, 502, "upstream_bad_response");
  assertNoInternals(bad);

  await fake.reset();
  await fake.config({ expires_in_value: -5, claims_expires_in_ms: "s" });
  const neg = await v1Token(w, keys.all, { scopes: uniqueScopes("negexpiry") });
  expectError(neg, 502, "upstream_bad_response");
  await fake.reset();
});

// --- With a usable cached token, every fault still yields that token --------------------

// expires_in 40 → lifetime 40 s, skew 4 s, usable until sent + 36 s, stale from sent + 34.5 s:
// a 1.5 s stale window, wide enough for a busy 2-core machine running 8 brokers at once.
// The token is minted, the fault is queued just before the stale point, and every request in
// [stale, usable end) must get the cached token at once, before and after the background
// refresh fails. Each fault gets its own fake + broker so they can run side by side.
const CACHED_FAULTS = [
  { name: "status500", faults: [{ kind: "status500", count: 0 }], error: "upstream_unavailable", calls: 3 },
  { name: "status429 Retry-After 1", faults: [{ kind: "status429", retry_after: 1, count: 0 }], error: "upstream_unavailable", calls: 3 },
  { name: "status429 Retry-After 30", faults: [{ kind: "status429", retry_after: 30, count: 0 }], error: "upstream_unavailable", calls: 1 },
  { name: "garbage", faults: [{ kind: "garbage", count: 0 }], error: "upstream_bad_response", calls: 2 },
  { name: "slow", faults: [{ kind: "slow", ms: 2500, count: 0 }], error: "upstream_timeout", calls: 3 },
  { name: "drop", faults: [{ kind: "drop", count: 0 }], error: "upstream_unreachable", calls: 3 },
  { name: "invalid_client", faults: [{ kind: "invalid_client", count: 0 }], error: "upstream_invalid_client", calls: 1 },
  { name: "invalid_scope", faults: [{ kind: "invalid_scope", count: 0 }], error: "invalid_scope", calls: 1 },
];

test("5.14 with a usable cached token, every fault still yields that token", { concurrency: CACHED_FAULTS.length }, async (t) => {
  const until = async (at) => {
    const d = at - Date.now();
    if (d > 0) await sleep(d);
  };
  await Promise.all(
    CACHED_FAULTS.map((f) =>
      t.test(`cached token survives ${f.name}`, async (st) => {
        const e = await setup(st, { scopePool: true, label: `cached-${f.name.replace(/\W+/g, "-")}`, vars: VARS });
        // Warm up (first requests compile the Wasm, parse the config): the mint must be quick
        // for its [t0, t1] window to pin `sent` down.
        expectToken(await v1Token(e.w, e.keys.all, { scopes: ["openid"] }), "warm-up");
        await e.fake.reset();
        await e.fake.config({ expires_in: 40 });
        let scopes, t0, t1, first;
        for (let i = 0; i < 3; i++) {
          // Retry with another scope set if the machine was busy and the mint took too long.
          scopes = uniqueScopes("cached");
          t0 = Date.now();
          first = expectToken(await v1Token(e.w, e.keys.all, { scopes }), "mint");
          t1 = Date.now();
          if (t1 - t0 < 400) break;
        }
        assert.ok(t1 - t0 < 400, `${f.name}: minting took ${t1 - t0} ms`);
        const calls0 = await tokenCalls(e.fake);

        await until(t1 + 34000);
        await e.fake.faults(f.faults);
        await until(t1 + 34550);
        // < sent + 36 s, and shorter than the 1 s failure cooldown, so that exactly one background
        // refresh is claimed (after the cooldown a stale hit may rightly try once more).
        const windowEnd = Math.min(t0 + 35900, t1 + 34550 + 700);
        let n = 0;
        while (Date.now() < windowEnd) {
          const s = Date.now();
          const r = await v1Token(e.w, e.keys.all, { scopes });
          const took = Date.now() - s;
          assert.equal(expectToken(r, `${f.name}: request ${n} in the stale window`).access_token, first.access_token, `${f.name}: cached token served`);
          assert.ok(took < 1500, `${f.name}: served without waiting for IMS (${took} ms; IMS answers take ≥ 2.5 s here)`);
          n++;
          await sleep(30);
        }
        assert.ok(n >= 2, `${f.name}: only ${n} requests fitted in the stale window (timer overshoot?)`);

        // The background refresh met the fault and reported it.
        const line = await waitFor(
          () => jsonLogs(e.w).find((l) => l.msg === "background_refresh"),
          { timeoutMs: 8000, what: `${f.name}: background_refresh log line` },
        );
        assert.equal(line.ok, false, `${f.name}: ${JSON.stringify(line)}`);
        assert.equal(line.error, f.error, `${f.name}: ${JSON.stringify(line)}`);
        await waitFor(async () => (await tokenCalls(e.fake)) === calls0 + f.calls, { timeoutMs: 3000, what: `${f.name}: ${f.calls} refresh call(s)` });
        await sleep(200);
        assert.equal(await tokenCalls(e.fake), calls0 + f.calls, `${f.name}: IMS calls of the refresh`);
      }),
    ),
  );
});
