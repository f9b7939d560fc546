// Side-by-side comparison of broker builds: every build named on the command line runs in ONE
// workerd next to (b) the bare workers-rs Worker and (c) the JS + KV Worker, and all are
// measured in interleaved rounds (the order rotates each round) with wrk at 64 connections on
// cache hits of `POST /v1/token`, exactly as section 1 of `make bench-worker`. Use it to measure
// one change before and after: build the old commit into a folder of its own first.
//
//     . scripts/env.sh && node bench/ab.mjs before=/tmp/old/build/index.js after=build/index.js
//
// Environment: AB_ROUNDS (5), AB_SECONDS (5). Prints medians, and each build's ratio to (b) and
// (c), per round and of the medians. Only the ratios compare across runs.
import {
  BARE_SCRIPT,
  buildsFromArgs,
  KV_JS_SCRIPT,
  kvJsBindings,
  brokerFixture,
  fmtInt,
  median,
  request,
  startMiniflare,
  workerOptions,
  wrk,
} from "./lib.mjs";

const ROUNDS = Number(process.env.AB_ROUNDS ?? 5);
const SECONDS = Number(process.env.AB_SECONDS ?? 5);
const CLIENT_ID = "ab-client";
const SECRET = "ab-secret-0123456789";
const BODY = JSON.stringify({ credential: "default", scopes: ["openid", "AdobeID"] });

const builds = buildsFromArgs("node bench/ab.mjs label=path/to/index.js [label=path/to/index.js ...]");

const { fake, caller, bindings } = await brokerFixture({ clientId: CLIENT_ID, secret: SECRET, callerId: "ab" });
const workers = [
  ...builds.map((b, i) => ({ id: b.label, name: `broker-${i}`, script: b.script, kv: `ab-${i}-TOKENS`, bindings })),
  { id: "(b) bare", name: "bare-rs", script: BARE_SCRIPT },
  {
    id: "(c) kv-js",
    name: "kv-js",
    script: KV_JS_SCRIPT,
    kv: "ab-kvjs-TOKENS",
    bindings: kvJsBindings({ fake, callerKey: caller.key, clientId: CLIENT_ID, secret: SECRET }),
  },
];

const mf = await startMiniflare(workers.map((w) => workerOptions(w)));
try {
  const url = (w) => mf.urls[w.name] + "/v1/token";
  const headers = { authorization: `Bearer ${caller.key}`, "content-type": "application/json" };
  for (const w of workers) {
    const r = await request(url(w), { headers, body: BODY });
    if (r.status !== 200) throw new Error(`${w.id}: warm-up answered ${r.status}: ${r.body}`);
  }
  const run = (w, seconds) => wrk({ url: url(w), seconds, key: caller.key, body: BODY });
  for (const w of workers) await run(w, 2);
  const rps = Object.fromEntries(workers.map((w) => [w.id, []]));
  for (let r = 0; r < ROUNDS; r++) {
    const line = [];
    for (let i = 0; i < workers.length; i++) {
      const w = workers[(i + r) % workers.length];
      const s = await run(w, SECONDS);
      if (s.errors || s.status) throw new Error(`${w.id}: ${s.errors} socket errors, ${s.status} non-2xx answers`);
      rps[w.id].push(s.rps);
      line.push(`${w.id} ${fmtInt(s.rps)}`);
    }
    console.log(`round ${r + 1}: ${line.join(", ")}`);
  }
  const bare = rps["(b) bare"];
  const kvjs = rps["(c) kv-js"];
  for (const w of workers) console.log(`${w.id}: median ${fmtInt(median(rps[w.id]))} req/s`);
  for (const b of builds) {
    const xs = rps[b.label];
    const per = (ys) => xs.map((x, i) => (x / ys[i]).toFixed(2)).join(" ");
    console.log(
      `${b.label}: ${(median(xs) / median(bare)).toFixed(3)}x (b) [rounds ${per(bare)}], ` +
        `${(median(xs) / median(kvjs)).toFixed(2)}x (c) [rounds ${per(kvjs)}]`,
    );
  }
} finally {
  await mf.dispose();
  await fake.stop();
}
