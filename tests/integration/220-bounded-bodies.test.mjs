// Bounded work for bad input: a body without Content-Length (chunked) is read with a running cap
// on every route that reads a body, before authentication: the read stops at 16 KiB + 1 byte and
// the answer is 413. A client streaming 50 MB gets the 413 long before it has sent them, and the
// isolate answers the next 100 requests normally.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { basicAuth, expectToken, oauthToken, readResponse, sendChunked, setup, v1Token } from "./support.mjs";

const MAX = 16 * 1024;
const FIFTY_MB = 50 * 1024 * 1024;

let env;
before(async () => {
  env = await setup(null, { label: "bounded-bodies" });
});
after(() => env?.stop());

test("chunked 50 MB bodies → 413 on every body route, with or without a caller key; the isolate answers on", async () => {
  const { w, keys, fake } = env;
  const routes = [
    ["/v1/token with a key", "/v1/token", { authorization: `Bearer ${keys.all}`, "content-type": "application/json" }, "payload_too_large"],
    ["/v1/token without a key", "/v1/token", { "content-type": "application/json" }, "payload_too_large"],
    ["/oauth/token with Basic", "/oauth/token", { authorization: basicAuth("all", keys.all), "content-type": "application/x-www-form-urlencoded" }, "invalid_request"],
    ["/oauth/token before authentication", "/oauth/token", { "content-type": "application/x-www-form-urlencoded" }, "invalid_request"],
  ];
  for (const [what, path, headers, code] of routes) {
    const r = await sendChunked(w, path, { headers, total: FIFTY_MB });
    assert.equal(r.status, 413, `${what}: ${JSON.stringify({ ...r, text: r.text.slice(0, 200) })}`);
    assert.equal(r.json?.error, code, what);
    // The Worker stopped reading at the cap: the client had sent only a little more than that
    // (what was in flight) when the answer came.
    assert.ok(r.sentAtAnswer < 8 * MAX, `${what}: answered after ${r.sentAtAnswer} bytes were sent`);
    assert.ok(r.sent < FIFTY_MB, `${what}: the client stopped early`);
  }
  // The next 100 requests are answered normally.
  const before = (await fake.stats()).token_calls;
  for (let i = 0; i < 50; i++) {
    expectToken(await v1Token(w, keys.all), `request ${i}`);
    const o = await oauthToken(w, { grant_type: "client_credentials" }, { basic: ["all", keys.all] });
    assert.equal(o.status, 200, o.text);
  }
  assert.ok((await fake.stats()).token_calls - before <= 1, "served from the cache");
  const health = await readResponse(await w.fetch("/healthz"));
  assert.equal(health.status, 200);
});

test("a chunked body of exactly the cap is read whole", async () => {
  const { w, keys } = env;
  // 2 chunks of 8 KiB of spaces: 16384 bytes, no Content-Length.
  const r = await sendChunked(w, "/v1/token", {
    headers: { authorization: `Bearer ${keys.all}`, "content-type": "application/json" },
    total: MAX,
    chunkBytes: 8 * 1024,
  });
  // Only blanks: read whole, and a blank body asks for the defaults (not 413). Status only: a
  // 200 body holds a token.
  assert.equal(r.status, 200, `answered ${r.status} after ${r.sentAtAnswer} bytes`);
  assert.equal(r.json?.scope, "AdobeID,openid");
});

test("chunked 50 MB bodies to routes that take no body are answered without reading them to the end", async () => {
  const { w, keys } = env;
  const routes = [
    ["rotate without a key", "/v1/credentials/default/secrets/rotate", {}, 401, "unauthorized"],
    ["rotate as a caller that is not an admin", "/v1/credentials/default/secrets/rotate", { authorization: `Bearer ${keys.all}` }, 403, "forbidden"],
    ["POST /healthz", "/healthz", {}, 405, "method_not_allowed"],
    ["an unknown path", "/v1/nowhere", {}, 404, "not_found"],
  ];
  for (const [what, path, headers, status, code] of routes) {
    const r = await sendChunked(w, path, { headers, total: FIFTY_MB });
    assert.equal(r.status, status, `${what}: ${JSON.stringify({ ...r, text: r.text.slice(0, 200) })}`);
    assert.equal(r.json?.error, code, what);
    assert.ok(r.sentAtAnswer < 8 * MAX, `${what}: answered after ${r.sentAtAnswer} bytes were sent`);
    assert.ok(r.sent < FIFTY_MB, `${what}: the client stopped early`);
  }
});
