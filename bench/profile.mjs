// Where the broker's time goes on the cache-hit path: a V8 CPU profile of the broker's isolate
// (workerd's inspector, through Miniflare's `inspectorPort`) taken while wrk drives
// `POST /v1/token` cache hits at 64 connections. Prints the functions with the most self time
// and the most inclusive time. Rust functions appear by name only in a build that keeps the
// name section: `IMS_KEEP_NAMES=1 scripts/build-worker.sh` (the normal build strips it).
//
//     . scripts/env.sh && node bench/profile.mjs [seconds=5] [path=/v1/token] [method=POST]
//
// An attached inspector slows the isolate (about 2x here) and makes console.log much dearer
// than without one (each line is also sent to the inspector client): read the shares, not the
// throughput, and discount `console.log`. Needs build/ and target/debug/fake-adobe.
import WebSocket from "ws";
import { Miniflare, convertV4MiniflareOptions } from "miniflare";

import { BROKER_SCRIPT, brokerBindings, newCallerKey, request, startFake, tempDir, workerOptions, wrk } from "./lib.mjs";

const SECONDS = Number(process.argv[2] ?? 5);
const PATH = process.argv[3] ?? "/v1/token";
const METHOD = process.argv[4] ?? "POST";
const INSPECTOR_PORT = 9339;
const body = JSON.stringify({ credential: "default", scopes: ["openid", "AdobeID"] });

const fake = await startFake({ clientId: "profile-client", secret: "profile-secret" });
const caller = newCallerKey();
const bindings = brokerBindings({
  fake,
  clientId: "profile-client",
  secret: "profile-secret",
  callerKeys: { p: { sha256: caller.sha256, credentials: "*", scopes: "*", admin: false } },
});
const mf = new Miniflare(
  convertV4MiniflareOptions({
    host: "127.0.0.1",
    port: 0,
    inspectorPort: INSPECTOR_PORT,
    resourcePersistencePath: tempDir("ims-profile-"),
    cf: false,
    telemetry: { enabled: false },
    logRequests: false,
    handleStructuredLogs: () => {},
    workers: [workerOptions({ name: "ims-broker", script: BROKER_SCRIPT, kv: "profile-TOKENS", bindings })],
  }),
);
try {
  await mf.ready;
  const url = (await mf.unsafeGetDirectURL("ims-broker")).href.replace(/\/$/, "");
  const warm = await request(url + "/v1/token", { headers: { authorization: `Bearer ${caller.key}`, "content-type": "application/json" }, body });
  if (warm.status !== 200) throw new Error(`warm-up: ${warm.status} ${warm.body}`);

  const targets = await (await fetch(`http://127.0.0.1:${INSPECTOR_PORT}/json/list`)).json();
  const target = targets.find((t) => /ims-broker/.test(t.title ?? "")) ?? targets[0];
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  let nextId = 0;
  const pending = new Map();
  ws.on("message", (m) => {
    const msg = JSON.parse(m);
    if (msg.id && pending.has(msg.id)) {
      pending.get(msg.id)(msg);
      pending.delete(msg.id);
    }
  });
  const send = (method, params = {}) =>
    new Promise((resolve) => {
      const id = ++nextId;
      pending.set(id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });

  await wrk({ url: url + PATH, method: METHOD, seconds: 2, key: caller.key, body: METHOD === "POST" ? body : "" }); // JIT warm-up
  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: 100 });
  await send("Profiler.start");
  const s = await wrk({ url: url + PATH, method: METHOD, seconds: SECONDS, key: caller.key, body: METHOD === "POST" ? body : "" });
  const { result } = await send("Profiler.stop");
  ws.close();

  const prof = result.profile;
  const nodes = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const name = (n) => n.callFrame.functionName || `(anonymous ${n.callFrame.url || "?"}:${n.callFrame.lineNumber})`;
  const self = new Map();
  const incl = new Map();
  for (const sid of prof.samples) {
    const k = name(nodes.get(sid));
    self.set(k, (self.get(k) ?? 0) + 1);
    const seen = new Set();
    for (let cur = sid; cur !== undefined; cur = parent.get(cur)) {
      const kk = name(nodes.get(cur));
      if (seen.has(kk)) continue;
      seen.add(kk);
      incl.set(kk, (incl.get(kk) ?? 0) + 1);
    }
  }
  const total = prof.samples.length;
  const top = (m, n) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(6)} %  ${k.slice(0, 150)}`)
      .join("\n");
  console.log(`${METHOD} ${PATH}: ${Math.round(s.rps)} req/s with the profiler attached, ${total} samples (100 µs)`);
  console.log("\n-- self time, top 30");
  console.log(top(self, 30));
  console.log("\n-- inclusive time, top 60");
  console.log(top(incl, 60));
} finally {
  await mf.dispose();
  await fake.stop();
}
