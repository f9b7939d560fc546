// `make bench-worker` (and the second half of `make bench`): the Worker's numbers,
// every comparison measured side by side in this one run, on loopback.
//
// 1. Cache-hit throughput and p50 latency of `POST /v1/token` at 64 connections (wrk), the
//    broker against (a) a hello-world JS Worker, (b) a bare workers-rs Worker
//    (`Response::ok("ok")`, no Router) and (c) a JS Worker reading its token from KV on every
//    request. All four run in ONE workerd (Miniflare) and each is reached through its own
//    direct socket, never through `wrangler dev` or Miniflare's entry proxy. Rounds are
//    interleaved (the order rotates each round); medians are reported.
//    Targets: broker >= 0.9x (b), broker >= 4x (c).
// 2. IMS calls: 1000 concurrent cold requests on one key (target 1), and a token lifetime of
//    12 s under steady wrk load for 13 s (target 2: 1 mint + 1 background refresh).
// 3. The broker's .wasm gzip -9 (target <= 200 KB) and the start-up of a fresh isolate (new
//    Miniflare -> ready -> first response, median of several cycles), beside (a) and (b).
// 4. The npm package numbers (tests/package/bench.mjs; its output is read from
//    BENCH_PACKAGE_RESULT when `make bench` has just run it, else it is run here).
//
// Environment: BENCH_ROUNDS (5), BENCH_SECONDS (10), BENCH_STARTUP_ROUNDS (7), BENCH_DIAG=1
// (three more rows that split the broker's cost: (a) + one log line per request, the broker's
// `GET /healthz`, the broker's 401 for an unknown caller key),
// BENCH_PACKAGE_RESULT (file), BENCH_SKIP_PACKAGE=1, BENCH_STRICT=1 (exit 1 when a target is
// missed; by default only a broken measurement exits non-zero), BENCH_RECORD=1 (rewrite the
// generated section of BENCHMARKS.md with this run).
// Results: bench/results/bench-<time>.{json,md} and bench/results/latest.md.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";

import {
  BARE_SCRIPT,
  BENCH_DIR,
  BROKER_SCRIPT,
  HELLO_SCRIPT,
  KV_JS_SCRIPT,
  kvJsBindings,
  REPO_ROOT,
  recordInBenchmarks,
  RESULTS_DIR,
  agent,
  brokerBindings,
  busyProcesses,
  cpuMeter,
  fmtInt,
  median,
  newCallerKey,
  request,
  sleep,
  startFake,
  startBenchIssuer,
  startMiniflare,
  table,
  tempDir,
  workerOptions,
  wrk,
  wrkVersion,
} from "./lib.mjs";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const STARTUP_ROUNDS = Number(process.env.BENCH_STARTUP_ROUNDS ?? 7);
const CONNECTIONS = 64;
const STRICT = process.env.BENCH_STRICT === "1";
const DIAG = process.env.BENCH_DIAG === "1";
const CLIENT_ID = "bench-client";
const SECRET = "bench-secret-0123456789";
const TOKEN_BODY = JSON.stringify({ credential: "default", scopes: ["openid", "AdobeID"] });

const problems = []; // broken measurements: always exit 1
const targets = []; // {name, measured, target, ok}
const log = (...a) => console.log(...a);
const ms = (us) => (us / 1000).toFixed(2);
function target(name, measured, goal, ok) {
  targets.push({ name, measured, target: goal, ok });
}

// ---------------------------------------------------------------------------------------
// Machine and versions
// ---------------------------------------------------------------------------------------
function pkgVersion(name) {
  return JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "node_modules", name, "package.json"), "utf8")).version;
}
function cmd(file, args) {
  const r = spawnSync(file, args, { encoding: "utf8", cwd: REPO_ROOT });
  return (r.stdout || r.stderr || "").trim().split("\n")[0];
}
const gitHead = cmd("git", ["rev-parse", "--short", "HEAD"]);
const gitDirty = cmd("git", ["status", "--porcelain", "--", "src", "crates", "Cargo.toml", "Cargo.lock"]) ? " (+ uncommitted changes in src/crates)" : "";
const machine = {
  date: new Date().toISOString(),
  cpus: os.cpus().length,
  cpu: os.cpus()[0]?.model ?? "?",
  memory_gib: +(os.totalmem() / 2 ** 30).toFixed(1),
  kernel: `${os.type()} ${os.release()}`,
  node: process.version,
  workerd: pkgVersion("workerd"),
  miniflare: pkgVersion("miniflare"),
  wrk: wrkVersion(),
  rustc: cmd("rustc", ["--version"]),
  commit: gitHead + gitDirty,
  broker: path.relative(REPO_ROOT, BROKER_SCRIPT),
};
log(`ims-broker Worker benchmark — ${machine.date}`);
log(`machine: ${machine.cpus} CPUs (${machine.cpu}), ${machine.memory_gib} GiB, ${machine.kernel}`);
log(`versions: node ${machine.node}, workerd ${machine.workerd}, miniflare ${machine.miniflare}, ${machine.wrk}, ${machine.rustc}; commit ${machine.commit}`);
log(`load: wrk -t2 -c${CONNECTIONS}, ${ROUNDS} rounds x ${SECONDS} s per Worker, interleaved; loopback; wrk and workerd share the CPUs`);
machine.busy_at_start = busyProcesses();
if (machine.busy_at_start.length) log(`WARNING: other busy processes at start: ${machine.busy_at_start.join(", ")}`);
log("");

// ---------------------------------------------------------------------------------------
// 3a. Sizes (no servers needed)
// ---------------------------------------------------------------------------------------
function sizes(script) {
  const dir = path.dirname(script);
  const wasm = fs.readFileSync(path.join(dir, "index_bg.wasm"));
  // `gzip -9 -c file | wc -c` when gzip exists (the exact wording of the target), else zlib.
  let gz;
  try {
    gz = execFileSync("gzip", ["-9", "-c", path.join(dir, "index_bg.wasm")], { maxBuffer: 64 << 20 }).length;
  } catch {
    gz = zlib.gzipSync(wasm, { level: 9 }).length;
  }
  return { wasm: wasm.length, wasm_gzip9: gz, js: fs.statSync(script).size };
}
const size = { broker: sizes(BROKER_SCRIPT), bare: sizes(BARE_SCRIPT) };
// Cloudflare checks only the uncompressed bundle, 64 MiB on every plan; what users feel of the
// size is the start-up of a new isolate (section 3, its own target).
const bundle = size.broker.wasm + size.broker.js;
target("broker bundle, uncompressed (.wasm + JS)", `${fmtInt(bundle)} B`, "<= 64 MiB (Cloudflare's limit)", bundle <= 64 * 2 ** 20);

// ---------------------------------------------------------------------------------------
// Servers: the fake Adobe, then the four Workers in one workerd
// ---------------------------------------------------------------------------------------
const fake = await startFake({ clientId: CLIENT_ID, secret: SECRET });
const caller = newCallerKey();
// A caller without a key: a workload that presents an identity token of a trusted issuer. Its
// row measures a hit whose token was verified once and is then remembered by the isolate.
const issuer = await startBenchIssuer();
const now = Math.floor(Date.now() / 1000);
const identityToken = issuer.token({ aud: "ims-broker", sub: "bench-workload", iat: now, exp: now + 3000, jti: "bench" });
const callerKeys = {
  bench: { sha256: caller.sha256, credentials: "*", scopes: "*", admin: false },
  "bench-workload": { issuer: "bench", bound_claims: { sub: "bench-workload" }, credentials: "*", scopes: "*" },
};
// Configured scopes (the most a caller gets): the hit path's openid,AdobeID and the two scope
// sets of section 2 (a cold key, a short lifetime).
const bBindings = {
  ...brokerBindings({ fake, clientId: CLIENT_ID, secret: SECRET, callerKeys, scopes: "openid,AdobeID,bench_cold,bench_lifetime" }),
  TRUSTED_ISSUERS: JSON.stringify({ bench: { issuer: issuer.issuer, audience: "ims-broker", jwks_url: issuer.jwksUrl } }),
};
const WORKERS = [
  { id: "broker", label: "ims-broker `POST /v1/token` (cache hit)", name: "ims-broker", script: BROKER_SCRIPT, kv: "bench-broker-TOKENS", bindings: bBindings },
  { id: "hello", label: "(a) hello-world JS Worker", name: "hello-js", script: HELLO_SCRIPT },
  { id: "bare", label: "(b) bare workers-rs Worker", name: "bare-rs", script: BARE_SCRIPT },
  {
    id: "kvjs",
    label: "(c) JS Worker, KV read per request",
    name: "kv-js",
    script: KV_JS_SCRIPT,
    kv: "bench-kvjs-TOKENS",
    bindings: kvJsBindings({ fake, callerKey: caller.key, clientId: CLIENT_ID, secret: SECRET }),
  },
];
if (DIAG) {
  WORKERS.push({ id: "hellolog", label: "(a) + one console.log line per request", name: "hello-log-js", script: path.join(BENCH_DIR, "hello-log-js", "index.js") });
  // The broker with a log line per request (LOG_REQUESTS=all) instead of the default summary.
  WORKERS.push({ id: "brokerall", label: "diag: ims-broker `POST /v1/token`, LOG_REQUESTS=all", name: "ims-broker-all", script: BROKER_SCRIPT, kv: "bench-broker-all-TOKENS", bindings: { ...bBindings, LOG_REQUESTS: "all" } });
}
const auth = { authorization: `Bearer ${caller.key}`, "content-type": "application/json" };
const stranger = newCallerKey();
// What is measured: a Worker and the request wrk repeats (default: the token POST).
const ROWS = [
  { id: "broker", worker: "broker" },
  { id: "jwt", worker: "broker", label: "ims-broker `POST /v1/token` (cache hit, remembered identity token)", key: identityToken },
  { id: "hello", worker: "hello" },
  { id: "bare", worker: "bare" },
  { id: "kvjs", worker: "kvjs" },
  ...(DIAG
    ? [
        { id: "hellolog", worker: "hellolog", label: "diag: (a) + one console.log line per request" },
        { id: "brokerall", worker: "brokerall" },
        { id: "healthz", worker: "broker", label: "diag: ims-broker `GET /healthz` (router + log line)", method: "GET", path: "/healthz", key: "", body: "" },
        { id: "unauth", worker: "broker", label: "diag: ims-broker `POST /v1/token`, unknown key (401)", key: stranger.key, expectStatus: 401 },
      ]
    : []),
].map((r) => {
  const w = WORKERS.find((x) => x.id === r.worker);
  return { label: w.label, method: "POST", path: "/v1/token", key: caller.key, body: TOKEN_BODY, expectStatus: 200, ...r, name: w.name };
});

let mf;
const results = { machine, sizes: size };
try {
  mf = await startMiniflare(WORKERS.map((w) => workerOptions(w)));
  const url = (id) => mf.urls[WORKERS.find((w) => w.id === id).name] + "/v1/token";
  const rowUrl = (row) => mf.urls[row.name] + row.path;

  // Warm-up: one mint each for the token Workers; the floors answer "ok".
  const TOKEN_WORKERS = ["broker", "brokerall", "kvjs"];
  for (const w of WORKERS) {
    const r = await request(url(w.id), { headers: auth, body: TOKEN_BODY });
    if (r.status !== 200) throw new Error(`${w.id}: warm-up answered ${r.status}: ${r.body}`);
    if (TOKEN_WORKERS.includes(w.id)) {
      if (!JSON.parse(r.body).access_token) throw new Error(`${w.id}: no token in ${r.body}`);
    } else if (r.body !== "ok") throw new Error(`${w.id}: answered ${JSON.stringify(r.body)}`);
  }
  const callsWarm = (await fake.stats()).token_calls;
  const mintsWarm = WORKERS.filter((w) => TOKEN_WORKERS.includes(w.id)).length;
  if (callsWarm !== mintsWarm) problems.push(`expected ${mintsWarm} IMS calls after warm-up (one per token Worker), saw ${callsWarm}`);
  for (const row of ROWS) {
    const r = await request(rowUrl(row), { method: row.method, headers: row.key ? { ...auth, authorization: `Bearer ${row.key}` } : {}, body: row.body || undefined });
    if (r.status !== row.expectStatus) throw new Error(`${row.id}: answered ${r.status}, expected ${row.expectStatus}: ${r.body}`);
  }

  // -------------------------------------------------------------------------------------
  // 1. Throughput
  // -------------------------------------------------------------------------------------
  log(`== 1. cache-hit throughput (warm-up 3 s each, then ${ROUNDS} x ${SECONDS} s rounds)`);
  const run = (row, seconds) => wrk({ url: rowUrl(row), seconds, connections: CONNECTIONS, method: row.method, key: row.key, body: row.body });
  for (const row of ROWS) await run(row, 3);
  const rounds = Object.fromEntries(ROWS.map((row) => [row.id, []]));
  const meter1 = cpuMeter();
  for (let r = 0; r < ROUNDS; r++) {
    const order = ROWS.map((_, i) => ROWS[(i + r) % ROWS.length]);
    const line = [];
    for (const row of order) {
      const m = cpuMeter();
      const s = await run(row, SECONDS);
      s.cpu = m.stop();
      rounds[row.id].push(s);
      // wrk counts every non-2xx/3xx answer as a status error: the 401 row expects all of them.
      const wrong = row.expectStatus === 200 ? s.status : s.requests - s.status;
      if (s.errors || wrong) problems.push(`${row.id} round ${r + 1}: ${s.errors} socket errors, ${wrong} answers other than ${row.expectStatus}`);
      line.push(`${row.id} ${fmtInt(s.rps)}/s p50 ${ms(s.p50_us)} ms${s.cpu ? ` [cpu ours ${s.cpu.ours}, others ${s.cpu.others}]` : ""}`);
    }
    log(`  round ${r + 1}: ${line.join(", ")}`);
  }
  const cpu1 = meter1.stop();
  const callsAfterHits = (await fake.stats()).token_calls;
  if (callsAfterHits !== callsWarm) problems.push(`${callsAfterHits - callsWarm} IMS calls during the cache-hit rounds (expected 0)`);

  const agg = {};
  for (const row of ROWS) {
    const xs = rounds[row.id];
    agg[row.id] = {
      rps: median(xs.map((s) => s.rps)),
      p50_ms: median(xs.map((s) => s.p50_us)) / 1000,
      p99_ms: median(xs.map((s) => s.p99_us)) / 1000,
      requests: xs.reduce((a, s) => a + s.requests, 0),
      errors: xs.reduce((a, s) => a + s.errors + (row.expectStatus === 200 ? s.status : s.requests - s.status), 0),
      rounds_rps: xs.map((s) => Math.round(s.rps)),
    };
  }
  // Per-round ratios too (each round measures the pair a few seconds apart).
  const perRound = (a, b) => rounds[a].map((s, i) => s.rps / rounds[b][i].rps);
  const ratios = {
    broker_vs_bare: agg.broker.rps / agg.bare.rps,
    broker_vs_kvjs: agg.broker.rps / agg.kvjs.rps,
    bare_vs_hello: agg.bare.rps / agg.hello.rps,
    broker_vs_bare_rounds: perRound("broker", "bare"),
    broker_vs_kvjs_rounds: perRound("broker", "kvjs"),
  };
  results.throughput = { rounds: ROUNDS, seconds: SECONDS, connections: CONNECTIONS, workers: agg, ratios, cpu: cpu1 };
  if (cpu1) log(`  CPUs busy on average: ${cpu1.machine} of ${machine.cpus} (this run ${cpu1.ours}, other processes ${cpu1.others}, steal ${cpu1.steal})`);
  if (cpu1 && cpu1.others > 0.15) log(`  WARNING: other processes used ${cpu1.others} CPUs during the rounds: absolute numbers are low and noisy, ratios less so`);
  target("throughput broker / (b) bare workers-rs", `${ratios.broker_vs_bare.toFixed(2)}x (rounds ${ratios.broker_vs_bare_rounds.map((x) => x.toFixed(2)).join(", ")})`, ">= 0.75x", ratios.broker_vs_bare >= 0.75);
  ratios.jwt_vs_broker = agg.jwt.rps / agg.broker.rps;
  ratios.jwt_vs_broker_rounds = perRound("jwt", "broker");
  target("throughput identity-token hit / caller-key hit", `${ratios.jwt_vs_broker.toFixed(2)}x (rounds ${ratios.jwt_vs_broker_rounds.map((x) => x.toFixed(2)).join(", ")})`, ">= 0.90x", ratios.jwt_vs_broker >= 0.9);
  target("throughput broker / (c) JS + KV read", `${ratios.broker_vs_kvjs.toFixed(2)}x (rounds ${ratios.broker_vs_kvjs_rounds.map((x) => x.toFixed(2)).join(", ")})`, ">= 4x", ratios.broker_vs_kvjs >= 4);
  log("");

  // -------------------------------------------------------------------------------------
  // 2. IMS calls
  // -------------------------------------------------------------------------------------
  log("== 2. IMS calls");
  // 2a. 1000 concurrent cold requests on one key (a scope set never asked for before: cold in
  // memory and in KV). The fake answers after 200 ms, about a real IMS round trip, so the
  // requests really overlap the one call.
  const COLD = 1000;
  const IMS_DELAY_MS = 200;
  await fake.config({ delay_ms: IMS_DELAY_MS });
  const coldBody = JSON.stringify({ scopes: ["openid", "AdobeID", "bench_cold"] });
  const before2a = (await fake.stats()).calls.length;
  const coldAgent = agent(COLD);
  const t2a = performance.now();
  const t2aEpoch = Date.now();
  const cold = await Promise.allSettled(
    Array.from({ length: COLD }, () => request(url("broker"), { headers: auth, body: coldBody, agent: coldAgent, timeoutMs: 30_000 })),
  );
  const wall2a = performance.now() - t2a;
  coldAgent.destroy();
  await fake.config({ delay_ms: 0 });
  const log2a = (await fake.stats()).calls.slice(before2a);
  const calls2a = log2a.length;
  const at2a = log2a.map((c) => `${c.at_ms - t2aEpoch} ms`);
  const ok2a = cold.filter((r) => r.status === "fulfilled" && r.value.status === 200);
  const tokens2a = new Set(ok2a.map((r) => JSON.parse(r.value.body).access_token));
  const failed2a = COLD - ok2a.length;
  if (failed2a) {
    const sample = cold.find((r) => r.status === "rejected" || r.value.status !== 200);
    problems.push(`2a: ${failed2a} of ${COLD} cold requests failed, e.g. ${sample.status === "rejected" ? sample.reason : `${sample.value.status} ${sample.value.body}`}`);
  }
  results.cold = { requests: COLD, ims_delay_ms: IMS_DELAY_MS, ok: ok2a.length, distinct_tokens: tokens2a.size, ims_calls: calls2a, ims_calls_at: at2a, wall_ms: Math.round(wall2a) };
  log(`  ${COLD} concurrent cold requests, one key (IMS answers after ${IMS_DELAY_MS} ms): ${ok2a.length} x 200, ${tokens2a.size} distinct token(s), ${calls2a} IMS call(s) at ${at2a.join(", ")} after the start, ${Math.round(wall2a)} ms wall`);
  target(`IMS calls, ${COLD} concurrent cold requests on one key`, String(calls2a), "1", calls2a === 1);

  // 2b. A 12 s token lifetime under steady load for 13 s: the mint, then one background
  // refresh at 23/24 of the usable life (10.8 s: skew 1.2 s) = about 10.35 s.
  const LIFETIME_S = 12;
  const LOAD_S = 13;
  await fake.config({ expires_in: LIFETIME_S });
  const lifeScopes = "openid,AdobeID,bench_lifetime";
  const lifeBody = JSON.stringify({ scopes: lifeScopes.split(",") });
  const before2b = (await fake.stats()).calls.length;
  const t2b = Date.now();
  const s2b = await wrk({ url: url("broker"), seconds: LOAD_S, connections: CONNECTIONS, key: caller.key, body: lifeBody });
  await sleep(300); // let a refresh started near the end land in the fake's log
  const calls2b = (await fake.stats()).calls.slice(before2b);
  await fake.config({ expires_in: 86399 });
  const at = calls2b.map((c) => ((c.at_ms - t2b) / 1000).toFixed(2) + " s");
  if (s2b.errors || s2b.status) problems.push(`2b: ${s2b.errors} socket errors, ${s2b.status} non-2xx answers during the lifetime run`);
  results.lifetime = {
    expires_in_s: LIFETIME_S,
    load_s: LOAD_S,
    requests: s2b.requests,
    rps: Math.round(s2b.rps),
    non_2xx: s2b.status,
    socket_errors: s2b.errors,
    ims_calls: calls2b.length,
    ims_calls_at: at,
    outcomes: calls2b.map((c) => c.outcome),
  };
  log(`  token lifetime ${LIFETIME_S} s, wrk ${CONNECTIONS} connections for ${LOAD_S} s: ${fmtInt(s2b.requests)} requests, ${s2b.status} non-2xx, ${s2b.errors} socket errors; IMS calls ${calls2b.length} at ${at.join(", ")} after the start`);
  target(`IMS calls over a ${LIFETIME_S} s token lifetime, ${LOAD_S} s of steady load`, `${calls2b.length} (at ${at.join(", ")})`, "2 (1 mint + 1 refresh)", calls2b.length === 2);
  log("");
} finally {
  await mf?.dispose();
}

// ---------------------------------------------------------------------------------------
// 3b. Start-up of a fresh isolate: new Miniflare (a workerd process with this one Worker)
// -> ready -> first response, then dispose. The broker's first request is a cache hit in KV
// (a token persisted by an earlier cycle), i.e. the path of a new isolate in production.
// ---------------------------------------------------------------------------------------
log(`== 3. size and start-up (${STARTUP_ROUNDS} cycles per Worker after one unmeasured)`);
const startup = {};
{
  const persist = tempDir("ims-bench-startup-");
  // The broker's three probes split its first answer: GET /healthz (the request path and a log
  // line), an unknown key (+ the body and CALLER_KEYS), the token from KV (+ settings, STORE_KEY,
  // the KV read and opening the entry). (c) is the floor of any first answer that reads KV.
  const kinds = [
    { id: "hello", w: WORKERS[1], headers: {}, body: undefined },
    { id: "bare", w: WORKERS[2], headers: {}, body: undefined },
    { id: "kvjs", w: WORKERS[3], headers: auth, body: TOKEN_BODY },
    { id: "broker_healthz", w: WORKERS[0], method: "GET", path: "/healthz", headers: {}, body: undefined },
    { id: "broker_unknown", w: WORKERS[0], headers: { ...auth, authorization: `Bearer ${stranger.key}` }, body: TOKEN_BODY, expect: 401 },
    { id: "broker", w: WORKERS[0], headers: auth, body: TOKEN_BODY },
  ];
  for (const k of kinds) startup[k.id] = { ready: [], first: [], total: [] };
  const callsBefore = (await fake.stats()).token_calls;
  for (let r = 0; r <= STARTUP_ROUNDS; r++) {
    for (const k of kinds) {
      const t0 = performance.now();
      const inst = await startMiniflare([workerOptions(k.w)], { persist });
      const t1 = performance.now();
      const res = await request(inst.urls[k.w.name] + (k.path ?? "/v1/token"), { method: k.method ?? "POST", headers: k.headers, body: k.body });
      const t2 = performance.now();
      await inst.dispose();
      if (res.status !== (k.expect ?? 200)) problems.push(`start-up ${k.id}: first response ${res.status} ${res.body}`);
      if (r === 0) continue; // first cycle: file caches, the broker's one mint into KV
      startup[k.id].ready.push(t1 - t0);
      startup[k.id].first.push(t2 - t1);
      startup[k.id].total.push(t2 - t0);
    }
  }
  // One mint per token Worker in the first cycle (fresh KV); every later isolate finds its token in KV.
  const startupCalls = (await fake.stats()).token_calls - callsBefore;
  // The broker's and (c)'s.
  if (startupCalls !== 2) problems.push(`start-up cycles made ${startupCalls} IMS calls (expected 2, the first cycle's mints)`);
  for (const id of Object.keys(startup)) {
    const s = startup[id];
    startup[id] = { ready_ms: median(s.ready), first_response_ms: median(s.first), total_ms: median(s.total) };
  }
  const first = startup.broker.first_response_ms / startup.bare.first_response_ms;
  target(
    "new isolate's first answer (token from KV) / (b)'s",
    `${first.toFixed(2)}x (${startup.broker.first_response_ms.toFixed(1)} ms against ${startup.bare.first_response_ms.toFixed(1)} ms)`,
    "<= 2x",
    first <= 2,
  );
}
results.startup = startup;
log(`  broker .wasm ${fmtInt(size.broker.wasm)} B raw, ${fmtInt(size.broker.wasm_gzip9)} B gzip -9; JS glue ${fmtInt(size.broker.js)} B`);
log(`  bare workers-rs .wasm ${fmtInt(size.bare.wasm)} B raw, ${fmtInt(size.bare.wasm_gzip9)} B gzip -9; JS glue ${fmtInt(size.bare.js)} B`);
for (const [id, s] of Object.entries(startup)) {
  log(`  start-up ${id}: ready ${Math.round(s.ready_ms)} ms, first response ${s.first_response_ms.toFixed(1)} ms, total ${Math.round(s.total_ms)} ms (medians)`);
}
log("");
await fake.stop();
await issuer.stop();

// ---------------------------------------------------------------------------------------
// 4. The npm package
// ---------------------------------------------------------------------------------------
let packageOut = null;
if (process.env.BENCH_SKIP_PACKAGE === "1") {
  packageOut = "(skipped: BENCH_SKIP_PACKAGE=1)";
} else if (process.env.BENCH_PACKAGE_RESULT && fs.existsSync(process.env.BENCH_PACKAGE_RESULT)) {
  packageOut = fs.readFileSync(process.env.BENCH_PACKAGE_RESULT, "utf8").trim();
} else {
  log("== 4. npm package: node tests/package/bench.mjs");
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, "tests", "package", "bench.mjs")], { cwd: REPO_ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  if (r.status !== 0) problems.push(`tests/package/bench.mjs exited ${r.status}`);
  packageOut = (r.stdout ?? "").trim();
}
results.package = packageOut;

// ---------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------
const tp = results.throughput.workers;
const rows = ROWS.map((row) => [
  row.label,
  fmtInt(tp[row.id].rps),
  tp[row.id].p50_ms.toFixed(2),
  tp[row.id].p99_ms.toFixed(2),
  (tp[row.id].rps / tp.hello.rps).toFixed(2) + "x",
  (tp.broker.rps / tp[row.id].rps).toFixed(2) + "x",
  String(tp[row.id].errors),
]);
const md = [];
md.push(`Run ${machine.date} on ${machine.cpus} CPUs (${machine.cpu}), ${machine.memory_gib} GiB, ${machine.kernel}.`);
if (machine.broker !== "build/index.js") md.push(`Broker under test: ${machine.broker} (BENCH_BROKER_SCRIPT).`);
md.push(`Versions: Node ${machine.node}, workerd ${machine.workerd} (miniflare ${machine.miniflare}), ${machine.wrk}, ${machine.rustc}, worker 0.8.7, wasm-bindgen 0.2.130; commit ${machine.commit}.`);
md.push("");
md.push(`### 1. Cache-hit throughput, \`POST /v1/token\`, wrk -t2 -c${CONNECTIONS}, medians of ${ROUNDS} interleaved ${SECONDS} s rounds`);
md.push("");
md.push(table(["Worker", "req/s", "p50 ms", "p99 ms", "vs (a)", "broker vs it", "errors"], rows));
md.push("");
md.push(`Per-round req/s: ${ROWS.map((row) => `${row.id} ${tp[row.id].rounds_rps.map(fmtInt).join(" / ")}`).join("; ")}.`);
if (DIAG) {
  md.push("");
  md.push("Rows marked diag (BENCH_DIAG=1) split the broker's cost; `errors` there counts answers other than the expected status.");
}
const c1 = results.throughput.cpu;
if (c1) {
  md.push("");
  md.push(`CPUs busy during the rounds, on average: ${c1.machine} of ${machine.cpus} — this run (workerd, wrk, Node) ${c1.ours}, other processes ${c1.others}, steal ${c1.steal}.${c1.others > 0.15 ? " **The machine was shared with other work during this run: absolute numbers are low and noisy; the interleaved ratios less so.**" : ""}`);
}
md.push("");
md.push("### 2. IMS calls");
md.push("");
md.push(table(
  ["Scenario", "IMS calls", "target", "detail"],
  [
    [`${results.cold.requests} concurrent cold requests, one key (IMS delay ${results.cold.ims_delay_ms} ms)`, String(results.cold.ims_calls), "1", `${results.cold.ok} x 200, ${results.cold.distinct_tokens} distinct token(s), IMS called at ${results.cold.ims_calls_at.join(", ")}, ${results.cold.wall_ms} ms wall`],
    [`token lifetime ${results.lifetime.expires_in_s} s, ${CONNECTIONS} connections for ${results.lifetime.load_s} s`, String(results.lifetime.ims_calls), "2", `calls at ${results.lifetime.ims_calls_at.join(", ")}; ${fmtInt(results.lifetime.requests)} requests, ${results.lifetime.non_2xx} non-2xx, ${results.lifetime.socket_errors} socket errors`],
  ],
  ["---", "---:", "---:", "---"],
));
md.push("");
md.push("### 3. Size and start-up");
md.push("");
md.push(table(
  ["Worker", ".wasm raw", ".wasm gzip -9", "JS glue", "ready ms", "first response ms", "total ms"],
  [
    ["ims-broker", fmtInt(size.broker.wasm), fmtInt(size.broker.wasm_gzip9), fmtInt(size.broker.js), ...["ready_ms", "first_response_ms", "total_ms"].map((k) => startup.broker[k].toFixed(k === "first_response_ms" ? 1 : 0))],
    ["(b) bare workers-rs", fmtInt(size.bare.wasm), fmtInt(size.bare.wasm_gzip9), fmtInt(size.bare.js), ...["ready_ms", "first_response_ms", "total_ms"].map((k) => startup.bare[k].toFixed(k === "first_response_ms" ? 1 : 0))],
    ["(a) hello-world JS", "-", "-", fmtInt(fs.statSync(HELLO_SCRIPT).size), ...["ready_ms", "first_response_ms", "total_ms"].map((k) => startup.hello[k].toFixed(k === "first_response_ms" ? 1 : 0))],
  ],
));
md.push("");
md.push(table(
  ["First answer of a fresh isolate", "ms", "vs (b)"],
  [
    ["(b) bare workers-rs, `ok`", startup.bare, "the floor of any Rust Worker"],
    ["(c) JS Worker, token read from KV", startup.kvjs, "the floor of any first answer that reads KV"],
    ["ims-broker `GET /healthz`", startup.broker_healthz, "the request path and a log line"],
    ["ims-broker `POST /v1/token`, unknown key (401)", startup.broker_unknown, "+ the body, `CALLER_KEYS`"],
    ["ims-broker `POST /v1/token`, token in KV", startup.broker, "+ settings, `STORE_KEY`, the KV read, opening the entry"],
  ].map(([name, s, what]) => [`${name} (${what})`, s.first_response_ms.toFixed(1), `${(s.first_response_ms / startup.bare.first_response_ms).toFixed(2)}x`]),
  ["---", "---:", "---:"],
));
md.push("");
md.push(`Start-up: median of ${STARTUP_ROUNDS} cycles of \`new Miniflare\` (one workerd process, this one Worker) -> ready -> first response -> dispose. "ready" includes spawning workerd and compiling the Worker (the .wasm is a CompiledWasm module); "first response" is the first request to the fresh isolate (the broker's: \`POST /v1/token\` served from KV, the path of a new isolate in production).`);
md.push("");
md.push("### 4. npm package ims-broker-core (tests/package/bench.mjs)");
md.push("");
md.push("```");
md.push(packageOut);
md.push("```");
md.push("");
md.push("### Targets");
md.push("");
md.push(table(["Target", "measured", "goal", ""], targets.map((t) => [t.name, t.measured, t.target, t.ok ? "met" : "**MISSED**"]), ["---", "---", "---", "---"]));
const report = md.join("\n");

log("== results");
log("");
log(report);
log("");
for (const p of problems) log(`PROBLEM: ${p}`);

fs.mkdirSync(RESULTS_DIR, { recursive: true });
const stamp = machine.date.replace(/[:.]/g, "-");
results.targets = targets;
results.problems = problems;
fs.writeFileSync(path.join(RESULTS_DIR, `bench-${stamp}.json`), JSON.stringify(results, null, 2) + "\n");
fs.writeFileSync(path.join(RESULTS_DIR, `bench-${stamp}.md`), report + "\n");
fs.writeFileSync(path.join(RESULTS_DIR, "latest.md"), report + "\n");
log(`written: bench/results/bench-${stamp}.{json,md}`);

if (process.env.BENCH_RECORD === "1") {
  recordInBenchmarks("bench", report);
  log("recorded in BENCHMARKS.md");
}

const missed = targets.filter((t) => !t.ok);
if (missed.length) log(`targets missed: ${missed.map((t) => t.name).join("; ")}${STRICT ? "" : " (BENCH_STRICT=1 makes this an error)"}`);
if (problems.length || (STRICT && missed.length)) process.exit(1);
