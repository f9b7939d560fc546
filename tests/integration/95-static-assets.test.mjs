// The operator console (www/index.html, app.js and the modules it imports, app.css) and the
// OpenAPI document (www/openapi.json) are Workers static assets (wrangler.toml [assets]), not part of the Worker:
// the asset server answers GET and HEAD for them before and without the Worker, with the
// headers of www/_headers ("/" is index.html through www/_redirects). The harness starts the
// broker with wrangler.toml's [assets] as `wrangler dev` does (Miniflare's asset router and
// asset server, the same code as on Cloudflare), so these tests check the configuration itself.
//
//  - each URL answers its file of www/ byte for byte, with its content type and the console's
//    security headers, and HEAD the same headers without a body; the Worker runs for none of
//    them (it logs every request it answers, and logs none of these);
//  - another method on those URLs is the asset server's 405 with `Allow: GET, HEAD`;
//  - everything else (the API, unknown paths, the _headers/_redirects files) is the Worker's,
//    without the asset headers: JSON 404, JSON 405 with Allow.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";

import { REPO_ROOT } from "./harness.mjs";
import { expectError, readResponse, requestLogs, setup, waitFor } from "./support.mjs";

const WWW = path.join(REPO_ROOT, "www");

/** The console's Content-Security-Policy (www/_headers; the one the Worker used to set). */
const EXPECTED_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const SECURITY_HEADERS = {
  "content-security-policy": EXPECTED_CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cache-control": "no-cache",
};

/** URL, file of www/, content type (the ones the Worker used to send). */
const ASSETS = [
  ["/", "index.html", "text/html; charset=utf-8"],
  ["/index.html", "index.html", "text/html; charset=utf-8"],
  ["/app.js", "app.js", "text/javascript; charset=utf-8"],
  ["/api.js", "api.js", "text/javascript; charset=utf-8"],
  ["/session.js", "session.js", "text/javascript; charset=utf-8"],
  ["/credentials.js", "credentials.js", "text/javascript; charset=utf-8"],
  ["/rotation.js", "rotation.js", "text/javascript; charset=utf-8"],
  ["/metrics.js", "metrics.js", "text/javascript; charset=utf-8"],
  ["/chart.js", "chart.js", "text/javascript; charset=utf-8"],
  ["/identity.js", "identity.js", "text/javascript; charset=utf-8"],
  ["/dom.js", "dom.js", "text/javascript; charset=utf-8"],
  ["/format.js", "format.js", "text/javascript; charset=utf-8"],
  ["/app.css", "app.css", "text/css; charset=utf-8"],
  ["/openapi.json", "openapi.json", "application/json"],
];

let env;
before(async () => {
  env = await setup(null, { label: "static-assets", callers: { admin: { credentials: "*", scopes: "*", admin: true } } });
});
after(() => env?.stop());

function assertSecurityHeaders(res, where) {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    assert.equal(res.headers.get(name), value, `${where}: ${name}`);
  }
}

/**
 * Runs `requests`, then a `DELETE /healthz` as a marker (a 405 that none of the blocks sends, so
 * its log line cannot be mistaken for one of theirs), and returns the Worker's request log lines
 * written in between (the marker's excluded): the Worker logs every request it answers
 * (LOG_REQUESTS=all in the tests), so an empty list means it ran for none of them. The Worker
 * writes a request's line before its answer, so every line of `requests` precedes the marker's.
 */
async function workerLinesDuring(w, requests) {
  const before = requestLogs(w).length;
  await requests();
  const seen = () => requestLogs(w).slice(before);
  const marker = (l) => l.method === "DELETE" && l.route === "GET /healthz";
  assert.equal((await w.fetch("/healthz", { method: "DELETE" })).status, 405);
  await waitFor(() => seen().some(marker), { what: "the DELETE /healthz marker's log line" });
  const lines = seen();
  return lines.slice(0, lines.findIndex(marker));
}

test("each asset URL answers its file of www/ with its content type and the console's security headers; the Worker never runs", async () => {
  const { w } = env;
  const lines = await workerLinesDuring(w, async () => {
    for (const [url, file, type] of ASSETS) {
      const res = await w.fetch(url);
      assert.equal(res.status, 200, url);
      assert.equal(res.headers.get("content-type"), type, url);
      assertSecurityHeaders(res, url);
      const body = Buffer.from(await res.arrayBuffer());
      assert.ok(body.equals(fs.readFileSync(path.join(WWW, file))), `${url} is www/${file} byte for byte`);
    }
  });
  assert.deepEqual(lines, [], "no Worker request log line for a static asset");
});

test("HEAD answers the same status and headers without a body", async () => {
  const { w } = env;
  const lines = await workerLinesDuring(w, async () => {
    for (const [url, , type] of ASSETS) {
      const res = await w.fetch(url, { method: "HEAD" });
      assert.equal(res.status, 200, `HEAD ${url}`);
      assert.equal(res.headers.get("content-type"), type, `HEAD ${url}`);
      assertSecurityHeaders(res, `HEAD ${url}`);
      assert.equal((await res.arrayBuffer()).byteLength, 0, `HEAD ${url}: no body`);
    }
  });
  assert.deepEqual(lines, []);
});

test("a revalidation with the ETag is 304 with the same security headers", async () => {
  const { w } = env;
  const first = await w.fetch("/app.js");
  await first.arrayBuffer();
  const etag = first.headers.get("etag");
  assert.ok(etag, "an ETag");
  const again = await w.fetch("/app.js", { headers: { "if-none-match": etag } });
  assert.equal(again.status, 304);
  assertSecurityHeaders(again, "304 /app.js");
  assert.equal((await again.arrayBuffer()).byteLength, 0);
});

test("another method on an asset URL is the asset server's 405 with Allow: GET, HEAD, never the file", async () => {
  const { w, keys } = env;
  const auth = { authorization: `Bearer ${keys.admin}` };
  const lines = await workerLinesDuring(w, async () => {
    for (const [method, url] of [
      ["POST", "/"],
      ["QUERY", "/"],
      ["PUT", "/index.html"],
      ["DELETE", "/app.js"],
      ["PATCH", "/app.css"],
      ["POST", "/openapi.json"],
      ["QUERY", "/openapi.json"],
    ]) {
      const r = await readResponse(await w.fetch(url, { method, headers: auth }));
      assert.equal(r.status, 405, `${method} ${url}`);
      assert.equal(r.headers.get("allow"), "GET, HEAD", `${method} ${url}: Allow`);
      assert.equal(r.text, "", `${method} ${url}: no body`);
    }
  });
  assert.deepEqual(lines, []);
});

test("everything else is the Worker's, without the asset headers: JSON 404 off the routes, JSON 405 with Allow on them", async () => {
  const { w } = env;
  const lines = await workerLinesDuring(w, async () => {
    for (const url of ["/nope", "/index", "/app.js/", "/www/app.js", "/_headers", "/_redirects", "/openapi", "/openapi.json/x"]) {
      const r = await readResponse(await w.fetch(url));
      expectError(r, 404, "not_found", `GET ${url}`);
      assert.equal(r.headers.get("content-security-policy"), null, `GET ${url}: not an asset response`);
    }
    const r = await readResponse(await w.fetch("/healthz", { method: "POST" }));
    expectError(r, 405, "method_not_allowed", "POST /healthz");
    assert.equal(r.headers.get("allow"), "GET, HEAD");
    const ok = await w.fetch("/healthz");
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { status: "ok" });
    assert.equal(ok.headers.get("content-security-policy"), null);
  });
  assert.deepEqual(
    lines.map((l) => `${l.method} ${l.status}`),
    [...Array(8).fill("GET 404"), "POST 405", "GET 200"],
  );
});
