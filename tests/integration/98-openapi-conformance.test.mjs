// The OpenAPI document describes the behaviour: every broker response the integration tests
// saw (recorded by the harness in tests/artifacts/responses.jsonl) must match /openapi.json —
// the path and method are documented, the status is documented for that operation, the content
// type is the documented one, and the body validates against the documented schema.
// Runs after the other suites (file order); it also makes a few requests of its own so that it
// checks something when run alone. The files of www/ are static assets (wrangler.toml [assets])
// answered by the asset server, not the Worker: the ones the document lists ("/" and
// /openapi.json) are checked like any operation; the others, and another method than GET/HEAD on
// any of them (the asset server's 405 with Allow and no body), by the rules in `checkStatic`.
import assert from "node:assert/strict";
import fs from "node:fs";
import { test } from "node:test";

import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

import { RESPONSES_FILE, callerKeysJson, newCallerKey, startFakeAdobe, startWorker } from "./harness.mjs";

const DOC_FILE = new URL("../../www/openapi.json", import.meta.url);
const WWW = new URL("../../www/", import.meta.url);

/** URL paths of the static assets: "/" (index.html, www/_redirects) and each file of www/. */
const STATIC_PATHS = new Set(["/", ...fs.readdirSync(WWW).filter((f) => !/^[._]/.test(f)).map((f) => `/${f}`)]);

function loadDoc() {
  return JSON.parse(fs.readFileSync(DOC_FILE, "utf8"));
}

/** Compiles validators for response schemas, resolving `#/components/...` against the doc. */
function validatorFactory(doc) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: "openapi.json", components: doc.components });
  const cache = new Map();
  return (schema) => {
    const text = JSON.stringify(schema).replaceAll('"#/components/', '"openapi.json#/components/');
    if (!cache.has(text)) cache.set(text, ajv.compile(JSON.parse(text)));
    return cache.get(text);
  };
}

function resolve(doc, obj) {
  while (obj && obj.$ref) {
    obj = obj.$ref.replace(/^#\//, "").split("/").reduce((o, k) => o[k], doc);
  }
  return obj;
}

function findOperation(doc, method, pathname) {
  for (const [template, item] of Object.entries(doc.paths)) {
    const re = new RegExp("^" + template.replace(/\{[^}]+\}/g, "[^/]+") + "$");
    if (re.test(pathname)) {
      const op = item[method === "HEAD" ? "get" : method.toLowerCase()];
      return { template, op };
    }
  }
  return { template: null, op: null };
}

/**
 * Checks one recorded exchange; returns a list of problems (empty when it conforms).
 * Responses to undocumented paths or methods must be the documented Error shape with
 * not_found / method_not_allowed.
 */
function check(doc, validate, r) {
  const problems = [];
  const where = `${r.method} ${r.path}${r.query} → ${r.status}`;
  const essence = (r.contentType ?? "").split(";")[0].trim();
  const { template, op } = findOperation(doc, r.method, r.path);
  if (!op && STATIC_PATHS.has(r.path)) return checkStatic(r, where);
  if (!op) {
    const expected = template ? 405 : 404;
    if (r.status !== expected) problems.push(`${where}: undocumented ${template ? "method" : "path"} answered ${r.status}, not ${expected}`);
    const ok = validate(doc.components.schemas.Error)(JSON.parse(r.body ?? "null"));
    if (!ok) problems.push(`${where}: body is not the Error schema`);
    return problems;
  }
  const def = resolve(doc, op.responses[String(r.status)]);
  if (!def && r.status === 304 && STATIC_PATHS.has(r.path) && !r.body) return problems; // revalidated asset
  if (!def) return [`${where}: status ${r.status} is not documented for ${r.method} ${template}`];
  if (!def.content) {
    if (r.body) problems.push(`${where}: documented without a body, got ${r.body.length} bytes`);
    return problems;
  }
  const media = def.content[essence];
  if (!media) return [`${where}: content type ${essence} is not documented (${Object.keys(def.content)})`];
  if (r.method === "HEAD" || r.body === null) return problems;
  if (essence === "application/json") {
    let body;
    try {
      body = JSON.parse(r.body);
    } catch {
      return [`${where}: body is not JSON`];
    }
    const v = validate(media.schema);
    if (!v(body)) problems.push(`${where}: ${JSON.stringify(v.errors.slice(0, 3))}`);
  }
  return problems;
}

/**
 * A static asset the document does not list (/index.html, /app.js, /app.css) or another method on
 * one: GET/HEAD answer the file (200, or 304 to a revalidation); any other method is the asset
 * server's 405 with `Allow: GET, HEAD` and no body (the Worker never sees these requests).
 */
function checkStatic(r, where) {
  if (r.method === "GET" || r.method === "HEAD") {
    return [200, 304].includes(r.status) ? [] : [`${where}: a static asset answered ${r.status}`];
  }
  const problems = [];
  if (r.status !== 405) problems.push(`${where}: another method on a static asset answered ${r.status}, not 405`);
  if (r.allow !== "GET, HEAD") problems.push(`${where}: Allow ${r.allow}, not "GET, HEAD"`);
  if (r.body) problems.push(`${where}: the asset server's 405 has a body`);
  return problems;
}

test("/openapi.json is served and is the document in the repository", async (t) => {
  const fake = await startFakeAdobe({ clients: { "oa-client": "oa-secret" } });
  t.after(() => fake.stop());
  const admin = newCallerKey();
  const w = await startWorker({
    fake,
    vars: { CLIENT_ID: "oa-client", SCOPES: "openid,AdobeID" },
    secrets: { CLIENT_SECRET: "oa-secret", CALLER_KEYS: callerKeysJson({ "oa-admin": { sha256: admin.sha256, credentials: "*", scopes: "*", admin: true } }) },
    label: "openapi",
  });
  t.after(() => w.stop());
  const res = await w.fetch("/openapi.json");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type"), /^application\/json/);
  assert.deepEqual(await res.json(), loadDoc());
  // A few exchanges of its own, so this file checks something even when run alone.
  const auth = { authorization: `Bearer ${admin.key}` };
  await w.fetch("/v1/token", { method: "POST", headers: auth });
  await w.fetch("/v1/token", { method: "POST" });
  await w.fetch("/v1/credentials", { headers: auth });
  await w.fetch("/v1/metrics", { headers: auth });
  await w.fetch("/v1/metrics?format=prometheus", { headers: auth });
  await w.fetch("/healthz");
  await w.fetch("/");
});

test("every response seen by the integration tests matches the OpenAPI document", () => {
  const doc = loadDoc();
  assert.equal(doc.openapi, "3.1.0");
  const validate = validatorFactory(doc);
  const lines = fs.readFileSync(RESPONSES_FILE, "utf8").split("\n").filter(Boolean);
  assert.ok(lines.length >= 7, `only ${lines.length} recorded responses`);
  const problems = [];
  const seen = new Set();
  for (const line of lines) {
    const r = JSON.parse(line);
    const { template } = findOperation(doc, r.method, r.path);
    seen.add(`${r.method} ${template ?? "(undocumented)"} ${r.status}`);
    problems.push(...check(doc, validate, r));
  }
  assert.deepEqual(problems.slice(0, 20), [], `${problems.length} of ${lines.length} responses do not match the document`);
  // Also: each documented operation with a recorded response is listed, for the run's log.
  console.log(`checked ${lines.length} responses covering ${seen.size} (operation, status) pairs`);
});
