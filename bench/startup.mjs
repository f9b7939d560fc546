// Where the first request of a new isolate spends its time, measured from outside (a Worker's
// clock does not advance while its code runs, so it cannot time itself). Each cycle starts a
// fresh workerd with one Worker (`new Miniflare` → ready), sends ONE request, and disposes it;
// the first request's time is compared across probes that do a little more each:
//
//   bare      the bare workers-rs Worker answering "ok" (the floor of any Rust Worker)
//   hello-js  a JS Worker answering "ok", and the same writing one console.log line (what the
//             first log line of an isolate costs)
//   kv-js     the JS Worker (c) of `make bench-worker`, answering a token it reads from KV: the
//             floor of any first answer that reads KV (locally the first KV call also starts
//             Miniflare's KV simulator)
//   healthz   the broker's GET /healthz: instantiation, the request path and a log line
//   unknown   POST /v1/token with an unknown caller key: + the body, CALLER_KEYS, a 401
//   kv-hit    POST /v1/token whose token is in KV: + settings, STORE_KEY, a KV read, opening the
//             entry (the path of a new isolate in production; `make bench-worker`'s start-up row)
//
//     . scripts/env.sh && node bench/startup.mjs [label=path/to/index.js ...]
//
// With no argument it measures build/index.js. Environment: STARTUP_CYCLES (9). Prints the
// median first-response ms of each probe, per build, interleaved so that builds compare.
import path from "node:path";

import {
  BARE_SCRIPT,
  BENCH_DIR,
  BROKER_SCRIPT,
  HELLO_SCRIPT,
  KV_JS_SCRIPT,
  brokerFixture,
  kvJsBindings,
  median,
  request,
  startMiniflare,
  tempDir,
  workerOptions,
} from "./lib.mjs";

const CYCLES = Number(process.env.STARTUP_CYCLES ?? 9);
const CLIENT_ID = "startup-client";
const SECRET = "startup-secret-0123456789";
const BODY = JSON.stringify({ credential: "default", scopes: ["openid", "AdobeID"] });

const args = process.argv.slice(2);
const builds = (args.length ? args : [`build=${BROKER_SCRIPT}`]).map((arg) => {
  const [label, script] = arg.split(/=(.*)/s);
  return { label, script: path.resolve(script) };
});

const { fake, caller, bindings } = await brokerFixture({ clientId: CLIENT_ID, secret: SECRET });

const probes = [
  { id: "bare", script: BARE_SCRIPT, path: "/", init: {} },
  { id: "hello-js", script: HELLO_SCRIPT, path: "/", init: {} },
  { id: "hello-js + log line", script: path.join(BENCH_DIR, "hello-log-js", "index.js"), path: "/", init: {} },
  {
    id: "kv-js",
    script: KV_JS_SCRIPT,
    bindings: kvJsBindings({ fake, callerKey: caller.key, clientId: CLIENT_ID, secret: SECRET }),
    kv: "startup-kvjs",
    path: "/v1/token",
    init: { headers: { authorization: `Bearer ${caller.key}`, "content-type": "application/json" }, body: BODY },
    expect: 200,
  },
];
for (const b of builds) {
  const w = { script: b.script, bindings, kv: `startup-${b.label}` };
  probes.push(
    { id: `${b.label} healthz`, ...w, path: "/healthz", init: { method: "GET" } },
    { id: `${b.label} unknown`, ...w, path: "/v1/token", init: { headers: { authorization: "Bearer ibk_unknown", "content-type": "application/json" }, body: BODY } },
    { id: `${b.label} kv-hit`, ...w, path: "/v1/token", init: { headers: { authorization: `Bearer ${caller.key}`, "content-type": "application/json" }, body: BODY }, expect: 200 },
  );
}

const persist = tempDir("ims-bench-startup-");
const times = Object.fromEntries(probes.map((p) => [p.id, []]));
for (let cycle = 0; cycle <= CYCLES; cycle++) {
  for (const p of probes) {
    const inst = await startMiniflare([workerOptions({ name: "w", script: p.script, bindings: p.bindings, kv: p.kv })], { persist });
    const t0 = performance.now();
    const res = await request(inst.urls.w + p.path, p.init);
    const t1 = performance.now();
    await inst.dispose();
    if (p.expect && res.status !== p.expect && !process.env.STARTUP_ANY_STATUS) throw new Error(`${p.id}: ${res.status} ${res.body}`);
    if (cycle > 0) times[p.id].push(t1 - t0); // cycle 0: file caches, and the one mint into KV
  }
}
await fake.stop?.();

const bare = median(times.bare);
console.log(`first response of a fresh isolate, median of ${CYCLES} cycles (ms; x = of bare)`);
for (const p of probes) {
  const m = median(times[p.id]);
  console.log(`  ${p.id.padEnd(24)} ${m.toFixed(1).padStart(6)}  ${(m / bare).toFixed(2)}x   [${times[p.id].map((t) => t.toFixed(1)).join(" ")}]`);
}
process.exit(0);
