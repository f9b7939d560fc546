// `make load`: a 60-second mixed load on the broker (Miniflare/workerd + the fake Adobe IMS),
// 64 connections on loopback, from this Node process (node:http, keep-alive).
//
// Each of the 64 connections loops: pick a request kind, send it, check the answer.
//   hit        a scope set already asked for (list or Adobe's comma string, any order, with
//              duplicates): 200 with that scope set. A third of hits go to one of the 8
//              newest sets, whose mint may still be in flight (single flight under load).
//   miss       a NEW scope set ["openid", three names of a configured pool of 60] (a distinct
//              combination each time, within the credential's scopes; four names once the
//              34,220 triples are used up): 200.
//   bad_key    a well-formed but unknown caller key: 401.
//   bad_json   `{"scopes": [` : 400 invalid_request.
//   bad_scope  a scope name with a space and "!": 400 invalid_scope.
// Pass when: 0 connection errors, 0 unexpected statuses (or error codes, or a 200 with another
// scope set), and IMS calls == distinct scope sets asked for, each set minted exactly once.
// Exits 1 otherwise.
//
// Environment: LOAD_SECONDS (60), LOAD_CONNECTIONS (64), LOAD_IMS_DELAY_MS (50: the fake
// answers each token request after this long, about a real IMS round trip), LOAD_MAX_REQUESTS
// (5,000,000: a bound besides time), LOAD_MISS_PCT (3: the share of new scope sets, in
// percent; the hits' share shrinks to match), LOAD_LOG_FILE (write every broker log line there),
// LOAD_RECORD=1 (rewrite the load section of BENCHMARKS.md with this run).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";

import {
  BROKER_SCRIPT,
  REPO_ROOT,
  recordInBenchmarks,
  RESULTS_DIR,
  agent,
  brokerBindings,
  busyProcesses,
  cpuMeter,
  fmtInt,
  newCallerKey,
  request,
  startFake,
  startMiniflare,
  table,
  workerOptions,
} from "./lib.mjs";

const SECONDS = Number(process.env.LOAD_SECONDS ?? 60);
const CONNECTIONS = Number(process.env.LOAD_CONNECTIONS ?? 64);
const IMS_DELAY_MS = Number(process.env.LOAD_IMS_DELAY_MS ?? 50);
const MAX_REQUESTS = Number(process.env.LOAD_MAX_REQUESTS ?? 5_000_000);
const CLIENT_ID = "load-client";
const SECRET = "load-secret-0123456789";
/** Scope names new scope sets are drawn from: configured (a credential's scopes are the most a
 * caller gets), 60 of them, so that with openid and AdobeID the credential has 62 (at most 64). */
const POOL = Array.from({ length: 60 }, (_, i) => `load_${String(i).padStart(2, "0")}`);
/** The credential's configured scopes, also what a request without a body gets. */
const DEFAULT_SCOPES = ["openid", "AdobeID", ...POOL].join(",");
// Share of each kind, in percent.
const MISS_PCT = Number(process.env.LOAD_MISS_PCT ?? 3);
const MIX = [
  ["hit", 91 - MISS_PCT],
  ["miss", MISS_PCT],
  ["bad_key", 3],
  ["bad_json", 3],
  ["bad_scope", 3],
];

const canonical = (names) => [...new Set(names)].sort().join(",");
const shuffle = (xs) => {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
};
const pct = (xs, p) => (xs.length ? xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] : NaN);

/** Every `k`-name combination of the pool, in order. */
function* combinations(k, from = 0, prefix = []) {
  if (prefix.length === k) {
    yield prefix;
    return;
  }
  for (let i = from; i <= POOL.length - (k - prefix.length); i++) yield* combinations(k, i + 1, [...prefix, POOL[i]]);
}
/** The new scope sets' pool names: every triple of the pool (34,220 sets), then every quadruple
 * (487,635 more), so that a long run (LOAD_SECONDS) or a high LOAD_MISS_PCT does not use them up. */
function* freshNames() {
  for (let k = 3; k <= POOL.length; k++) yield* combinations(k);
}
const fresh = freshNames();
const fake = await startFake({ clientId: CLIENT_ID, secret: SECRET });
const caller = newCallerKey();
const stranger = newCallerKey(); // never registered
const bindings = brokerBindings({
  fake,
  clientId: CLIENT_ID,
  secret: SECRET,
  scopes: DEFAULT_SCOPES,
  callerKeys: { load: { sha256: caller.sha256, credentials: "*", scopes: "*", admin: false } },
});
// The broker's log: request lines counted by cache outcome (plain hits arrive counted in
// requests_summary lines: their rows are added in), every other line by its "msg".
const cacheOutcomes = {};
const events = {};
const eventSamples = [];
const logFile = process.env.LOAD_LOG_FILE ? fs.openSync(process.env.LOAD_LOG_FILE, "w") : null;
function onLog(message) {
  if (logFile !== null) fs.writeSync(logFile, `${Date.now()} ${message}\n`);
  if (message.includes('"msg":"request"')) {
    const m = /"cache":"([a-z_]+)"/.exec(message);
    const k = m ? m[1] : "none";
    cacheOutcomes[k] = (cacheOutcomes[k] ?? 0) + 1;
    return;
  }
  let msg = "(not JSON)";
  let line = null;
  try {
    line = JSON.parse(message);
    msg = line.msg ?? "(no msg)";
  } catch {
    // counted as not JSON
  }
  events[msg] = (events[msg] ?? 0) + 1;
  if (msg === "requests_summary") {
    for (const row of line.rows ?? []) cacheOutcomes[row.cache] = (cacheOutcomes[row.cache] ?? 0) + row.count;
    return;
  }
  if (eventSamples.length < 5) eventSamples.push(message.slice(0, 300));
}
const mf = await startMiniflare([workerOptions({ name: "ims-broker", script: BROKER_SCRIPT, kv: "load-TOKENS", bindings })], { onLog });
const url = mf.urls["ims-broker"] + "/v1/token";
const ag = agent(CONNECTIONS);
const json = { "content-type": "application/json" };
const good = { ...json, authorization: `Bearer ${caller.key}` };

// Scope sets asked for so far (each a list of names); index 0 is the default set (no body).
const sets = [DEFAULT_SCOPES.split(",")];
const asked = new Set([canonical(sets[0])]);

function pickKind() {
  let x = Math.random() * 100;
  for (const [kind, w] of MIX) if ((x -= w) < 0) return kind;
  return "hit";
}

/** The request for `kind`: {kind, body?, headers, expect: {status, error?, scope?}}. */
function makeRequest(kind) {
  switch (kind) {
    case "miss": {
      const next = fresh.next();
      if (next.done) throw new Error("the pool's scope sets are used up");
      const names = ["openid", ...next.value];
      sets.push(names);
      asked.add(canonical(names));
      return { kind, headers: good, body: JSON.stringify({ scopes: names }), expect: { status: 200, scope: canonical(names) } };
    }
    case "bad_key":
      return { kind, headers: { ...json, authorization: `Bearer ${stranger.key}` }, body: "{}", expect: { status: 401 } };
    case "bad_json":
      return { kind, headers: good, body: '{"scopes": [', expect: { status: 400, error: "invalid_request" } };
    case "bad_scope":
      return { kind, headers: good, body: JSON.stringify({ scopes: ["openid", "bad scope!"] }), expect: { status: 400, error: "invalid_scope" } };
    default: {
      const recent = Math.random() < 1 / 3;
      const i = recent ? Math.max(0, sets.length - 1 - Math.floor(Math.random() * 8)) : Math.floor(Math.random() * sets.length);
      const names = sets[i];
      const expect = { status: 200, scope: canonical(names) };
      if (i === 0 && Math.random() < 0.5) return { kind, headers: good, body: undefined, expect }; // default scopes, no body
      const form = shuffle([...names, ...(Math.random() < 0.2 ? [names[0]] : [])]);
      const body = Math.random() < 0.5 ? { scopes: form } : { scopes: form.join(",") };
      if (Math.random() < 0.3) body.credential = "default";
      return { kind, headers: good, body: JSON.stringify(body), expect };
    }
  }
}

/** Why `res` is not what `expect` says, or null. */
function mismatch(res, expect) {
  if (res.status !== expect.status) return `status ${res.status}, expected ${expect.status}: ${res.body.slice(0, 200)}`;
  let body;
  try {
    body = JSON.parse(res.body);
  } catch {
    return `status ${res.status} with a body that is not JSON: ${res.body.slice(0, 200)}`;
  }
  if (expect.error && body.error !== expect.error) return `error ${JSON.stringify(body.error)}, expected ${expect.error}`;
  if (expect.scope !== undefined) {
    if (!body.access_token) return "200 without access_token";
    if (canonical(String(body.scope).split(",")) !== expect.scope) return `scope ${body.scope}, expected ${expect.scope}`;
  }
  return null;
}

const stats = Object.fromEntries(MIX.map(([k]) => [k, { n: 0, lat: [], unexpected: 0 }]));
const samples = [];
let connErrors = 0;
let total = 0;
const connErrorSamples = [];

// Warm-up (not counted): the default set's one mint.
const warm = await request(url, { headers: good });
if (warm.status !== 200) throw new Error(`warm-up answered ${warm.status}: ${warm.body}`);
await fake.config({ delay_ms: IMS_DELAY_MS });

console.log(`ims-broker load test: ${SECONDS} s, ${CONNECTIONS} connections, mix ${MIX.map(([k, w]) => `${k} ${w}%`).join(", ")}; IMS delay ${IMS_DELAY_MS} ms; ${os.cpus().length} CPUs, node ${process.version}`);
const busy = busyProcesses();
if (busy.length) console.log(`note: other busy processes: ${busy.join(", ")}`);
const meter = cpuMeter();
const t0 = performance.now();
const deadline = t0 + SECONDS * 1000;
let lastReport = t0;
let lastTotal = 0;
async function connection() {
  while (performance.now() < deadline && total < MAX_REQUESTS) {
    total++;
    const req = makeRequest(pickKind());
    const s = stats[req.kind];
    s.n++;
    const start = performance.now();
    try {
      const res = await request(url, { headers: req.headers, body: req.body, agent: ag, timeoutMs: 15_000 });
      s.lat.push(performance.now() - start);
      const why = mismatch(res, req.expect);
      if (why) {
        s.unexpected++;
        if (samples.length < 10) samples.push(`${req.kind}: ${why}`);
      }
    } catch (e) {
      connErrors++;
      if (connErrorSamples.length < 10) connErrorSamples.push(`${req.kind}: ${e.message}`);
    }
    const now = performance.now();
    if (now - lastReport >= 10_000) {
      console.log(`  ${Math.round((now - t0) / 1000)} s: ${fmtInt(total)} requests, ${fmtInt(((total - lastTotal) * 1000) / (now - lastReport))} req/s, ${asked.size} scope sets`);
      lastReport = now;
      lastTotal = total;
    }
  }
}
await Promise.all(Array.from({ length: CONNECTIONS }, connection));
const elapsed = (performance.now() - t0) / 1000;
const cpu = meter.stop();
ag.destroy();

// Every mint has finished by now (each miss was answered); the fake's log is complete.
const fs0 = await fake.stats();
await mf.dispose();
await fake.stop();

const minted = fs0.calls.map((c) => canonical(c.scope.split(",")));
const mintedCount = new Map();
for (const s of minted) mintedCount.set(s, (mintedCount.get(s) ?? 0) + 1);
const twice = [...mintedCount].filter(([, n]) => n > 1);
const never = [...asked].filter((s) => !mintedCount.has(s));
const extra = [...mintedCount.keys()].filter((s) => !asked.has(s));
const failedCalls = fs0.calls.filter((c) => c.outcome !== "ok");
const unexpected = Object.values(stats).reduce((a, s) => a + s.unexpected, 0);

const rows = MIX.map(([k]) => {
  const s = stats[k];
  const lat = s.lat.sort((a, b) => a - b);
  return [k, fmtInt(s.n), pct(lat, 50).toFixed(2), pct(lat, 99).toFixed(2), String(s.unexpected)];
});
const git = (...args) => (spawnSync("git", args, { cwd: REPO_ROOT, encoding: "utf8" }).stdout ?? "").trim();
const commit = git("rev-parse", "--short", "HEAD") + (git("status", "--porcelain", "--", "src", "crates", "Cargo.toml", "Cargo.lock") ? " + uncommitted changes in src/crates" : "");
const lines = [];
lines.push(`Load ${new Date().toISOString()}, commit ${commit}${BROKER_SCRIPT === path.join(REPO_ROOT, "build", "index.js") ? "" : ` (broker ${BROKER_SCRIPT})`}: ${elapsed.toFixed(1)} s, ${CONNECTIONS} connections, ${fmtInt(total)} requests (${fmtInt(total / elapsed)} req/s), IMS delay ${IMS_DELAY_MS} ms, ${os.cpus().length} CPUs${cpu ? ` (busy on average: this run ${cpu.ours}, other processes ${cpu.others})` : ""}.`);
lines.push("");
lines.push(table(["kind", "requests", "p50 ms", "p99 ms", "unexpected"], rows));
lines.push("");
lines.push(table(
  ["check", "measured", "target"],
  [
    ["connection errors", String(connErrors), "0"],
    ["unexpected statuses / bodies", String(unexpected), "0"],
    ["IMS calls", String(fs0.token_calls), `${asked.size} (distinct scope sets incl. the warm-up's)`],
    ["scope sets minted more than once (most mints of one set) / never / not asked", `${twice.length} (${Math.max(1, ...mintedCount.values())}) / ${never.length} / ${extra.length}`, "0 / 0 / 0"],
    ["IMS calls not answered ok", String(failedCalls.length), "0"],
  ],
  ["---", "---:", "---"],
));
lines.push("");
lines.push(`Broker log: requests by cache outcome ${JSON.stringify(cacheOutcomes)} (own lines, plus the hits counted in requests_summary lines; the hits after the last summary are not in it); other lines ${JSON.stringify(events)}.`);
const report = lines.join("\n");
console.log("");
console.log(report);
for (const s of eventSamples) console.log(`  log: ${s}`);
for (const s of samples) console.log(`  unexpected: ${s}`);
for (const s of connErrorSamples) console.log(`  connection error: ${s}`);
for (const [s, n] of twice.slice(0, 5)) {
  const at = fs0.calls.filter((c) => canonical(c.scope.split(",")) === s).map((c) => c.at_ms);
  console.log(`  minted ${n} times: ${s} (IMS calls ${at.slice(1).map((t, i) => `${t - at[i]} ms`).join(", ")} apart)`);
}

fs.mkdirSync(RESULTS_DIR, { recursive: true });
fs.writeFileSync(path.join(RESULTS_DIR, "load-latest.md"), report + "\n");
if (process.env.LOAD_RECORD === "1") {
  recordInBenchmarks("load", report);
  console.log("recorded in BENCHMARKS.md");
}

const violations = [];
if (connErrors) violations.push(`${connErrors} connection errors`);
if (unexpected) violations.push(`${unexpected} unexpected answers`);
if (fs0.token_calls !== asked.size) violations.push(`${fs0.token_calls} IMS calls for ${asked.size} distinct scope sets`);
if (twice.length || never.length || extra.length) violations.push(`scope sets minted more than once ${twice.length}, never ${never.length}, not asked ${extra.length}`);
if (failedCalls.length) violations.push(`${failedCalls.length} IMS calls not ok`);
if (stats.miss.n === 0 || stats.hit.n === 0) violations.push("the mix did not run (no hits or no misses)");
if (violations.length) {
  console.log(`FAIL: ${violations.join("; ")}`);
  process.exit(1);
}
console.log("PASS: 0 connection errors, 0 unexpected answers, one IMS call per distinct scope set");
