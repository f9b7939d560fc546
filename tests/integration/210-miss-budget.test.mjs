// The per-caller budget of new scope sets (MAX_NEW_SCOPE_SETS_PER_MIN, default 10, per isolate):
// Adobe throttles a client id that mints too often, and one caller must not exhaust it for all.
//   - 11 new scope sets in a minute from one caller: the 11th is 429 too_many_new_scope_sets with
//     Retry-After, before any KV or IMS call;
//   - another caller is unaffected;
//   - cache hits are never limited, and a scope set already counted (asked again) is not new;
//   - a scope set cached in KV by another isolate costs the budget nothing.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { startWorker } from "./harness.mjs";
import { expectError, expectToken, oauthToken, setup, tokenCalls, uniqueScopes, v1Token } from "./support.mjs";

let env;
before(async () => {
  env = await setup(null, {
    label: "budget",
    scopePool: true,
    kvWrapper: true,
    // The default budget (10): the harness's generous value is removed.
    vars: { MAX_NEW_SCOPE_SETS_PER_MIN: null },
    callers: { greedy: { credentials: "*", scopes: "*" }, other: { credentials: "*", scopes: "*" } },
  });
});
after(() => env?.stop());

test("the 11th new scope set in a minute is 429 with Retry-After; others and hits are unaffected", async () => {
  const { fake, w, keys } = env;
  const sets = Array.from({ length: 12 }, () => uniqueScopes("budget"));
  const tokens = [];
  for (const scopes of sets.slice(0, 10)) {
    tokens.push(expectToken(await v1Token(w, keys.greedy, { scopes }), `new set ${scopes}`).access_token);
  }
  assert.equal(await tokenCalls(fake), 10);

  const calls0 = await tokenCalls(fake);
  const kv0 = await w.kvFaults.counts();
  const refused = await v1Token(w, keys.greedy, { scopes: sets[10] });
  expectError(refused, 429, "too_many_new_scope_sets", "the 11th new set");
  const retryAfter = Number(refused.headers.get("retry-after"));
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After ${refused.headers.get("retry-after")}`);
  // The same through /oauth/token.
  const oauth = await oauthToken(w, { grant_type: "client_credentials", scope: sets[11].join(" ") }, { basic: ["greedy", keys.greedy] });
  assert.equal(oauth.status, 429, oauth.text);
  assert.ok(oauth.headers.get("retry-after"));
  assert.equal(await tokenCalls(fake), calls0, "no IMS call");
  const kv1 = await w.kvFaults.counts();
  assert.deepEqual([kv1.reads, kv1.writes], [kv0.reads, kv0.writes], "refused before any KV call");

  // Hits are never limited: every set minted above, many times.
  for (let round = 0; round < 5; round++) {
    for (const [i, scopes] of sets.slice(0, 10).entries()) {
      assert.equal(expectToken(await v1Token(w, keys.greedy, { scopes })).access_token, tokens[i]);
    }
  }
  // Another caller: its own budget, and the greedy caller's cached sets are hits for it too.
  expectToken(await v1Token(w, keys.other, { scopes: sets[10] }), "another caller, a new set");
  expectToken(await v1Token(w, keys.other, { scopes: sets[0] }), "another caller, a cached set");
  // Now cached in this isolate: a hit for the greedy caller as well.
  expectToken(await v1Token(w, keys.greedy, { scopes: sets[10] }), "the set another caller cached");
  assert.equal(await tokenCalls(fake), calls0 + 1);
});

test("a scope set cached in KV by another isolate costs no budget", async (t) => {
  const { fake, keys, vars, secrets } = env;
  const w2 = await startWorker({ fake, vars: { ...vars, MAX_NEW_SCOPE_SETS_PER_MIN: "2" }, secrets, kvPersistDir: env.w.kvPersistDir, label: "budget-2" });
  t.after(() => w2.stop());
  // Sets the first isolate minted are in KV: the second isolate serves them, however many.
  const calls0 = await tokenCalls(fake);
  const sets = Array.from({ length: 5 }, () => uniqueScopes("budget-kv"));
  for (const scopes of sets) expectToken(await v1Token(env.w, keys.other, { scopes }));
  const afterFirst = await tokenCalls(fake);
  assert.equal(afterFirst, calls0 + 5);
  for (const scopes of sets) expectToken(await v1Token(w2, keys.greedy, { scopes }), "served from KV");
  assert.equal(await tokenCalls(fake), afterFirst, "no mint");
  // Two new ones, then refused.
  expectToken(await v1Token(w2, keys.greedy, { scopes: uniqueScopes("budget-kv") }));
  expectToken(await v1Token(w2, keys.greedy, { scopes: uniqueScopes("budget-kv") }));
  expectError(await v1Token(w2, keys.greedy, { scopes: uniqueScopes("budget-kv") }), 429, "too_many_new_scope_sets");
});
