// Runtime smoke test of the installed ims-broker-core: the same file runs under Node, Deno and
// Bun (tests/package/30-runtimes.test.mjs copies it next to the installed package).
//
//   node smoke.mjs <fake-adobe base URL> <client id> <client secret>
//   deno run --allow-net --allow-read smoke.mjs …
//   bun smoke.mjs …
//
// Prints one line per check and ends with "smoke <runtime>: N passed, N failed"; exits 1 on
// any failure.
import * as pkg from "ims-broker-core";

const args = globalThis.Deno ? globalThis.Deno.args : globalThis.process.argv.slice(2);
const [base, clientId, clientSecret] = args;
const runtime = globalThis.Deno ? `deno ${globalThis.Deno.version.deno}` : globalThis.Bun ? `bun ${globalThis.Bun.version}` : `node ${globalThis.process.version}`;

let passed = 0;
let failed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok - ${name}`);
  } catch (e) {
    failed++;
    console.log(`not ok - ${name}: ${e && e.stack ? e.stack : e}`);
  }
}
function expect(cond, what) {
  if (!cond) throw new Error(`expected ${what}`);
}
async function control(method, path, body) {
  const res = await fetch(base + path, { method, headers: { "content-type": "application/json" }, body: body ? JSON.stringify(body) : undefined });
  return res.json();
}
const tokenCalls = async () => (await control("GET", "/__fake/stats")).token_calls;

const tokenUrl = `${base}/ims/token/v3`;
await control("POST", "/__fake/reset", {});

await check("getToken: one upstream call, then memory hits", async () => {
  const c = new pkg.TokenClient({ tokenUrl, clientId, clientSecret, scopes: "openid,AdobeID" });
  const first = await c.getToken();
  expect(first.source === "miss" && first.tokenType === "bearer" && first.scope === "AdobeID,openid", "a minted token");
  expect(first.expiresIn > 86000 && first.expiresAt > Date.now(), "a day-long token");
  for (let i = 0; i < 50; i++) {
    const t = await c.getToken(["AdobeID", " openid"]);
    expect(t.accessToken === first.accessToken && t.source === "memory", "a memory hit");
  }
  expect((await tokenCalls()) === 1, "1 token call");
});

await check("100 concurrent getToken share one upstream call", async () => {
  const c = new pkg.TokenClient({ tokenUrl, clientId, clientSecret });
  const before = await tokenCalls();
  const all = await Promise.all(Array.from({ length: 100 }, () => c.getToken("openid")));
  expect(new Set(all.map((t) => t.accessToken)).size === 1, "one token");
  expect((await tokenCalls()) === before + 1, "1 more token call");
});

await check("a shared MemoryStore serves a second client", async () => {
  const store = new pkg.MemoryStore();
  const a = new pkg.TokenClient({ tokenUrl, clientId, clientSecret, scopes: ["AdobeID"], store });
  const b = new pkg.TokenClient({ tokenUrl, clientId, clientSecret, scopes: ["AdobeID"], store });
  const t = await a.getToken();
  const u = await b.getToken();
  expect(u.source === "store" && u.accessToken === t.accessToken, "a store hit");
});

await check("invalid_client rejects with an ImsError with code and debugId, without the secret", async () => {
  const c = new pkg.TokenClient({ tokenUrl, clientId, clientSecret: "smoke-wrong-secret" });
  try {
    await c.getToken("openid");
    throw new Error("no error");
  } catch (e) {
    expect(e instanceof pkg.ImsError && e instanceof Error, `an ImsError instance, got ${e && e.constructor && e.constructor.name}`);
    expect(pkg.isImsError(e) && e.code === "upstream_invalid_client", `upstream_invalid_client, got ${e.code}`);
    expect(typeof e.debugId === "string" && e.debugId.length > 0, "a debugId");
    expect(!String(e.message).includes("smoke-wrong-secret"), "no secret in the message");
  }
});

await check("secrets stay redacted in String, JSON and inspect", async () => {
  const { inspect } = await import("node:util");
  const secret = new pkg.Secret("smoke-secret-value");
  const c = new pkg.TokenClient({ tokenUrl, clientId, clientSecret: secret });
  for (const shown of [String(secret), JSON.stringify({ secret }), inspect(secret), String(c), JSON.stringify(c), inspect(c)]) {
    expect(!shown.includes("smoke-secret-value") && !shown.includes(clientSecret), `redacted: ${shown}`);
  }
  expect(secret.reveal() === "smoke-secret-value", "reveal()");
});

await check("pure helpers", async () => {
  expect(pkg.canonicalScopes(" b,a,b").comma === "a,b", "canonical scopes");
  const d = pkg.cacheDecision({ sentAt: 0, expiresAt: 86_399_000 }, 82_741_541);
  expect(d.freshness === "stale" && d.skewMs === 60_000 && d.usableUntil === 86_339_000, "cache decision");
  expect(pkg.MANAGEMENT_SCOPES.includes("manage_client_secrets"), "management scopes");
});

console.log(`smoke ${runtime}: ${passed} passed, ${failed} failed`);
if (failed > 0) {
  if (globalThis.Deno) globalThis.Deno.exit(1);
  else globalThis.process.exit(1);
}
