// CommonJS user of the installed ims-broker-core: `require()` of the package (an ES module
// without top-level await, which Node loads synchronously from 20.19 and 22.12 on).
// tests/package/30-runtimes.test.mjs runs it under the oldest supported Node 20 and 22.
//
//   node require-check.cjs <fake-adobe base URL> <client id> <client secret>
//
// Prints "require node vX: N passed, N failed"; exits 1 on any failure.
"use strict";
const assert = require("node:assert/strict");
const pkg = require("ims-broker-core");

const [base, clientId, clientSecret] = process.argv.slice(2);

async function main() {
  let passed = 0;
  let failed = 0;
  const check = async (name, fn) => {
    try {
      await fn();
      passed++;
      console.log(`ok - ${name}`);
    } catch (e) {
      failed++;
      console.log(`not ok - ${name}: ${e && e.stack ? e.stack : e}`);
    }
  };
  await check("the exports are there", () => {
    for (const name of ["TokenClient", "ImsError", "MemoryStore", "generateAccessToken", "invalidateCache", "canonicalScopes"]) {
      assert.equal(typeof pkg[name], "function", name);
    }
    assert.equal(pkg.DEFAULT_TOKEN_URL, "https://ims-na1.adobelogin.com/ims/token/v3");
    assert.equal(require("ims-broker-core"), pkg, "one module instance");
  });
  await check("getToken against the fake Adobe", async () => {
    const c = new pkg.TokenClient({ tokenUrl: `${base}/ims/token/v3`, clientId, clientSecret, scopes: ["openid"] });
    const t = await c.getToken();
    assert.equal(t.tokenType, "bearer");
    assert.equal((await c.getToken()).source, "memory");
  });
  await check("errors are ImsError instances", async () => {
    const c = new pkg.TokenClient({ tokenUrl: `${base}/ims/token/v3`, clientId, clientSecret: "wrong-secret" });
    const e = await c.getToken("openid").then(() => assert.fail("no error"), (err) => err);
    assert.ok(e instanceof pkg.ImsError, String(e));
    assert.equal(e.code, "upstream_invalid_client");
  });
  console.log(`require node ${process.version}: ${passed} passed, ${failed} failed`);
  if (failed > 0) process.exit(1);
}

main();
