// /oauth/token used by a real OAuth2 client library (openid-client 6,
// built on oauth4webapi): client_credentials with client_secret_basic and client_secret_post,
// and the library's own error handling of invalid_client (and invalid_scope).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import * as client from "openid-client";

import { callerKey, setup, tokenCalls } from "./support.mjs";

let env;
before(async () => {
  env = await setup(null, {
    label: "oauth-lib",
    credentials: { analytics: {} },
    callers: {
      "svc-basic": { credentials: "*", scopes: "*" },
      "svc-post": { credentials: ["default"], scopes: ["openid", "AdobeID"] },
    },
  });
});
after(() => env?.stop());

/** A Configuration for the broker as the authorization server. */
function config(clientId, auth) {
  const server = { issuer: env.w.url, token_endpoint: `${env.w.url}/oauth/token` };
  const cfg = new client.Configuration(server, clientId, undefined, auth);
  client.allowInsecureRequests(cfg); // http://127.0.0.1 in the tests
  return cfg;
}

test("8.1 client_secret_basic: clientCredentialsGrant gets a token", async () => {
  await env.fake.reset();
  const cfg = config("svc-basic", client.ClientSecretBasic(env.keys["svc-basic"]));
  const tokens = await client.clientCredentialsGrant(cfg, { scope: "openid AdobeID" });
  assert.equal(typeof tokens.access_token, "string");
  assert.equal(tokens.token_type, "bearer", "the library lower-cases token_type");
  assert.equal(tokens.scope, "AdobeID openid");
  assert.ok(tokens.expiresIn() > 86000, `expiresIn() ${tokens.expiresIn()}`);
  assert.deepEqual((await env.fake.stats()).issued_tokens, [tokens.access_token], "the token is the one IMS issued");

  // The same scope set again (other order) is served from the cache.
  const again = await client.clientCredentialsGrant(cfg, { scope: "AdobeID openid" });
  assert.equal(again.access_token, tokens.access_token);
  assert.equal(await tokenCalls(env.fake), 1);

  // The extra `credential` parameter passes through the library.
  const ana = await client.clientCredentialsGrant(cfg, { scope: "openid", credential: "analytics" });
  assert.notEqual(ana.access_token, tokens.access_token);
  assert.equal(ana.scope, "openid");
  assert.equal(await tokenCalls(env.fake), 2);
});

test("8.2 client_secret_post: clientCredentialsGrant gets the same cached token", async () => {
  const basicCfg = config("svc-basic", client.ClientSecretBasic(env.keys["svc-basic"]));
  const viaBasic = await client.clientCredentialsGrant(basicCfg, { scope: "openid" });
  const before = await tokenCalls(env.fake);
  const cfg = config("svc-post", client.ClientSecretPost(env.keys["svc-post"]));
  const tokens = await client.clientCredentialsGrant(cfg, { scope: "openid" });
  assert.equal(tokens.token_type, "bearer");
  assert.equal(tokens.scope, "openid");
  assert.equal(tokens.access_token, viaBasic.access_token, "both callers share the cache entry");
  assert.equal(await tokenCalls(env.fake), before);

  // Without a scope parameter: the credential's default scopes.
  const def = await client.clientCredentialsGrant(cfg);
  assert.equal(def.scope, "AdobeID openid");
});

/** Runs `fn`, expecting the library to throw; returns {error, status, body}. */
async function libraryError(fn) {
  try {
    await fn();
  } catch (err) {
    // oauth4webapi raises WWWAuthenticateChallengeError when a 401 carries WWW-Authenticate
    // (body unread), else ResponseBodyError with the parsed OAuth error body.
    if (err instanceof client.WWWAuthenticateChallengeError) {
      return { err, status: err.status, body: await err.response.json(), challenges: err.cause };
    }
    if (err instanceof client.ResponseBodyError) {
      return { err, status: err.status, body: err.cause, error: err.error };
    }
    throw err;
  }
  assert.fail("the library did not raise");
}

test("8.3 a wrong key: the library raises its error carrying invalid_client (401, Basic challenge)", async () => {
  await env.fake.reset();
  const wrongKey = callerKey().key;
  for (const [name, auth, id] of [
    ["basic, wrong key", client.ClientSecretBasic(wrongKey), "svc-basic"],
    ["post, wrong key", client.ClientSecretPost(wrongKey), "svc-post"],
    ["basic, key of another caller", client.ClientSecretBasic(env.keys["svc-post"]), "svc-basic"],
    ["post, unknown client id", client.ClientSecretPost(env.keys["svc-post"]), "nobody"],
  ]) {
    const e = await libraryError(() => client.clientCredentialsGrant(config(id, auth), { scope: "openid" }));
    assert.equal(e.status, 401, name);
    assert.equal(e.body.error, "invalid_client", `${name}: ${JSON.stringify(e.body)}`);
    assert.equal(typeof e.body.error_description, "string");
    if (e.challenges) {
      assert.equal(e.challenges[0].scheme, "basic", `${name}: challenge ${JSON.stringify(e.challenges)}`);
      assert.equal(e.challenges[0].parameters.realm, "ims-broker");
    } else {
      assert.equal(e.error, "invalid_client");
    }
  }
  assert.equal(await tokenCalls(env.fake), 0);
});

test("8.4 a scope the caller may not have / a bad scope: ResponseBodyError invalid_scope (400)", async () => {
  await env.fake.reset();
  const cfg = config("svc-post", client.ClientSecretPost(env.keys["svc-post"]));
  const wrong = []; // every deviation, reported together at the end
  for (const scope of ["openid read_organizations", "openid a;b"]) {
    const e = await libraryError(() => client.clientCredentialsGrant(cfg, { scope }));
    assert.ok(e.err instanceof client.ResponseBodyError, `scope ${scope}: ${e.err}`);
    assert.equal(e.status, 400);
    if (e.error !== "invalid_scope") wrong.push(`scope ${JSON.stringify(scope)}: expected invalid_scope, got ${e.error}`);
  }
  // A credential the caller may not use → unauthorized_client.
  const e = await libraryError(() => client.clientCredentialsGrant(cfg, { scope: "openid", credential: "analytics" }));
  assert.equal(e.status, 400);
  assert.equal(e.error, "unauthorized_client");
  assert.equal(await tokenCalls(env.fake), 0);
  assert.deepEqual(wrong, []);
});
