// Shared helpers for `make bench-worker` (bench/bench.mjs) and `make load` (bench/load.mjs):
// the fake Adobe IMS, the Workers under Miniflare (each with a direct socket, so requests go
// straight to the Worker and not through Miniflare's entry proxy), wrk, small statistics.
//
// Everything listens on 127.0.0.1 only. Nothing here downloads anything.
//
// The fake Adobe and Miniflare plumbing is shared with the integration tests and lives in
// tests/support/ (cleanup.mjs, fake-adobe.mjs, workers.mjs); re-exported here where the bench
// scripts import it from this file.
import { spawn, spawnSync } from "node:child_process";
import { generateKeyPairSync, randomBytes, sign } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { Log, LogLevel } from "miniflare";

import { tempDir } from "../tests/support/cleanup.mjs";
import { startFakeAdobe } from "../tests/support/fake-adobe.mjs";
import { REPO_ROOT, compatibilityDate, launchMiniflare, moduleList, newCallerKey } from "../tests/support/workers.mjs";

export { tempDir } from "../tests/support/cleanup.mjs";
export { FAKE_ADOBE_BIN } from "../tests/support/fake-adobe.mjs";
export { REPO_ROOT, compatibilityDate, newCallerKey } from "../tests/support/workers.mjs";

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
/** The broker under test: build/index.js, or BENCH_BROKER_SCRIPT (e.g. another build to compare). */
export const BROKER_SCRIPT = process.env.BENCH_BROKER_SCRIPT ? path.resolve(process.env.BENCH_BROKER_SCRIPT) : path.join(REPO_ROOT, "build", "index.js");
export const BARE_SCRIPT = path.join(BENCH_DIR, "bare-worker", "build", "index.js");
export const HELLO_SCRIPT = path.join(BENCH_DIR, "hello-js", "index.js");
export const KV_JS_SCRIPT = path.join(BENCH_DIR, "kv-js", "index.js");
export const RESULTS_DIR = path.join(BENCH_DIR, "results");

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------
// Fake Adobe IMS (tests/fake-adobe)
// ---------------------------------------------------------------------------------------

/**
 * Starts target/debug/fake-adobe on a free port with one client; answers its handle (`url`,
 * `tokenUrl`, `stats`, `config`, `reset`, `stop`, … of tests/support/fake-adobe.mjs). Its output
 * is not kept: the fake logs one line per request on stderr.
 */
export function startFake({ clientId, secret }) {
  return startFakeAdobe({ clients: { [clientId]: secret } });
}

// ---------------------------------------------------------------------------------------
// Workers under Miniflare
// ---------------------------------------------------------------------------------------

/**
 * The Durable Object binding a broker build needs, by the class its entry exports: the
 * credential object (`CREDENTIAL_OBJECTS`), or the per-cache-key `REFRESHER` of builds before it
 * (so that old builds can be measured side by side). None for other Workers.
 */
function durableObjectsOf(script) {
  const entry = fs.readFileSync(script, "utf8");
  // SQLite-backed, as wrangler.toml declares them (new_sqlite_classes).
  if (/\bCredentialObject\b/.test(entry)) return { durableObjects: { CREDENTIAL_OBJECTS: { className: "CredentialObject", useSQLite: true } } };
  if (/\bRefresher\b/.test(entry)) return { durableObjects: { REFRESHER: { className: "Refresher", useSQLite: true } } };
  return {};
}

/**
 * The builds named on a side-by-side script's command line (`label=path/to/index.js`, or a path
 * whose folder names it); prints `usage` and exits when there is none.
 */
export function buildsFromArgs(usage) {
  const builds = process.argv.slice(2).map((arg) => {
    const [label, script] = arg.includes("=") ? arg.split(/=(.*)/s) : [path.basename(path.dirname(path.resolve(arg))), arg];
    return { label, script: path.resolve(script) };
  });
  if (builds.length === 0) {
    console.error(`usage: ${usage}`);
    process.exit(2);
  }
  return builds;
}

/** Miniflare (v4-style) options of one Worker with its own direct socket on 127.0.0.1. */
export function workerOptions({ name, script, bindings = {}, kv }) {
  if (!fs.existsSync(script)) throw new Error(`${script} missing (build it first)`);
  return {
    name,
    ...moduleList(script),
    compatibilityDate: compatibilityDate(),
    bindings,
    ...(kv ? { kvNamespaces: { TOKENS: kv } } : {}),
    ...durableObjectsOf(script),
    unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
  };
}

/** The broker's bindings: wrangler.toml's defaults are not needed, everything is explicit. */
export function brokerBindings({ fake, clientId, secret, callerKeys, scopes = "openid,AdobeID" }) {
  // `scopes` is the credential's ceiling too: every scope set a benchmark asks for is within it.
  return {
    IMS_TOKEN_URL: fake.tokenUrl,
    IO_API_BASE_URL: fake.url,
    CLIENT_ID: clientId,
    CLIENT_SECRET: secret,
    SCOPES: scopes,
    CREDENTIALS: "",
    IMS_TIMEOUT_MS: "10000",
    MAX_RETRY_WAIT_S: "5",
    ORG_ID: "",
    CREDENTIAL_ID: "",
    ROTATION_GRACE_S: "600",
    ROTATE_AFTER_DAYS: "off",
    // The default: plain cache hits counted in a summary line, not one line each.
    LOG_REQUESTS: "summary",
    // The benchmarks measure the cache and may mint thousands of new scope sets a minute with one
    // caller; the per-caller budget of new scope sets has its own integration test.
    MAX_NEW_SCOPE_SETS_PER_MIN: "1000000",
    STORE_KEY: randomBytes(32).toString("base64"),
    CALLER_KEYS: JSON.stringify(callerKeys),
  };
}

/**
 * A fake Adobe with one client, a caller key allowed every credential and scope, and the
 * broker's bindings for them: what a side-by-side script of several builds starts with.
 */
export async function brokerFixture({ clientId, secret, callerId = "bench" }) {
  const fake = await startFake({ clientId, secret });
  const caller = newCallerKey();
  const bindings = brokerBindings({
    fake,
    clientId,
    secret,
    callerKeys: { [callerId]: { sha256: caller.sha256, credentials: "*", scopes: "*", admin: false } },
  });
  return { fake, caller, bindings };
}

/**
 * The bindings of comparison Worker (c), `kv-js/`: the same caller key, fake IMS and client.
 * (c) mints and serves one token for `SCOPES`; it stays the hit body's set (openid,AdobeID), the
 * set the broker's measured hits ask for, not the broker's wider ceiling (brokerBindings'
 * `scopes`), so both Workers cache and serve the same token.
 */
export function kvJsBindings({ fake, callerKey, clientId, secret, scopes = "openid,AdobeID" }) {
  return { CALLER_KEY: callerKey, IMS_TOKEN_URL: fake.tokenUrl, CLIENT_ID: clientId, CLIENT_SECRET: secret, SCOPES: scopes };
}

class QuietLog extends Log {
  constructor() {
    super(LogLevel.ERROR);
  }
}

/**
 * One Miniflare instance (one workerd process) running `workers`; answers
 * `{mf, urls: {name: "http://127.0.0.1:PORT"}, dispose}`. The Workers' console output goes to
 * `onLog(message, level)` when given, else it is dropped on the Node side (the broker logs one
 * JSON line per request; workerd still writes it, Miniflare still splits it into lines).
 */
export async function startMiniflare(workers, { persist, onLog } = {}) {
  return launchMiniflare(workers, {
    persistDir: persist ?? tempDir("ims-bench-kv-"),
    log: new QuietLog(),
    handleStructuredLogs: onLog ? ({ level, message }) => onLog(message, level) : () => {},
  });
}

// ---------------------------------------------------------------------------------------
// wrk
// ---------------------------------------------------------------------------------------

export function wrkVersion() {
  const r = spawnSync("wrk", ["--version"], { encoding: "utf8" });
  return "wrk " + ((r.stdout + r.stderr).split("\n")[0].trim().replace(/^wrk\s+/, "").split(" [")[0] || "?");
}

/**
 * Runs wrk against `url` with the POST of bench/post.lua; answers its summary
 * (`requests`, `duration_us`, error counts, `p50_us`…) plus `rps`.
 */
export function wrk({ url, seconds, connections = 64, threads = 2, method = "POST", key = "", body = "" }) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      "wrk",
      [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, "--timeout", "5s", "-s", path.join(BENCH_DIR, "post.lua"), url],
      { env: { ...process.env, BENCH_METHOD: method, BENCH_KEY: key, BENCH_BODY: body }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.once("error", reject);
    child.once("exit", (code) => {
      const line = out.split("\n").find((l) => l.startsWith("WRKJSON "));
      if (code !== 0 || !line) return reject(new Error(`wrk exited ${code}: ${out}${err}`));
      const s = JSON.parse(line.slice(8));
      s.rps = s.requests / (s.duration_us / 1e6);
      s.errors = s.connect + s.read + s.write + s.timeout;
      resolve(s);
    });
  });
}

// ---------------------------------------------------------------------------------------
// CPU accounting: how much of the machine THIS run used, and how much other processes did
// (wrk and workerd share the CPUs with everything else; a busy machine skews every number).
// ---------------------------------------------------------------------------------------

const CLK_TCK = 100; // Linux USER_HZ

function procStat(pid) {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
    // fields after "(comm)": [0]=state [1]=ppid ... [11]=utime [12]=stime [13]=cutime [14]=cstime
    return { ppid: +f[1], own: +f[11] + +f[12], children: +f[13] + +f[14] };
  } catch {
    return null;
  }
}

/** CPU ticks of this process, its waited-for children, and its live descendants. */
function ourTicks() {
  const all = new Map();
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    const s = procStat(d);
    if (s) all.set(+d, s);
  }
  let total = 0;
  for (const [pid, s] of all) {
    let p = pid;
    for (let hops = 0; p > 1 && hops < 64; hops++) {
      if (p === process.pid) {
        total += s.own + (pid === process.pid ? s.children : 0);
        break;
      }
      p = all.get(p)?.ppid ?? 0;
    }
  }
  return total;
}

/** Machine-wide busy and steal ticks (all CPUs) from /proc/stat. */
function machineTicks() {
  const f = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f;
  return { busy: user + nice + system + irq + softirq, steal: steal ?? 0 };
}

/**
 * Starts measuring; `stop()` answers the average number of CPUs busy over the interval:
 * `{machine, ours, others, steal}` (others = machine - ours: processes not started by this run).
 */
export function cpuMeter() {
  if (!fs.existsSync("/proc/stat")) return { stop: () => null };
  const t0 = performance.now();
  const m0 = machineTicks();
  const o0 = ourTicks();
  return {
    stop() {
      const secs = (performance.now() - t0) / 1000;
      const m1 = machineTicks();
      const o1 = ourTicks();
      const machine = (m1.busy - m0.busy) / CLK_TCK / secs;
      const ours = (o1 - o0) / CLK_TCK / secs;
      return {
        machine: +machine.toFixed(2),
        ours: +ours.toFixed(2),
        others: +Math.max(0, machine - ours).toFixed(2),
        steal: +((m1.steal - m0.steal) / CLK_TCK / secs).toFixed(2),
      };
    },
  };
}

/** Processes (other than ours) using at least `minPct` % of a CPU right now, from `ps`. */
export function busyProcesses(minPct = 20) {
  const r = spawnSync("ps", ["-eo", "pid,ppid,pcpu,etime,comm", "--sort=-pcpu"], { encoding: "utf8" });
  return (r.stdout ?? "")
    .split("\n")
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 5 && +f[2] >= minPct && +f[0] !== process.pid && +f[1] !== process.pid)
    .map((f) => `${f[4]} (pid ${f[0]}, ${f[2]}% since start)`);
}

// ---------------------------------------------------------------------------------------
// Statistics and formatting
// ---------------------------------------------------------------------------------------

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

export const fmtInt = (x) => Math.round(x).toLocaleString("en-US");

/** Replaces the text between `<!-- NAME:begin -->` and `<!-- NAME:end -->` in BENCHMARKS.md. */
export function recordInBenchmarks(name, report) {
  const file = path.join(REPO_ROOT, "BENCHMARKS.md");
  const text = fs.readFileSync(file, "utf8");
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`BENCHMARKS.md lacks the ${begin} / ${end} markers`);
  fs.writeFileSync(file, text.slice(0, i + begin.length) + "\n" + report + "\n" + text.slice(j));
}

/** A Markdown table from a header row and rows (arrays of strings). */
export function table(head, rows, align) {
  const al = align ?? head.map((_, i) => (i === 0 ? "---" : "---:"));
  return [head, al, ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");
}

export { agent, request } from "./http.mjs";

/**
 * A minimal OIDC issuer on loopback for the identity-token rows: one ES256 key, served as a JWKS
 * at `/jwks` (the broker is configured with `jwks_url`), and `token(claims)` signs a token with
 * it. Answers `{issuer, jwksUrl, token, stop}`.
 */
export async function startBenchIssuer() {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = { ...publicKey.export({ format: "jwk" }), kid: "bench-1", alg: "ES256", use: "sig" };
  const server = http.createServer((req, res) => {
    if (req.url !== "/jwks") {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json", "cache-control": "max-age=3600" });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const b64 = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return {
    issuer,
    jwksUrl: `${issuer}/jwks`,
    token(claims) {
      const input = `${b64({ alg: "ES256", kid: jwk.kid, typ: "JWT" })}.${b64({ iss: issuer, ...claims })}`;
      const signature = sign("sha256", Buffer.from(input), { key: privateKey, dsaEncoding: "ieee-p1363" });
      return `${input}.${signature.toString("base64url")}`;
    },
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}
