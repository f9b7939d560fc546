// The miss path side by side: the time to the answer of a request for a scope set no isolate
// holds (not in memory, not in KV), so that it reaches the Durable Object and IMS, with the fake
// IMS answering after 200 ms (about a real IMS round trip). Every build named on the command
// line runs in ONE workerd, each with its own KV namespace and the Durable Object class its
// entry exports (see lib.mjs), and the builds take turns, one cold request each, so that any
// load on the machine falls on all of them alike.
//
//     . scripts/env.sh && node bench/miss.mjs before=/tmp/old/build/index.js after=build/index.js
//
// Environment: MISS_REQUESTS (40 per build), MISS_IMS_DELAY_MS (200). Prints p50 and p90 per
// build, and the p50 minus the IMS delay: what the broker adds to a miss.
import { brokerFixture, buildsFromArgs, median, request, startMiniflare, workerOptions } from "./lib.mjs";

const REQUESTS = Number(process.env.MISS_REQUESTS ?? 40);
const IMS_DELAY_MS = Number(process.env.MISS_IMS_DELAY_MS ?? 200);

const builds = buildsFromArgs("node bench/miss.mjs label=path/to/index.js [label=path/to/index.js ...]");

const { fake, caller, bindings } = await brokerFixture({ clientId: "miss-client", secret: "miss-secret-0123456789", callerId: "miss" });
// Request n asks for openid plus the pool's names whose bit is set in n + 1: a scope set of its
// own, within the credential's scopes (the pool).
const POOL = Array.from({ length: 12 }, (_, i) => `miss_${String.fromCharCode(97 + i)}`);
bindings.SCOPES = ["openid", ...POOL].join(",");
const scopesOf = (n) => ["openid", ...POOL.filter((_, b) => ((n + 1) >> b) & 1)];
const workers = builds.map((b, i) => ({ name: `broker-${i}`, script: b.script, kv: `miss-${i}-TOKENS`, bindings }));
const mf = await startMiniflare(workers.map((w) => workerOptions(w)));
const headers = { authorization: `Bearer ${caller.key}`, "content-type": "application/json" };
const ask = async (i, n) => {
  const t = performance.now();
  const r = await request(mf.urls[`broker-${i}`] + "/v1/token", { headers, body: JSON.stringify({ scopes: scopesOf(n) }) });
  const ms = performance.now() - t;
  if (r.status !== 200) throw new Error(`${builds[i].label}: ${r.status} ${r.body}`);
  return ms;
};
try {
  // Warm-up: the first answer of each isolate (and object) is not what a miss costs later.
  for (let i = 0; i < builds.length; i++) await ask(i, 4000);
  await fake.config({ delay_ms: IMS_DELAY_MS });
  const times = builds.map(() => []);
  for (let n = 0; n < REQUESTS; n++) {
    for (let i = 0; i < builds.length; i++) times[i].push(await ask(i, n));
  }
  const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];
  console.log(`miss path: ${REQUESTS} cold requests per build, IMS delay ${IMS_DELAY_MS} ms, builds taking turns`);
  console.log("| build | p50 ms | p90 ms | p50 - IMS delay |");
  console.log("| --- | ---: | ---: | ---: |");
  for (let i = 0; i < builds.length; i++) {
    const p50 = median(times[i]);
    console.log(`| ${builds[i].label} | ${p50.toFixed(1)} | ${pct(times[i], 90).toFixed(1)} | ${(p50 - IMS_DELAY_MS).toFixed(1)} |`);
  }
} finally {
  await mf.dispose();
  await fake.stop();
}
