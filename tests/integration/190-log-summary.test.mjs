// LOG_REQUESTS: the default ("summary") writes no line per plain cache hit but counts hits per
// route, caller, credential, scope set and cache level, written as one `requests_summary` line
// before the isolate's next other line. Misses, errors and everything else keep their own line.
// A value other than "all" / "summary" is a configuration error naming the setting.
// (The other test files run with LOG_REQUESTS=all and read one line per request.)
import assert from "node:assert/strict";
import { test } from "node:test";

import { expectError, expectToken, jsonLogs, oauthToken, basicAuth, requestLogs, setup, tokenCalls, v1Token, waitFor } from "./support.mjs";

test("1. default: hits are counted in one summary line, misses and errors keep their own lines", async (t) => {
  // null removes the binding: LOG_REQUESTS unset, i.e. the built-in default.
  const env = await setup(t, {
    label: "log-summary",
    vars: { LOG_REQUESTS: null },
    callers: { alpha: { credentials: "*", scopes: "*" }, beta: { credentials: "*", scopes: "*" } },
  });
  const { fake, w, keys } = env;

  const first = expectToken(await v1Token(w, keys.alpha), "first (miss)");
  assert.equal(await tokenCalls(fake), 1);
  const miss = await waitFor(() => requestLogs(w).find((l) => l.route === "POST /v1/token"), { what: "the miss's own line" });
  assert.equal(miss.cache, "miss");
  assert.equal(miss.caller, "alpha");

  // 12 hits by alpha, 5 by beta (with the scopes spelt another way: same set), 3 via /oauth/token.
  for (let i = 0; i < 12; i++) assert.equal(expectToken(await v1Token(w, keys.alpha)).access_token, first.access_token);
  for (let i = 0; i < 5; i++) {
    const r = await v1Token(w, keys.beta, { scopes: "openid, AdobeID" });
    assert.equal(expectToken(r).access_token, first.access_token);
  }
  // The OAuth endpoint authenticates callers by client_secret_basic with the caller key.
  for (let i = 0; i < 3; i++) {
    const r = await oauthToken(w, { grant_type: "client_credentials", scope: "openid AdobeID" }, { headers: { authorization: basicAuth("alpha", keys.alpha) } });
    assert.equal(r.status, 200, r.text);
  }
  assert.equal(await tokenCalls(fake), 1, "the hits made no IMS call");
  // Give the log pipe time to deliver anything the hits might (wrongly) have written.
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(requestLogs(w).filter((l) => l.status === 200).length, 1, "no line of its own per hit");
  assert.equal(jsonLogs(w).filter((l) => l.msg === "requests_summary").length, 0, "no summary yet");

  // Any other request's line is preceded by the summary of the hits so far.
  expectError(await v1Token(w, "not-a-caller-key"), 401, "unauthorized");
  const summary = await waitFor(() => jsonLogs(w).find((l) => l.msg === "requests_summary"), { what: "requests_summary line" });
  const unauth = await waitFor(() => requestLogs(w).find((l) => l.status === 401), { what: "the 401's own line" });
  assert.equal(unauth.error, "unauthorized");
  const logs = jsonLogs(w);
  const at = (pred) => logs.findIndex(pred);
  assert.ok(
    at((l) => l.msg === "requests_summary") < at((l) => l.msg === "request" && l.status === 401),
    "the summary comes before the next line",
  );

  assert.equal(summary.requests, 20, JSON.stringify(summary));
  assert.ok(Date.parse(summary.since) <= Date.parse(summary.until), `since ${summary.since} until ${summary.until}`);
  const row = (route, caller) => summary.rows.find((r) => r.route === route && r.caller === caller);
  const a = row("POST /v1/token", "alpha");
  const b = row("POST /v1/token", "beta");
  const o = row("POST /oauth/token", "alpha");
  assert.deepEqual(
    [a?.count, b?.count, o?.count],
    [12, 5, 3],
    `rows: ${JSON.stringify(summary.rows)}`,
  );
  for (const r of [a, b, o]) {
    assert.equal(r.credential, "default");
    assert.equal(r.scope, "AdobeID,openid");
    assert.equal(r.cache, "memory");
    assert.equal(typeof r.max_ms, "number");
  }
  assert.equal(summary.rows.length, 3, "one row per route, caller, credential, scope set, cache level");

  // The counts start again: more hits, then a miss on a new scope set writes the next summary.
  for (let i = 0; i < 4; i++) expectToken(await v1Token(w, keys.beta));
  expectToken(await v1Token(w, keys.beta, { scopes: ["openid"] }), "miss on a new scope set");
  const second = await waitFor(() => jsonLogs(w).filter((l) => l.msg === "requests_summary")[1], { what: "second summary" });
  assert.equal(second.requests, 4);
  assert.deepEqual(second.rows.map((r) => [r.caller, r.count]), [["beta", 4]]);
  await waitFor(() => requestLogs(w).find((l) => l.cache === "miss" && l.scope === "openid"), { what: "the second miss's own line" });
  assert.equal(await tokenCalls(fake), 2);
});

test("2. LOG_REQUESTS=all writes a line per hit; another value is a 500 naming the setting", async (t) => {
  const env = await setup(t, { label: "log-all", vars: { LOG_REQUESTS: "all" } });
  const { w, keys } = env;
  for (let i = 0; i < 4; i++) expectToken(await v1Token(w, keys.all));
  await waitFor(() => requestLogs(w).filter((l) => l.status === 200).length === 4, { what: "4 request lines" });
  assert.deepEqual(requestLogs(w).map((l) => l.cache), ["miss", "memory", "memory", "memory"]);
  assert.equal(jsonLogs(w).filter((l) => l.msg === "requests_summary").length, 0);

  // An admin reads which setting is wrong (a plain caller gets a generic description).
  const bad = await setup(t, { label: "log-bad", vars: { LOG_REQUESTS: "verbose" }, callers: { all: { credentials: "*", scopes: "*", admin: true } } });
  const r = await v1Token(bad.w, bad.keys.all);
  expectError(r, 500, "misconfigured");
  assert.match(r.json.error_description, /LOG_REQUESTS/);
  assert.equal(await tokenCalls(bad.fake), 0, "nothing was minted");
  // The failed request still has its line (the mode could not be read: every line is written).
  await waitFor(() => requestLogs(bad.w).find((l) => l.status === 500), { what: "the 500's line" });
});
