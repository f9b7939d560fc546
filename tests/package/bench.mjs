// `make bench`: size and cache-hit speed of ims-broker-core (not a timed test).
//
// 1. The package's .wasm: raw and gzip -9 bytes (reported; size is not a target).
// 2. getToken cache-hit operations per second in Node, in the same run, against Adobe's own
//    @adobe/aio-lib-core-auth (pinned in tests/package/package.json): both mint their token
//    from the fake Adobe first, then every measured call is a cache hit. Each library runs a
//    serial `await` loop for ROUND_MS, alternating, ROUNDS times; medians are compared
//    (target: at least 2x).
//
// aio-lib-core-auth hard-codes https://ims-na1.adobelogin.com/ims/token/v2 and adds an
// `org_id` form field; for its one real (first) call, globalThis.fetch is wrapped to send that
// request to the fake's /ims/token/v3 without org_id. Cache hits never reach fetch.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { createRequire } from "node:module";

import { HERE, importPackage, installPackage, startFakeAdobe } from "./support.mjs";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 1000);
const CLIENT = "bench-client";
const SECRET = "bench-secret-0123456789";
const SCOPES = ["openid", "AdobeID", "read_organizations"];

const fake = await startFakeAdobe({ clients: { [CLIENT]: SECRET } });
try {
  const pkg = await importPackage();
  const wasmPath = path.join(installPackage(), "node_modules", "ims-broker-core", "wasm", "ims_broker_core_bg.wasm");
  const wasm = fs.readFileSync(wasmPath);
  const gz = zlib.gzipSync(wasm, { level: 9 }).length;

  const realFetch = globalThis.fetch;
  globalThis.fetch = (url, init) => {
    if (typeof url === "string" && url.startsWith("https://ims-na1.adobelogin.com/ims/token/")) {
      const form = new URLSearchParams(String(init.body));
      form.delete("org_id");
      return realFetch(fake.tokenUrl, { ...init, body: form.toString() });
    }
    return realFetch(url, init);
  };
  const aio = createRequire(path.join(HERE, "package.json"))("@adobe/aio-lib-core-auth");
  const aioParams = { clientId: CLIENT, clientSecret: SECRET, orgId: "bench@AdobeOrg", scopes: [...SCOPES] };

  const client = new pkg.TokenClient({ tokenUrl: fake.tokenUrl, clientId: CLIENT, clientSecret: SECRET, scopes: SCOPES });
  const candidates = {
    "ims-broker-core getToken()": () => client.getToken(),
    "ims-broker-core getToken(scopes)": () => client.getToken(SCOPES),
    "aio-lib-core-auth generateAccessToken(params)": () => aio.generateAccessToken(aioParams, "prod"),
  };

  // Warm up: one real mint each, then confirm the measured calls are all cache hits.
  await client.getToken();
  const aioToken = await aio.generateAccessToken(aioParams, "prod");
  if (!aioToken?.access_token) throw new Error(`aio-lib-core-auth did not get a token: ${JSON.stringify(aioToken)}`);
  const callsBefore = (await fake.stats()).token_calls;
  if (callsBefore !== 2) throw new Error(`expected 2 token calls after warm-up, saw ${callsBefore}`);

  async function measure(fn) {
    let n = 0;
    const end = performance.now() + ROUND_MS;
    while (performance.now() < end) {
      for (let i = 0; i < 1000; i++) await fn();
      n += 1000;
    }
    return (n * 1000) / ROUND_MS;
  }
  for (const fn of Object.values(candidates)) await measure(fn); // JIT warm-up round
  const results = Object.fromEntries(Object.keys(candidates).map((k) => [k, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, fn] of Object.entries(candidates)) results[name].push(await measure(fn));
  }
  const callsAfter = (await fake.stats()).token_calls;
  if (callsAfter !== callsBefore) throw new Error(`a measured call reached the fake (${callsAfter - callsBefore} calls)`);

  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const fmt = (x) => Math.round(x).toLocaleString("en-US");
  const aioOps = median(results["aio-lib-core-auth generateAccessToken(params)"]);
  console.log(`ims-broker-core benchmark (node ${process.version}, ${ROUNDS} rounds x ${ROUND_MS} ms, serial await, cache hits only)`);
  console.log("");
  console.log(`.wasm size: ${wasm.length.toLocaleString("en-US")} bytes raw, ${gz.toLocaleString("en-US")} bytes gzip -9 (${(gz / 1024).toFixed(1)} KiB)`);
  console.log("");
  console.log("| getToken cache hit | median ops/s | vs aio-lib-core-auth |");
  console.log("| --- | ---: | ---: |");
  for (const [name, xs] of Object.entries(results)) {
    console.log(`| ${name} | ${fmt(median(xs))} | ${(median(xs) / aioOps).toFixed(2)}x |`);
  }
  console.log("");
  const ratio = median(results["ims-broker-core getToken()"]) / aioOps;
  console.log(`ratio: ims-broker-core getToken() / aio-lib-core-auth = ${ratio.toFixed(2)}x (target >= 2x)`);
  console.log(`token calls during measurement: ${callsAfter - callsBefore}`);
} finally {
  await fake.stop();
}
