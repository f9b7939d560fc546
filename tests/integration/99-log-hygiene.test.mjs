// Runs last: after the whole integration run, the captured Worker logs contain
// no client secret, no caller key and no access token issued during the run.
//
// Sources scanned: tests/artifacts/worker-logs.txt (every instance of every test file; `make
// integration` truncates it first) plus this file's own instance's in-memory logs. Values looked
// for: every client secret every fake knew and every token it issued (tests/artifacts/
// fake-secrets.jsonl, written by support.mjs when a fake stops), every caller key the suite
// generated (tests/artifacts/caller-keys.txt), every identity token (JWT) a fake OIDC issuer
// signed or forged, or a test recorded (tests/artifacts/oidc-tokens.txt, written by
// tests/support/fake-oidc.mjs as each token is made), and those of this file's own scenario, which
// exercises the paths that log (successes, refusals, upstream failures, OAuth), so the test
// also means something when run alone.
import assert from "node:assert/strict";
import fs from "node:fs";
import { test } from "node:test";

import {
  WORKER_LOG_FILE,
  callerKey,
  generatedKeys,
  oauthToken,
  readRegistry,
  setup,
  snapshotFake,
  uniqueScopes,
  v1Token,
  waitFor,
} from "./support.mjs";
import { readOidcTokens } from "../support/fake-oidc.mjs";

/** Distinctive pieces of a value worth searching for. */
function needles(value) {
  const out = new Set([value]);
  const parts = value.split(".");
  if (parts.length === 3) {
    // A JWT: its payload and signature are unique per token (headers are shared).
    for (const p of parts.slice(1)) if (p.length >= 16) out.add(p);
  }
  if (value.startsWith("ibk_")) out.add(value.slice(4));
  return [...out];
}

test("9. the Worker logs contain no client secret, caller key or issued access token", async (t) => {
  // --- this file's own scenario ---------------------------------------------------------
  const e = await setup(t, {
    scopePool: true,
    label: "log-hygiene",
    credentials: { extra: {} },
    vars: { IMS_TIMEOUT_MS: "1000" },
    callers: { all: { credentials: "*", scopes: "*" }, limited: { credentials: ["default"], scopes: ["openid"] } },
  });
  const { fake, w, keys } = e;
  const stranger = callerKey().key;
  assert.equal((await v1Token(w, keys.all)).status, 200);
  assert.equal((await v1Token(w, keys.all, { credential: "extra" })).status, 200);
  assert.equal((await v1Token(w, keys.limited, { scopes: ["AdobeID"] })).status, 403);
  assert.equal((await v1Token(w, stranger)).status, 401);
  assert.equal((await v1Token(w, keys.all, "{")).status, 400);
  assert.equal((await oauthToken(w, { grant_type: "client_credentials", scope: "openid" }, { basic: ["all", keys.all] })).status, 200);
  assert.equal((await oauthToken(w, { grant_type: "client_credentials", client_id: "all", client_secret: keys.all })).status, 200);
  assert.equal((await oauthToken(w, { grant_type: "client_credentials", client_id: "all", client_secret: stranger })).status, 401);
  await fake.faults([{ kind: "invalid_client", count: 1 }, { kind: "garbage", count: 2 }, { kind: "status500", count: 3 }, { kind: "drop", count: 3 }]);
  assert.equal((await v1Token(w, keys.all, { scopes: uniqueScopes("hyg") })).status, 502);
  assert.equal((await v1Token(w, keys.all, { scopes: uniqueScopes("hyg") })).status, 502);
  assert.equal((await v1Token(w, keys.all, { scopes: uniqueScopes("hyg") })).status, 503);
  assert.equal((await v1Token(w, keys.all, { scopes: uniqueScopes("hyg") })).status, 502);
  await waitFor(() => w.logs().filter((l) => l.includes('"msg":"request"')).length >= 12, { what: "this file's request log lines" });
  await snapshotFake(fake);

  // --- what must never appear -------------------------------------------------------------
  const forbidden = new Map(); // needle → what it is
  const add = (value, what) => {
    if (typeof value !== "string" || value.length < 8) return;
    for (const n of needles(value)) forbidden.set(n, what);
  };
  add("demo-secret", "client secret (harness default)");
  const registry = readRegistry();
  for (const v of registry.secrets) add(v, "client secret");
  for (const v of registry.tokens) add(v, "access token");
  const live = await fake.secrets();
  for (const v of live.secrets) add(v, "client secret");
  for (const v of live.all_issued_tokens) add(v, "access token");
  for (const v of Object.values(e.secrets)) if (!v.startsWith("{")) add(v, "client secret");
  for (const k of [...registry.callerKeys, ...generatedKeys]) add(k, "caller key");
  // Workload-identity callers present a JWT from their platform: a credential like a caller key.
  for (const v of readOidcTokens()) add(v, "identity token");

  const tokens = [...forbidden.values()].filter((v) => v === "access token").length;
  assert.ok(tokens >= 5, `the registry holds the run's tokens (${tokens} needles)`);
  assert.ok(registry.callerKeys.length >= 3, "the registry holds the run's caller keys");

  // --- where to look --------------------------------------------------------------------
  const fileText = fs.existsSync(WORKER_LOG_FILE) ? fs.readFileSync(WORKER_LOG_FILE, "utf8") : "";
  const memText = w.logs().join("\n");
  assert.ok(memText.length > 0, "this file's instance logged something");
  assert.ok(fileText.includes('"msg":"request"'), "the run's log file holds request lines");

  const leaks = [];
  for (const [source, text] of [["worker-logs.txt", fileText], ["in-memory logs", memText]]) {
    for (const [needle, what] of forbidden) {
      const at = text.indexOf(needle);
      if (at >= 0) {
        const lineStart = text.lastIndexOf("\n", at) + 1;
        const lineEnd = text.indexOf("\n", at);
        // Show the line with every secret in it redacted (the report must not leak either).
        let line = text.slice(lineStart, lineEnd < 0 ? undefined : lineEnd);
        for (const [n, w] of forbidden) line = line.split(n).join(`<${w.toUpperCase()}>`);
        leaks.push(`${source}: ${what} in: ${line.slice(0, 300)}`);
      }
    }
  }
  assert.deepEqual(leaks, [], `${leaks.length} leak(s)`);

  // Every request line is one JSON object with the documented fields.
  const requestLines = [...fileText.split("\n"), ...w.logs()]
    .map((l) => l.slice(l.indexOf("{")))
    .filter((l) => l.startsWith('{') && l.includes('"msg":"request"'));
  assert.ok(requestLines.length >= 12);
  for (const l of requestLines) {
    const o = JSON.parse(l);
    for (const f of ["request_id", "method", "route", "status", "ms"]) assert.ok(o[f] !== undefined, `request line lacks ${f}: ${l}`);
    // The token routes (not the operators' listing of token entries) say where the token came from.
    if (o.status === 200 && /^POST \/(v1|oauth)\/token$/.test(o.route)) assert.ok(["memory", "kv", "miss", "stale"].includes(o.cache), `cache outcome: ${l}`);
  }
});
