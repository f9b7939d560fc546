// Workload identity: callers that authenticate with a JWT their platform issued them (GitHub
// Actions OIDC, Cloudflare Access, Kubernetes, a client's own key) instead of a caller key. The
// platforms are fake OIDC issuers (tests/support/fake-oidc.mjs) on 127.0.0.1; the broker trusts
// them through TRUSTED_ISSUERS and maps their tokens to callers through federated CALLER_KEYS
// entries (issuer + bound claims).
//
//   1. GitHub- and Access-shaped tokens, through `Authorization: Bearer` and
//      `Cf-Access-Jwt-Assertion`, get a token; the matching entry's credentials and scopes apply;
//      the request's log line names the caller, the issuer, `sub` and `jti`. An issuer's keys are
//      fetched once and cached, also when a new isolate's first requests arrive together.
//   2. Forged, altered, misdirected, stale, oversized and unmatched tokens are refused with 401
//      and a WWW-Authenticate challenge, before any IMS call or KV write; algorithms other than
//      RS256/ES256 before any fetch at the issuer.
//   3. Issuer down: cached keys (memory or KV) keep working; nothing cached -> 503
//      issuer_unavailable with Retry-After.
//   4. /oauth/token through openid-client: RFC 8414 discovery of the broker, then a
//      client_credentials grant authenticated with `private_key_jwt` (an assertion the library
//      signs), and with a platform token as `client_assertion` (the federated-credential shape).
//   5. Caller configuration errors (unknown issuer, overlapping entries, ...) -> 500 misconfigured;
//      a token whose list claim matches two entries -> 401.
//   6. GET /v1/identity, for operators.
//   7. An unknown `kid` costs one JWKS refetch, then no more for a minute however many unknown
//      kids follow. Key rotation at the issuer: a new key is picked up with one refetch; a removed
//      key keeps working while the cached JWKS is valid (max-age clamped to at least 300 s) and is
//      refused once the cache is gone (here: the KV copy deleted, a new isolate: the 300 s are not
//      waited for). Both run right after the keys' first fetch: that fetch does not count toward
//      the unknown-kid refetch's "once a minute", so a key the issuer adds just after it is
//      accepted at once.
//
// The broker's public origin. A `private_key_jwt` assertion's `aud` is the authorization server's
// issuer, i.e. the broker's origin, which the TRUSTED_ISSUERS entry must name before the broker
// starts, while the broker's own port is only known once it runs. So the OAuth-library test talks
// to the broker through a small forwarding proxy started first, which keeps the `Host` header: the
// broker then sees the proxy's origin as its own (as a Worker behind a custom domain sees the
// domain, not an IP).
//
// Every token the fakes sign is recorded for 99-log-hygiene, which checks none reaches a log.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import http from "node:http";
import { after, before, test } from "node:test";

import * as client from "openid-client";

import { startWorker, tempDir } from "./harness.mjs";
import { callerKey, expectError, expectToken, kvDump, oauthToken, readResponse, requestLogs, setup, sleep, tokenCalls, v1Token, waitFor } from "./support.mjs";
import { decodeJwt, startFakeOidc } from "../support/fake-oidc.mjs";

/** The Cloudflare Access application's AUD tag (what Access puts in `aud`). */
const ACCESS_AUD = crypto.randomBytes(32).toString("hex");
/** The audience GitHub workflows ask for (`core.getIDToken("ims-broker")`). */
const GH_AUD = "ims-broker";
/** max_ttl_s of the github issuer (GitHub's tokens live 5 to 10 minutes). */
const GH_MAX_TTL = 900;
const ALICE_SUB = crypto.randomUUID();
const SERVICE_CN = `${crypto.randomBytes(16).toString("hex")}.access`;
const K8S_SA = "system:serviceaccount:reports:exporter";
const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

const now = () => Math.floor(Date.now() / 1000);

/** Claims of a GitHub Actions OIDC token of acme/site on `ref`. */
function ghClaims(o = {}) {
  const ref = o.ref ?? "refs/heads/main";
  const repository = o.repository ?? "acme/site";
  return {
    aud: GH_AUD,
    sub: `repo:${repository}:ref:${ref}`,
    repository,
    repository_owner: typeof repository === "string" ? repository.split("/")[0] : "acme",
    repository_id: "123456789",
    ref,
    ref_type: ref.startsWith("refs/tags/") ? "tag" : "branch",
    sha: crypto.randomBytes(20).toString("hex"),
    workflow: "deploy",
    event_name: "push",
    run_id: String(1e9 + Math.floor(Math.random() * 1e8)),
    actor: "octocat",
    runner_environment: "github-hosted",
    nbf: now() - 5,
    ...o,
  };
}

/** Claims of a Cloudflare Access token of a signed-in user. */
function accessUserClaims(o = {}) {
  return { aud: [ACCESS_AUD], email: "alice@acme.example", sub: ALICE_SUB, type: "app", identity_nonce: crypto.randomBytes(8).toString("hex"), country: "CH", nbf: now() - 5, ...o };
}

/** Claims of a Cloudflare Access service token: empty `sub`, the token's client id in `common_name`. */
function accessServiceClaims(o = {}) {
  return { aud: [ACCESS_AUD], sub: "", common_name: SERVICE_CN, type: "app", identity_nonce: crypto.randomBytes(8).toString("hex"), nbf: now() - 5, ...o };
}

/** A plain HTTP forwarder that keeps the Host header, so the broker behind it sees the proxy's origin. */
async function startHostProxy() {
  let target;
  const server = http.createServer((req, res) => {
    const up = http.request({ host: "127.0.0.1", port: target, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on("error", () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    forwardTo: (url) => (target = Number(new URL(url).port)),
    stop: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

let env; // setup(): fake Adobe + broker w (KV through the counting wrapper)
let w;
let proxy;
const oidc = {}; // name -> fake issuer
let trustedIssuers; // the TRUSTED_ISSUERS object
let callerKeys; // the CALLER_KEYS object
const keys = {}; // key callers: id -> caller key
let kvPersistDir;

before(async () => {
  proxy = await startHostProxy();
  oidc.github = await startFakeOidc({ label: "github" });
  oidc.access = await startFakeOidc({ label: "access", jwksPath: "/cdn-cgi/access/certs" });
  oidc.rot = await startFakeOidc({ label: "rot", path: "/rot", maxAge: 5, algs: ["RS256"] });
  oidc.flood = await startFakeOidc({ label: "flood", path: "/flood" });
  oidc.cold = await startFakeOidc({ label: "cold", path: "/cold" });
  // private_key_jwt: the client's own key set; its client_id is the issuer URL.
  oidc.reporting = await startFakeOidc({ label: "reporting", path: "/clients/reporting" });
  oidc.k8s = await startFakeOidc({ label: "k8s", path: "/k8s" });

  trustedIssuers = {
    github: { issuer: oidc.github.issuer, audience: ["https://github.com/acme", GH_AUD], max_ttl_s: GH_MAX_TTL },
    access: { issuer: oidc.access.issuer, audience: ACCESS_AUD, jwks_url: oidc.access.jwksUrl, algorithms: ["RS256"] },
    rot: { issuer: oidc.rot.issuer, audience: "ims-broker", jwks_url: oidc.rot.jwksUrl },
    flood: { issuer: oidc.flood.issuer, audience: "ims-broker", jwks_url: oidc.flood.jwksUrl },
    cold: { issuer: oidc.cold.issuer, audience: "ims-broker" },
    reporting: { issuer: oidc.reporting.issuer, audience: proxy.origin, jwks_url: oidc.reporting.jwksUrl },
    k8s: { issuer: oidc.k8s.issuer, audience: "api://ims-broker", jwks_url: oidc.k8s.jwksUrl },
  };
  const keyEntries = {};
  for (const [id, p] of Object.entries({ admin: { admin: true }, viewer: { role: "viewer" }, plain: {} })) {
    const k = callerKey();
    keys[id] = k.key;
    keyEntries[id] = { sha256: k.sha256, credentials: "*", scopes: "*", admin: p.admin ?? false, ...(p.role ? { role: p.role } : {}) };
  }
  callerKeys = {
    ...keyEntries,
    "site-deploy": { issuer: "github", bound_claims: { repository: "acme/site", ref: ["refs/heads/main", "refs/tags/*"] }, credentials: ["default"], scopes: ["openid"], role: "caller" },
    "docs-deploy": { issuer: "github", bound_claims: { repository: "acme/docs" }, credentials: ["analytics"], scopes: ["openid", "AdobeID"] },
    "ops-alice": { issuer: "access", bound_claims: { email: "alice@acme.example" }, credentials: ["analytics"], scopes: ["openid", "AdobeID"] },
    "rot-caller": { issuer: "rot", bound_claims: { sub: "rot-job" }, credentials: ["default"], scopes: ["openid"] },
    "flood-caller": { issuer: "flood", bound_claims: { sub: "flood-job" }, credentials: ["default"], scopes: ["openid"] },
    "cold-caller": { issuer: "cold", bound_claims: { sub: "cold-job" }, credentials: ["default"], scopes: ["openid"] },
    reporting: { issuer: "reporting", bound_claims: { sub: oidc.reporting.issuer }, credentials: ["default"], scopes: ["openid", "AdobeID"] },
    exporter: { issuer: "k8s", bound_claims: { sub: K8S_SA }, credentials: ["analytics"], scopes: ["openid"] },
  };
  kvPersistDir = tempDir("ims-broker-wi-kv-");
  env = await setup(null, {
    label: "workload-identity",
    credentials: { analytics: {} },
    kvWrapper: true,
    kvPersistDir,
    vars: { TRUSTED_ISSUERS: JSON.stringify(trustedIssuers) },
    secrets: { CALLER_KEYS: JSON.stringify(callerKeys) },
  });
  w = env.w;
  proxy.forwardTo(w.url);
});

after(async () => {
  await env?.stop();
  await proxy?.stop();
  for (const f of Object.values(oidc)) await f.stop();
});

/** A further broker with the same settings (and, unless given, the same KV). */
async function anotherBroker(t, o = {}) {
  const b = await startWorker({
    fake: env.fake,
    vars: { ...env.vars, ...(o.vars ?? {}) },
    secrets: { ...env.secrets, ...(o.secrets ?? {}) },
    kvPersistDir: o.kvPersistDir ?? kvPersistDir,
    label: o.label,
  });
  t.after(() => b.stop());
  return b;
}

/** KV writes and deletes made through w's binding so far. */
async function kvWrites() {
  const c = await w.kvFaults.counts();
  return c.writes + c.deletes;
}

/** POST /v1/token with the JWT in `Cf-Access-Jwt-Assertion` (no Authorization). */
const viaAccessHeader = (b, jwt, body) => v1Token(b, null, body, { headers: { "cf-access-jwt-assertion": jwt } });

/** POST /oauth/token with the JWT as a client assertion. */
const viaAssertion = (b, jwt, extra = {}) => oauthToken(b, { grant_type: "client_credentials", client_assertion_type: ASSERTION_TYPE, client_assertion: jwt, ...extra });

/** The request log line of `b` naming `jti` (waits for it: logs arrive asynchronously). */
async function logLineFor(b, jti) {
  return waitFor(() => requestLogs(b).find((l) => l.jti === jti), { what: `the request log line with jti ${jti}` });
}

/** Asserts a refused token: 401, the route's error code, a WWW-Authenticate challenge. */
function assertRefused(r, code, where) {
  expectError(r, 401, code, where);
  assert.ok((r.headers.get("www-authenticate") ?? "").length > 0, `${where}: WWW-Authenticate present`);
}

// ---------------------------------------------------------------------------------------------
// 1. Accepted tokens
// ---------------------------------------------------------------------------------------------

test("a GitHub Actions token gets a token through Authorization and through Cf-Access-Jwt-Assertion, within its entry's credential and scopes", async () => {
  const gh = oidc.github;
  const calls0 = await tokenCalls(env.fake);

  const claims = ghClaims();
  const jwt = gh.sign(claims);
  const { jti } = decodeJwt(jwt).claims;
  const t = expectToken(await v1Token(w, jwt, { scopes: ["openid"] }), "Bearer GitHub token");
  assert.equal(t.credential, "default");
  assert.equal(t.scope, "openid");
  assert.equal(await tokenCalls(env.fake), calls0 + 1, "one IMS call for the first token");
  assert.equal(gh.discoveryFetches, 1, "the JWKS was found through the issuer's discovery document");
  assert.equal(gh.jwksFetches, 1);

  const line = await logLineFor(w, jti);
  assert.equal(line.caller, "site-deploy", JSON.stringify(line));
  assert.equal(line.issuer, "github", JSON.stringify(line));
  assert.equal(line.sub, claims.sub, JSON.stringify(line));
  assert.equal(line.status, 200);

  // The same caller through Cloudflare Access's header, a fresh token (other jti), signed ES256.
  const es = gh.sign(ghClaims(), { alg: "ES256" });
  const viaHeader = expectToken(await viaAccessHeader(w, es, { scopes: ["openid"] }), "Cf-Access-Jwt-Assertion GitHub token (ES256)");
  assert.equal(viaHeader.access_token, t.access_token, "same caller rights, same cached token");
  assert.equal((await logLineFor(w, decodeJwt(es).claims.jti)).caller, "site-deploy");

  // A tag matches the glob `refs/tags/*`.
  expectToken(await v1Token(w, gh.sign(ghClaims({ ref: "refs/tags/v1.4.2" })), { scopes: ["openid"] }), "a release tag");
  // Another repository is another entry, with its own credential.
  const docs = expectToken(await v1Token(w, gh.sign(ghClaims({ repository: "acme/docs" })), { credential: "analytics", scopes: ["openid"] }), "acme/docs");
  assert.equal(docs.credential, "analytics");

  // Beyond the entry: 403, no IMS call, no challenge.
  const calls1 = await tokenCalls(env.fake);
  for (const [what, body] of [
    ["a credential the entry does not list", { credential: "analytics", scopes: ["openid"] }],
    ["a scope the entry does not list", { scopes: ["openid", "AdobeID"] }],
    ["the credential's default scopes (AdobeID among them)", undefined],
  ]) {
    for (const [how, send] of [["Bearer", (j) => v1Token(w, j, body)], ["Cf-Access-Jwt-Assertion", (j) => viaAccessHeader(w, j, body)]]) {
      const r = await send(gh.sign(ghClaims()));
      expectError(r, 403, "forbidden", `${what} (${how})`);
      assert.equal(r.headers.get("www-authenticate"), null, `${what} (${how}): no challenge on 403`);
    }
  }
  assert.equal(await tokenCalls(env.fake), calls1, "403s cost no IMS call");
  assert.equal(gh.jwksFetches, 1, "the keys stayed cached");
});

test("a Cloudflare Access user token gets a token through Cf-Access-Jwt-Assertion and through Authorization, within its entry", async () => {
  const ac = oidc.access;
  for (const [how, send] of [
    ["Cf-Access-Jwt-Assertion", (j, b) => viaAccessHeader(w, j, b)],
    ["Bearer", (j, b) => v1Token(w, j, b)],
  ]) {
    const claims = accessUserClaims();
    const jwt = ac.sign(claims);
    const t = expectToken(await send(jwt, { credential: "analytics" }), how);
    assert.equal(t.credential, "analytics");
    assert.equal(t.scope, "AdobeID,openid");
    const line = await logLineFor(w, claims.jti ?? decodeJwt(jwt).claims.jti);
    assert.deepEqual([line.caller, line.issuer, line.sub], ["ops-alice", "access", ALICE_SUB], JSON.stringify(line));

    expectError(await send(ac.sign(accessUserClaims()), { credential: "default", scopes: ["openid"] }), 403, "forbidden", `${how}: credential beyond the entry`);
    expectError(await send(ac.sign(accessUserClaims()), { credential: "analytics", scopes: ["openid", "read_organizations"] }), 403, "forbidden", `${how}: scope beyond the entry`);
  }
  assert.equal(ac.discoveryFetches, 0, "jwks_url given: no discovery");
  assert.equal(ac.jwksFetches, 1);
  // Another Access user (other email) is no caller.
  assertRefused(await viaAccessHeader(w, ac.sign(accessUserClaims({ email: "mallory@acme.example", sub: crypto.randomUUID() }))), "unauthorized", "another Access user");
  // The access issuer allows RS256 only: its ES256 key (published) does not count.
  assertRefused(await viaAccessHeader(w, ac.sign(accessUserClaims(), { alg: "ES256" })), "unauthorized", "ES256 for an RS256-only issuer");
});

test("a Cloudflare Access service token (empty sub, common_name) gets a token for the entry bound to its common_name", async (t) => {
  const ac = oidc.access;
  const b = await anotherBroker(t, {
    label: "wi-access-service",
    kvPersistDir: tempDir("ims-broker-wi-svc-"),
    secrets: {
      CALLER_KEYS: JSON.stringify({ "ci-service": { issuer: "access", bound_claims: { common_name: SERVICE_CN }, credentials: ["default"], scopes: ["openid"] } }),
    },
  });
  const claims = accessServiceClaims();
  const jwt = ac.sign(claims);
  const tok = expectToken(await viaAccessHeader(b, jwt, { scopes: ["openid"] }), "service token via Cf-Access-Jwt-Assertion");
  assert.equal(tok.credential, "default");
  const line = await logLineFor(b, decodeJwt(jwt).claims.jti);
  assert.deepEqual([line.caller, line.issuer, line.sub], ["ci-service", "access", ""], JSON.stringify(line));
  expectToken(await v1Token(b, ac.sign(accessServiceClaims()), { scopes: ["openid"] }), "service token via Bearer");
  expectError(await v1Token(b, ac.sign(accessServiceClaims()), { scopes: ["AdobeID"] }), 403, "forbidden", "scope beyond the entry");
  assertRefused(await viaAccessHeader(b, ac.sign(accessServiceClaims({ common_name: "other.access" }))), "unauthorized", "another service token");
  // A user token of the same Access team is not the service token's caller.
  assertRefused(await viaAccessHeader(b, ac.sign(accessUserClaims())), "unauthorized", "a user token");
});

test("Authorization wins over Cf-Access-Jwt-Assertion when both are sent", async () => {
  const good = oidc.access.sign(accessUserClaims());
  const gh = oidc.github.sign(ghClaims());
  const both = await v1Token(w, gh, { scopes: ["openid"] }, { headers: { "cf-access-jwt-assertion": good } });
  expectToken(both, "both headers");
  assert.equal((await logLineFor(w, decodeJwt(gh).claims.jti)).caller, "site-deploy", "the caller of the Authorization token");
  // A refused Authorization token is not rescued by a good Cf-Access-Jwt-Assertion.
  const bad = oidc.github.sign(ghClaims({ repository: "acme/other" }));
  assertRefused(await v1Token(w, bad, { credential: "analytics" }, { headers: { "cf-access-jwt-assertion": oidc.access.sign(accessUserClaims()) } }), "unauthorized", "bad Authorization + good Cf-Access");
  // Nor a caller key next to it: a good key in Authorization is the caller.
  expectToken(await v1Token(w, keys.plain, { scopes: ["openid"] }, { headers: { "cf-access-jwt-assertion": bad } }), "a caller key with a bad Cf-Access-Jwt-Assertion");
});

/** Has the rot and flood issuers' keys fetched (and cached) once, when that has not happened. */
async function primeKeys() {
  if (oidc.rot.jwksFetches === 0) expectToken(await v1Token(w, oidc.rot.sign({ aud: "ims-broker", sub: "rot-job" }), { scopes: ["openid"] }), "priming rot");
  if (oidc.flood.jwksFetches === 0) expectToken(await v1Token(w, oidc.flood.sign({ aud: "ims-broker", sub: "flood-job" }), { scopes: ["openid"] }), "priming flood");
}

test("an issuer's keys are fetched once (from jwks_url, no discovery) and then served from the cache", async () => {
  for (const [f, sub] of [[oidc.rot, "rot-job"], [oidc.flood, "flood-job"]]) {
    for (let i = 0; i < 3; i++) expectToken(await v1Token(w, f.sign({ aud: "ims-broker", sub }), { scopes: ["openid"] }), `${f.label} token ${i}`);
    assert.deepEqual([f.jwksFetches, f.discoveryFetches], [1, 0], f.label);
  }
  // In KV under jwks:<issuer name>, for other isolates.
  assert.ok(await w.kv.get("jwks:rot"), "jwks:rot in KV");
  assert.ok(await w.kv.get("jwks:flood"), "jwks:flood in KV");
});

test("a new isolate's first, concurrent token requests all get a token, with one fetch of the issuer's keys", async (t) => {
  const gh = oidc.github;
  const b = await anotherBroker(t, { label: "wi-concurrent-first", kvPersistDir: tempDir("ims-broker-wi-conc-") });
  const [d0, j0] = [gh.discoveryFetches, gh.jwksFetches];
  const results = await Promise.all(Array.from({ length: 12 }, (_, i) => {
    const jwt = gh.sign(ghClaims(), { alg: i % 2 ? "ES256" : "RS256" });
    return i % 3 === 2 ? viaAccessHeader(b, jwt, { scopes: ["openid"] }) : v1Token(b, jwt, { scopes: ["openid"] });
  }));
  const statuses = results.map((r) => r.status);
  assert.deepEqual(statuses, statuses.map(() => 200), `statuses: ${statuses.join(",")}; ${results.find((r) => r.status !== 200)?.text ?? ""}`);
  assert.deepEqual([gh.discoveryFetches - d0, gh.jwksFetches - j0], [1, 1], "one discovery and one JWKS fetch for all of them");
});

// ---------------------------------------------------------------------------------------------
// 2. Refused tokens
// ---------------------------------------------------------------------------------------------

/** Pads a GitHub-shaped token's claims so the whole token is about `bytes` long. */
function bigToken(bytes) {
  const jwt = oidc.github.sign(ghClaims({ padding: "x".repeat(Math.ceil((bytes * 3) / 4)) }));
  return jwt;
}

test("forged, altered, misdirected, stale, oversized or unmatched tokens → 401 with a challenge, no IMS call, no KV write", async () => {
  const gh = oidc.github;
  // The keys are cached (first test); prime again in case this test runs alone.
  expectToken(await v1Token(w, gh.sign(ghClaims()), { scopes: ["openid"] }), "priming");
  const rsKid = gh.kids("RS256")[0];
  const esKid = gh.kids("ES256")[0];
  const t0 = now();
  const attacks = [
    ["alg none", gh.attack.none(ghClaims(), { kid: rsKid })],
    ["alg none with a made-up signature", gh.attack.none(ghClaims()).slice(0, -1) + ".AAAA"],
    ["HS256 keyed with the issuer's RSA public key (SPKI PEM)", gh.attack.hs256WithPublicKey(ghClaims(), { as: "pem" })],
    ["HS256 keyed with the issuer's RSA public key (PKCS#1 PEM)", gh.attack.hs256WithPublicKey(ghClaims(), { as: "pkcs1" })],
    ["HS256 keyed with the issuer's RSA public key (JWK JSON)", gh.attack.hs256WithPublicKey(ghClaims(), { as: "jwk" })],
    ["HS256 keyed with the issuer's RSA public key (DER)", gh.attack.hs256WithPublicKey(ghClaims(), { as: "der" })],
    ["a valid signature over a payload changed afterwards (ref → main)", gh.attack.tamper(gh.sign(ghClaims({ ref: "refs/heads/feature" })), (c) => ({ ...c, ref: "refs/heads/main", sub: "repo:acme/site:ref:refs/heads/main" }))],
    ["a valid signature over a payload changed afterwards (exp extended)", gh.attack.tamper(gh.sign(ghClaims({ iat: t0 - 900, exp: t0 - 300 })), (c) => ({ ...c, iat: t0, exp: t0 + 300 }))],
    ["signed by another key, naming the issuer's kid", gh.attack.foreignKey(ghClaims(), { kid: rsKid })],
    ["RS256 header, signed by the EC key (naming its kid)", gh.sign(ghClaims(), { kid: esKid, header: { alg: "RS256" } })],
    ["ES256 header, signed by the RSA key (naming its kid)", gh.sign(ghClaims(), { kid: rsKid, header: { alg: "ES256" } })],
    ["crit header", gh.attack.crit(ghClaims(), ["exp"])],
    ["crit header naming an extension", gh.attack.crit(ghClaims(), ["b64"], { header: { b64: false } })],
    ["no kid while the JWKS has two keys", gh.sign(ghClaims(), { header: { kid: undefined } })],
    ["wrong iss (an untrusted issuer)", gh.sign(ghClaims({ iss: "https://token.actions.githubusercontent.com" }))],
    ["wrong iss (the trusted issuer with a trailing slash)", gh.sign(ghClaims({ iss: `${gh.issuer}/` }))],
    ["no iss", gh.sign(ghClaims({ iss: undefined }))],
    ["wrong aud", gh.sign(ghClaims({ aud: "sts.amazonaws.com" }))],
    ["aud list without an accepted audience", gh.sign(ghClaims({ aud: ["sts.amazonaws.com", "https://github.com/other"] }))],
    ["no aud", gh.sign(ghClaims({ aud: undefined }))],
    ["expired (beyond the 60 s skew)", gh.sign(ghClaims({ iat: t0 - 400, nbf: t0 - 400, exp: t0 - 90 }))],
    ["no exp", gh.sign(ghClaims({ exp: undefined }))],
    ["nbf in the future (beyond the skew)", gh.sign(ghClaims({ nbf: t0 + 600, exp: t0 + 800 }))],
    ["iat in the future (beyond the skew)", gh.sign(ghClaims({ iat: t0 + 600, nbf: undefined, exp: t0 + 800 }))],
    [`lifetime over max_ttl_s (${GH_MAX_TTL} s)`, gh.sign(ghClaims({ iat: t0, exp: t0 + GH_MAX_TTL + 120 }))],
    ["a 9 KiB token (over 8 KiB)", bigToken(9 * 1024)],
    ["claims matching no entry (another repository)", gh.sign(ghClaims({ repository: "acme/other" }))],
    ["claims matching no entry (another branch)", gh.sign(ghClaims({ ref: "refs/heads/feature" }))],
    ["claims matching no entry (bound claim missing)", gh.sign(ghClaims({ ref: undefined }))],
    ["claims matching no entry (bound claim not a string)", gh.sign(ghClaims({ repository: { name: "acme/site" } }))],
  ];
  // Every one is JWT-shaped (two dots, header starting eyJ), so it is judged as a token.
  for (const [what, jwt] of attacks) assert.ok(jwt.split(".").length === 3 && jwt.startsWith("eyJ"), what);

  const calls0 = await tokenCalls(env.fake);
  const kv0 = await kvWrites();
  const fetches0 = [gh.jwksFetches, gh.discoveryFetches];
  const wrong = []; // every deviation, reported together
  for (const [what, jwt] of attacks) {
    for (const [how, send, code] of [
      ["Bearer", () => v1Token(w, jwt, { scopes: ["openid"] }), "unauthorized"],
      ["Cf-Access-Jwt-Assertion", () => viaAccessHeader(w, jwt, { scopes: ["openid"] }), "unauthorized"],
      ["client_assertion", () => viaAssertion(w, jwt, { scope: "openid" }), "invalid_client"],
    ]) {
      const r = await send();
      try {
        assertRefused(r, code, `${what} (${how})`);
      } catch (e) {
        wrong.push(e.message.split("\n")[0]);
      }
    }
  }
  assert.deepEqual(wrong, [], `${wrong.length} attack(s) not refused as specified`);
  assert.equal(await tokenCalls(env.fake), calls0, "no IMS call for any refused token");
  assert.equal(await kvWrites(), kv0, "no KV write for any refused token");
  assert.deepEqual([gh.jwksFetches, gh.discoveryFetches], fetches0, "the cached keys served every check");
});

test("a 100 KiB token → 401 in a header (over the 8 KiB JWT limit), 413 in a form body (over the 16 KiB body limit); no work either way", async () => {
  const gh = oidc.github;
  const jwt = bigToken(100 * 1024);
  assert.ok(jwt.length >= 100 * 1024, `${jwt.length} bytes`);
  const calls0 = await tokenCalls(env.fake);
  const kv0 = await kvWrites();
  const fetches0 = gh.jwksFetches + gh.discoveryFetches;
  assertRefused(await v1Token(w, jwt, { scopes: ["openid"] }), "unauthorized", "100 KiB in Authorization");
  assertRefused(await viaAccessHeader(w, jwt, { scopes: ["openid"] }), "unauthorized", "100 KiB in Cf-Access-Jwt-Assertion");
  const form = await viaAssertion(w, jwt);
  expectError(form, 413, "invalid_request", "100 KiB as client_assertion");
  assert.equal(await tokenCalls(env.fake), calls0);
  assert.equal(await kvWrites(), kv0);
  assert.equal(gh.jwksFetches + gh.discoveryFetches, fetches0, "no fetch at the issuer");
});

test("none, HMAC and other algorithms are refused before any fetch at the issuer", async () => {
  const cold = oidc.cold; // trusted, but never used by the broker so far
  const claims = () => ({ aud: "ims-broker", sub: "cold-job" });
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const withAlg = (alg) => `${b64({ alg, typ: "JWT", kid: cold.kids("RS256")[0] })}.${b64(cold.claims(claims()))}.${crypto.randomBytes(256).toString("base64url")}`;
  const forged = [
    ["alg none", cold.attack.none(claims())],
    ["HS256 keyed with the public key", cold.attack.hs256WithPublicKey(claims())],
    ["HS512", withAlg("HS512")],
    ["RS512", withAlg("RS512")],
    ["PS256", withAlg("PS256")],
    ["EdDSA", withAlg("EdDSA")],
    ["alg missing", withAlg(undefined)],
  ];
  for (const [, jwt] of forged) cold.record(jwt);
  const calls0 = await tokenCalls(env.fake);
  for (const [what, jwt] of forged) {
    assertRefused(await v1Token(w, jwt, { scopes: ["openid"] }), "unauthorized", what);
    assertRefused(await viaAssertion(w, jwt), "invalid_client", `${what} (client_assertion)`);
  }
  assert.deepEqual([cold.discoveryFetches, cold.jwksFetches], [0, 0], "the issuer was never asked");
  assert.equal(await tokenCalls(env.fake), calls0);
  // The issuer itself works: a good token is accepted (and only now are its keys fetched).
  expectToken(await v1Token(w, cold.sign(claims()), { scopes: ["openid"] }), "a good token of the same issuer");
  assert.equal(cold.jwksFetches, 1);
});

// ---------------------------------------------------------------------------------------------
// 3. Issuer outage
// ---------------------------------------------------------------------------------------------

test("issuer down: cached keys keep working (memory and KV); with nothing cached → 503 issuer_unavailable with Retry-After", async (t) => {
  const gh = oidc.github;
  expectToken(await v1Token(w, gh.sign(ghClaims()), { scopes: ["openid"] }), "keys cached before the outage");
  t.after(() => gh.down(false));
  for (const mode of ["503", "close"]) {
    gh.down(mode);
    const f0 = gh.jwksFetches + gh.discoveryFetches;
    expectToken(await v1Token(w, gh.sign(ghClaims()), { scopes: ["openid"] }), `issuer down (${mode}), keys in memory`);
    assert.equal(gh.jwksFetches + gh.discoveryFetches, f0);
  }

  // A new isolate sharing the KV: the key set cached in KV serves.
  gh.down("503");
  const shared = await anotherBroker(t, { label: "wi-down-shared-kv" });
  expectToken(await v1Token(shared, gh.sign(ghClaims()), { scopes: ["openid"] }), "issuer down, keys in KV, new isolate");

  // A new isolate with an empty KV: nothing to verify with.
  for (const mode of ["503", "close"]) {
    gh.down(mode);
    const fresh = await anotherBroker(t, { label: `wi-down-empty-${mode}`, kvPersistDir: tempDir("ims-broker-wi-empty-") });
    const calls0 = await tokenCalls(env.fake);
    const r = await v1Token(fresh, gh.sign(ghClaims()), { scopes: ["openid"] });
    expectError(r, 503, "issuer_unavailable", `issuer down (${mode}), nothing cached`);
    const ra = r.headers.get("retry-after");
    assert.ok(ra !== null && /^\d+$/.test(ra) && Number(ra) >= 1, `Retry-After: ${ra}`);
    assert.equal(await tokenCalls(env.fake), calls0, "no IMS call");
    await fresh.stop();
  }
  gh.down(false);
});

// ---------------------------------------------------------------------------------------------
// 4. /oauth/token with a real OAuth client library
// ---------------------------------------------------------------------------------------------

/** A `private_key_jwt` client auth of openid-client whose assertions are recorded for 99-log-hygiene. */
function recordedPrivateKeyJwt(issuerFake, key) {
  const inner = client.PrivateKeyJwt(key);
  return async (as, c, body, headers) => {
    await inner(as, c, body, headers);
    issuerFake.record(body.get("client_assertion"));
  };
}

/** openid-client's `{key, kid}` for a key of the fake issuer `f`. */
async function libraryKey(f, alg) {
  const k = f.key(alg);
  const algorithm = alg === "RS256" ? { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } : { name: "ECDSA", namedCurve: "P-256" };
  return { key: await crypto.webcrypto.subtle.importKey("jwk", k.privateKey.export({ format: "jwk" }), algorithm, false, ["sign"]), kid: k.kid };
}

test("the broker's RFC 8414 metadata document names its origin, token endpoint and the JWT client authentication", async () => {
  const r = await readResponse(await w.fetch("/.well-known/oauth-authorization-server"));
  assert.equal(r.status, 200, r.text);
  const origin = new URL(w.url).origin;
  const m = r.json;
  assert.equal(m.issuer, origin);
  assert.equal(m.token_endpoint, `${origin}/oauth/token`);
  assert.deepEqual(m.grant_types_supported, ["client_credentials"]);
  for (const a of ["client_secret_basic", "client_secret_post", "private_key_jwt"]) assert.ok(m.token_endpoint_auth_methods_supported.includes(a), `${a}: ${r.text}`);
  assert.deepEqual([...m.token_endpoint_auth_signing_alg_values_supported].sort(), ["ES256", "RS256"]);
  assert.deepEqual(m.response_types_supported, []);
  // Behind another origin (the proxy), the document names that origin.
  const viaProxy = await (await fetch(`${proxy.origin}/.well-known/oauth-authorization-server`)).json();
  assert.equal(viaProxy.issuer, proxy.origin);
});

test("openid-client: discovery of the broker, then client_credentials with private_key_jwt (RS256 and ES256 assertions the library signs)", async () => {
  const f = oidc.reporting;
  const clientId = f.issuer; // iss = sub = client_id
  for (const alg of ["RS256", "ES256"]) {
    const cfg = await client.discovery(new URL(proxy.origin), clientId, undefined, recordedPrivateKeyJwt(f, await libraryKey(f, alg)), {
      algorithm: "oauth2",
      execute: [client.allowInsecureRequests],
    });
    const meta = cfg.serverMetadata();
    assert.equal(meta.issuer, proxy.origin);
    assert.equal(meta.token_endpoint, `${proxy.origin}/oauth/token`);
    const calls0 = await tokenCalls(env.fake);
    const tokens = await client.clientCredentialsGrant(cfg, { scope: "openid AdobeID" });
    assert.equal(typeof tokens.access_token, "string", alg);
    assert.ok(tokens.access_token.length > 0);
    assert.equal(tokens.token_type, "bearer");
    assert.equal(tokens.scope, "AdobeID openid");
    assert.ok((await tokenCalls(env.fake)) <= calls0 + 1);
    const assertion = f.tokens.at(-1);
    assert.equal(decodeJwt(assertion).header.alg, alg);
    assert.deepEqual([decodeJwt(assertion).claims.aud, decodeJwt(assertion).claims.sub], [proxy.origin, clientId]);
    const line = await logLineFor(w, decodeJwt(assertion).claims.jti);
    assert.deepEqual([line.caller, line.issuer], ["reporting", "reporting"], JSON.stringify(line));
  }
  // A scope beyond the entry → invalid_scope (400) through the library.
  const cfg = await client.discovery(new URL(proxy.origin), clientId, undefined, recordedPrivateKeyJwt(f, await libraryKey(f, "RS256")), { algorithm: "oauth2", execute: [client.allowInsecureRequests] });
  await assert.rejects(client.clientCredentialsGrant(cfg, { scope: "openid read_organizations" }), (e) => e instanceof client.ResponseBodyError && e.status === 400 && e.error === "invalid_scope");
});

test("openid-client: a platform token as client_assertion (federated credential) gets a token; a wrong client_id or extra client authentication is refused", async () => {
  const k8s = oidc.k8s;
  const platformToken = () => k8s.sign({ aud: "api://ims-broker", sub: K8S_SA, "kubernetes.io": { namespace: "reports", serviceaccount: { name: "exporter" } } }, { alg: "ES256" });
  // The Azure / Entra workload-identity shape: the client sends the token it was given, as is.
  const federated = (tokenFn) => (_as, c, body) => {
    body.set("client_id", c.client_id);
    body.set("client_assertion_type", ASSERTION_TYPE);
    body.set("client_assertion", tokenFn());
  };
  const config = (clientId, auth) => {
    const cfg = new client.Configuration({ issuer: new URL(w.url).origin, token_endpoint: `${w.url}/oauth/token` }, clientId, undefined, auth);
    client.allowInsecureRequests(cfg);
    return cfg;
  };
  for (const clientId of ["exporter", K8S_SA]) {
    const tokens = await client.clientCredentialsGrant(config(clientId, federated(platformToken)), { scope: "openid", credential: "analytics" });
    assert.equal(typeof tokens.access_token, "string", `client_id ${clientId}`);
    assert.equal(tokens.scope, "openid");
    const line = await logLineFor(w, decodeJwt(k8s.tokens.at(-1)).claims.jti);
    assert.deepEqual([line.caller, line.issuer, line.sub], ["exporter", "k8s", K8S_SA], JSON.stringify(line));
  }
  // client_id neither the caller's id nor the token's sub.
  const calls0 = await tokenCalls(env.fake);
  const e = await client.clientCredentialsGrant(config("site-deploy", federated(platformToken)), { scope: "openid", credential: "analytics" }).then(
    () => assert.fail("accepted a client_id of another caller"),
    (err) => err,
  );
  const status = e.status ?? e.response?.status;
  assert.equal(status, 401, String(e));
  const body = e instanceof client.WWWAuthenticateChallengeError ? await e.response.json() : e.cause;
  assert.equal(body.error, "invalid_client", JSON.stringify(body));
  // An assertion next to Basic or a client_secret → 400 invalid_request.
  const form = { grant_type: "client_credentials", client_assertion_type: ASSERTION_TYPE, client_assertion: platformToken(), scope: "openid", credential: "analytics" };
  expectError(await oauthToken(w, form, { basic: ["plain", keys.plain] }), 400, "invalid_request", "assertion + Basic");
  expectError(await oauthToken(w, { ...form, client_assertion: platformToken(), client_id: "plain", client_secret: keys.plain }), 400, "invalid_request", "assertion + client_secret");
  // A wrong assertion type is no JWT client authentication.
  const wrongType = await oauthToken(w, { ...form, client_assertion: platformToken(), client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:saml2-bearer" });
  assert.ok([400, 401].includes(wrongType.status), `wrong assertion type: ${wrongType.status} ${wrongType.text}`);
  assert.equal(await tokenCalls(env.fake), calls0, "no IMS call for the refusals");
});

// ---------------------------------------------------------------------------------------------
// 5. Caller configuration
// ---------------------------------------------------------------------------------------------

test("federated CALLER_KEYS entries: an unknown issuer, overlapping entries or a malformed entry → 500 misconfigured for every caller", async (t) => {
  const admin = callerKey();
  const adminEntry = { sha256: admin.sha256, credentials: "*", scopes: "*", admin: true };
  const cases = [
    ["an unknown issuer", { "site-x": { issuer: "gitlab", bound_claims: { sub: "x" }, credentials: ["default"], scopes: ["openid"] } }],
    ["two overlapping entries of one issuer", {
      "overlap-site": { issuer: "github", bound_claims: { repository: "acme/site" }, credentials: ["default"], scopes: ["openid"] },
      "overlap-any": { issuer: "github", bound_claims: { repository: "acme/*" }, credentials: ["default"], scopes: ["openid"] },
    }, ["overlap-site", "overlap-any"]],
    ["empty bound_claims", { "site-x": { issuer: "github", bound_claims: {}, credentials: ["default"], scopes: ["openid"] } }],
    ["no bound_claims", { "site-x": { issuer: "github", credentials: ["default"], scopes: ["openid"] } }],
    ["a bound claim that is a number", { "site-x": { issuer: "github", bound_claims: { run_id: 5 }, credentials: ["default"], scopes: ["openid"] } }],
    ["both sha256 and issuer", { "site-x": { sha256: callerKey().sha256, issuer: "github", bound_claims: { repository: "acme/site" }, credentials: ["default"], scopes: ["openid"] } }],
  ];
  const wrong = [];
  for (const [what, entries, named] of cases) {
    const b = await anotherBroker(t, { label: `wi-config-${what.replace(/\W+/g, "-")}`, kvPersistDir: tempDir("ims-broker-wi-cfg-"), secrets: { CALLER_KEYS: JSON.stringify({ admin: adminEntry, ...entries }) } });
    const byKey = await v1Token(b, admin.key, { scopes: ["openid"] });
    const byToken = await v1Token(b, oidc.github.sign(ghClaims()), { scopes: ["openid"] });
    for (const [who, r] of [["a key caller", byKey], ["a token caller", byToken]]) {
      if (r.status !== 500 || r.json?.error !== "misconfigured") wrong.push(`${what}, ${who}: ${r.status} ${r.text.slice(0, 200)}`);
    }
    if (named) {
      // The refusal names both callers (in the log, where operators read which setting is wrong).
      await sleep(200);
      const text = b.logs().join("\n") + byKey.text;
      for (const id of named) if (!text.includes(id)) wrong.push(`${what}: ${id} is not named in the log or the answer`);
    }
    await b.stop();
  }
  assert.deepEqual(wrong, []);
});

test("a token whose list claim matches two entries is refused, never given to either; matching one entry it is accepted", async (t) => {
  const k8s = oidc.k8s;
  const b = await anotherBroker(t, {
    label: "wi-groups",
    kvPersistDir: tempDir("ims-broker-wi-groups-"),
    secrets: {
      CALLER_KEYS: JSON.stringify({
        "team-a": { issuer: "k8s", bound_claims: { groups: "team-a" }, credentials: ["default"], scopes: ["openid"] },
        "team-b": { issuer: "k8s", bound_claims: { groups: "team-b" }, credentials: ["analytics"], scopes: ["openid"] },
      }),
    },
  });
  const tok = (groups) => k8s.sign({ aud: "api://ims-broker", sub: `system:serviceaccount:ci:${crypto.randomBytes(3).toString("hex")}`, groups });
  const calls0 = await tokenCalls(env.fake);
  assertRefused(await v1Token(b, tok(["team-a", "team-b"]), { scopes: ["openid"] }), "unauthorized", "groups matching both entries");
  assertRefused(await v1Token(b, tok(["team-b", "team-a", "other"]), { credential: "analytics", scopes: ["openid"] }), "unauthorized", "groups matching both entries (other order)");
  assert.equal(await tokenCalls(env.fake), calls0);
  const one = tok(["team-a", "other"]);
  expectToken(await v1Token(b, one, { scopes: ["openid"] }), "groups matching team-a only");
  assert.equal((await logLineFor(b, decodeJwt(one).claims.jti)).caller, "team-a");
});

// ---------------------------------------------------------------------------------------------
// 6. Operators
// ---------------------------------------------------------------------------------------------

test("GET /v1/identity lists the trusted issuers and the federated callers to operators, and nothing secret", async () => {
  const r = await readResponse(await w.fetch("/v1/identity", { headers: { authorization: `Bearer ${keys.admin}` } }));
  assert.equal(r.status, 200, r.text);
  const issuers = Object.fromEntries(r.json.issuers.map((i) => [i.name, i]));
  assert.deepEqual(Object.keys(issuers).sort(), Object.keys(trustedIssuers).sort());
  assert.equal(issuers.github.issuer, oidc.github.issuer);
  assert.deepEqual(issuers.github.audiences, ["https://github.com/acme", GH_AUD]);
  assert.equal(issuers.github.max_ttl_s, GH_MAX_TTL);
  assert.equal(issuers.access.jwks_url, oidc.access.jwksUrl);
  assert.deepEqual(issuers.access.algorithms, ["RS256"]);
  const callers = Object.fromEntries(r.json.callers.map((c) => [c.id, c]));
  const federated = Object.keys(callerKeys).filter((id) => callerKeys[id].issuer);
  assert.deepEqual(Object.keys(callers).sort(), federated.sort(), "federated callers only");
  // The same bound claims (a single string and a one-element list say the same).
  const asLists = (b) => Object.fromEntries(Object.entries(b).map(([k, v]) => [k, [v].flat()]));
  assert.deepEqual(asLists(callers["site-deploy"].bound_claims), asLists(callerKeys["site-deploy"].bound_claims));
  assert.equal(callers["site-deploy"].issuer, "github");
  assert.deepEqual(callers["site-deploy"].credentials, ["default"]);
  assert.deepEqual(callers["site-deploy"].scopes, ["openid"]);
  assert.ok(!/sha256|eyJ/.test(r.text), "no digests, no tokens");

  const viewer = await w.fetch("/v1/identity", { headers: { authorization: `Bearer ${keys.viewer}` } });
  assert.equal(viewer.status, 200);
  expectError(await readResponse(await w.fetch("/v1/identity", { headers: { authorization: `Bearer ${keys.plain}` } })), 403, "forbidden", "a plain caller");
  expectError(await readResponse(await w.fetch("/v1/identity", { headers: { authorization: `Bearer ${oidc.github.sign(ghClaims())}` } })), 403, "forbidden", "a token caller");
  assert.equal((await w.fetch("/v1/identity")).status, 401);
});

// ---------------------------------------------------------------------------------------------
// 7. Unknown kids and key rotation
// ---------------------------------------------------------------------------------------------

test("an unknown kid costs one JWKS refetch, then 401; 20 more unknown kids within a minute cost no refetch", async () => {
  const fl = oidc.flood;
  const claims = () => ({ aud: "ims-broker", sub: "flood-job" });
  // The keys are cached, fetched just now.
  await primeKeys();
  expectToken(await v1Token(w, fl.sign(claims()), { scopes: ["openid"] }), "a known kid, from the cache");
  const fetches0 = fl.jwksFetches;
  assert.equal(fetches0, 1, "still the one fetch of the priming");
  const calls0 = await tokenCalls(env.fake);
  const kvBefore = await kvDump(w);

  // A token signed by the issuer's key but naming a kid the JWKS does not have.
  assertRefused(await v1Token(w, fl.sign(claims(), { header: { kid: "unknown-0" } }), { scopes: ["openid"] }), "unauthorized", "unknown kid");
  assert.equal(fl.jwksFetches, fetches0 + 1, "exactly one refetch");
  const t0 = Date.now();
  for (let i = 1; i <= 20; i++) {
    const jwt = i % 2 ? fl.sign(claims(), { header: { kid: `unknown-${i}` } }) : fl.attack.foreignKey(claims(), { kid: `unknown-${i}` });
    const r = i % 3 ? await v1Token(w, jwt, { scopes: ["openid"] }) : await viaAssertion(w, jwt);
    assertRefused(r, i % 3 ? "unauthorized" : "invalid_client", `unknown kid ${i}`);
  }
  assert.ok(Date.now() - t0 < 60_000, "the flood fits in a minute");
  assert.equal(fl.jwksFetches, fetches0 + 1, "no further refetch within the minute");
  // KV: nothing but the issuer's cached key set may have been touched by the refused tokens
  // (the refetch). Read before the next good request, which may write the isolate's event batch.
  const kvAfter = await kvDump(w);
  const changed = [...new Set([...Object.keys(kvBefore), ...Object.keys(kvAfter)])].filter((k) => kvBefore[k] !== kvAfter[k]);
  assert.deepEqual(changed.filter((k) => k !== "jwks:flood"), [], `KV keys changed by refused tokens: ${changed.join(", ")}`);
  // The known key still works, from the cache.
  expectToken(await v1Token(w, fl.sign(claims()), { scopes: ["openid"] }), "a known kid after the flood");
  assert.equal(fl.jwksFetches, fetches0 + 1);
  assert.equal(await tokenCalls(env.fake), calls0, "no IMS call (the good token's scope set was cached)");
});

test("key rotation: a new key is accepted after one refetch; a removed key works while the JWKS is cached and is refused once it is gone", async (t) => {
  const rot = oidc.rot; // publishes max-age=5, which the broker clamps to 300 s
  const claims = () => ({ aud: "ims-broker", sub: "rot-job" });
  const [oldKid] = rot.kids("RS256");
  // The keys are cached, fetched just now.
  await primeKeys();
  expectToken(await v1Token(w, rot.sign(claims()), { scopes: ["openid"] }), "the first key, from the cache");
  assert.equal(rot.jwksFetches, 1);

  const newKid = rot.rotate("RS256");
  expectToken(await v1Token(w, rot.sign(claims(), { kid: newKid }), { scopes: ["openid"] }), "the new key");
  assert.equal(rot.jwksFetches, 2, "exactly one refetch for the new kid");
  expectToken(await v1Token(w, rot.sign(claims(), { kid: oldKid }), { scopes: ["openid"] }), "the old key, still published");

  // The issuer stops publishing the old key. Its max-age (5 s) passes; the broker's cache lives
  // at least 300 s, so the old key keeps working without a fetch.
  rot.removeKey(oldKid);
  await sleep(6_000);
  expectToken(await v1Token(w, rot.sign(claims(), { kid: oldKid }), { scopes: ["openid"] }), "the removed key while the cache is valid");
  assert.equal(rot.jwksFetches, 2, "max-age 5 s is clamped: no fetch after 6 s");

  // The cache ends: the KV copy is gone (as when it expires) and a new isolate has no memory of
  // it. (The 300 s minimum is not waited for.)
  await w.kv.delete("jwks:rot");
  const b = await anotherBroker(t, { label: "wi-rotation-fresh" });
  assertRefused(await v1Token(b, rot.sign(claims(), { kid: oldKid }), { scopes: ["openid"] }), "unauthorized", "the removed key once the cache is gone");
  assert.ok(rot.jwksFetches >= 3 && rot.jwksFetches <= 4, `the fresh isolate fetched the key set (${rot.jwksFetches} fetches in all)`);
  const f = rot.jwksFetches;
  expectToken(await v1Token(b, rot.sign(claims(), { kid: newKid }), { scopes: ["openid"] }), "the new key on the fresh isolate");
  assert.equal(rot.jwksFetches, f, "from the freshly fetched set");
  assert.ok(await b.kv.get("jwks:rot"), "cached in KV again");
});
