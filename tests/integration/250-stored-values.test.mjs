// Values an earlier version stored in KV are still read. For every fixture
// tests/fixtures/kv-*.json (KV as a released version left it, with the settings it ran with, what
// Adobe held and what the broker answered then; see tests/fixtures/README.md), a broker started
// with the fixture's settings on a KV holding exactly the fixture's keys:
//   - answers the captured token requests (/v1/token and /oauth/token) with the captured tokens,
//     from KV, without a call to IMS;
//   - lists every stored token entry, callers' and its own management tokens, on the operators'
//     token listing, as it did then;
//   - opens every secrets record: each credential's object imports its KV record (`state:<name>`)
//     on first access and then deletes it and the rotation lease (`lease:<name>`) from KV; each
//     rotation reads as it did then, and the secrets listing names the same active secret and
//     where it comes from;
//   - mints a new token of each credential with the secret it used then (for a rotated credential
//     the secret stored sealed in its record: the fake Adobe no longer accepts the bootstrap one);
//   - lists every stored event on GET /v1/metrics;
//   - resumes a rotation left half-done (a lease still held in KV then, which no longer means
//     anything: the object runs one rotation at a time): a rotate call finishes the imported
//     rotation without repeating its add, with the pending secret it had stored.
// Adobe holds the fixture's secrets under the fixture's uuids, so that records and Adobe agree.
// Expected values come from the fixture file, never from copies here.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";

import { REPO_ROOT, startWorker } from "./harness.mjs";
import {
  CALLER_KEYS_FILE,
  FAKE_SECRETS_FILE,
  adminCall,
  fakeAddSecret,
  fakeClientSecrets,
  fakeDeleteSecret,
  jsonLogs,
  listSecrets,
  readRecord,
  oauthToken,
  requestLogs,
  rotate,
  rotationStatus,
  startFake,
  tokenCalls,
  v1Token,
  waitFor,
} from "./support.mjs";

const FIXTURES_DIR = path.join(REPO_ROOT, "tests", "fixtures");
const FIXTURES = fs.readdirSync(FIXTURES_DIR).filter((f) => /^kv-.*\.json$/.test(f)).sort();

test("there is at least one stored-values fixture", () => {
  assert.ok(FIXTURES.length > 0, `no tests/fixtures/kv-*.json in ${FIXTURES_DIR}`);
});

/** What kind of value a KV key holds. */
function kindOf(key) {
  if (key.startsWith("token:")) return key.split(":").at(-2) === "broker" ? "token (broker)" : "token";
  return key.split(":")[0];
}

/** JSON with object keys sorted, for comparing parsed values regardless of key order. */
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(",")}}`;
  return JSON.stringify(v);
}

for (const file of FIXTURES) {
  describe(`stored values of ${file}`, () => {
    const fixture = JSON.parse(fs.readFileSync(path.join(FIXTURES_DIR, file), "utf8"));
    const { settings, observed, adobe } = fixture;
    const credentials = JSON.parse(settings.vars.CREDENTIALS ?? "{}");
    /** credential name → {client_id, scopes} as configured. */
    const configured = {
      default: { client_id: settings.vars.CLIENT_ID, scopes: settings.vars.SCOPES },
      ...credentials,
    };
    const stored = new Map(fixture.kv.map((e) => [e.key, e]));
    const keysOf = (kind) => fixture.kv.map((e) => e.key).filter((k) => kindOf(k) === kind);
    const auth = (id) => settings.caller_keys[id];
    const adminKey = auth("admin");
    let fake;
    let w;

    before(async () => {
      // The fixture's caller keys, secrets and tokens are test values, but the final log scan
      // still checks that none of them shows up in a log line.
      fs.appendFileSync(CALLER_KEYS_FILE, Object.values(settings.caller_keys).map((k) => `${Date.now()} ${k}\n`).join(""));
      fs.appendFileSync(FAKE_SECRETS_FILE, JSON.stringify({
        at: Date.now(),
        secrets: Object.values(adobe).flatMap((list) => list.map((s) => s.client_secret)),
        all_issued_tokens: observed.requests.map((r) => r.answer.access_token),
      }) + "\n");

      // Adobe holds what it held at the capture, under the same uuids: each client starts with a
      // placeholder secret, which goes once the first captured one is there.
      const clients = Object.fromEntries(Object.keys(adobe).map((id) => [id, `placeholder-${id}`]));
      const args = settings.credentials.flatMap((c) => ["--credential", `${c.org_id}:${c.credential_id}:${c.client_id}`]);
      fake = await startFake({ clients, args });
      for (const [id, list] of Object.entries(adobe)) {
        const [placeholder] = (await fakeClientSecrets(fake, id)).secrets;
        await fakeAddSecret(fake, id, list[0].client_secret, list[0].uuid);
        await fakeDeleteSecret(fake, id, placeholder.uuid);
        for (const s of list.slice(1)) await fakeAddSecret(fake, id, s.client_secret, s.uuid);
        const held = (await fakeClientSecrets(fake, id)).secrets.map((s) => [s.uuid, s.client_secret]);
        assert.deepEqual(held, list.map((s) => [s.uuid, s.client_secret]), `${id}: Adobe holds what it held at the capture`);
      }

      w = await startWorker({ fake, label: `stored-${file}`, vars: settings.vars, secrets: settings.secrets });
      // Before the first request: exactly the fixture's keys. An expiration still ahead is kept;
      // one already past (event batches live an hour) only said when KV would drop the value, so
      // such a value is stored for another hour: what is tested is that it can be read.
      const nowS = Math.floor(Date.now() / 1000);
      for (const e of fixture.kv) {
        const opts = e.expiration && e.expiration > nowS + 120 ? { expiration: e.expiration } : e.expiration ? { expirationTtl: 3600 } : {};
        if (e.metadata !== null && e.metadata !== undefined) opts.metadata = e.metadata;
        await w.kv.put(e.key, e.value, opts);
      }
      const listed = (await w.kv.list()).keys.map((k) => k.name).sort();
      assert.deepEqual(listed, [...stored.keys()].sort(), "KV holds exactly the fixture's keys");
    });
    after(async () => {
      await w?.stop();
      await fake?.stop();
    });

    test("the fixture holds every kind of stored value", () => {
      const kinds = new Set(fixture.kv.map((e) => kindOf(e.key)));
      for (const k of ["token", "token (broker)", "state", "lease", "events"]) assert.ok(kinds.has(k), `no ${k} key in ${file}`);
      assert.ok(observed.requests.some((r) => r.endpoint === "/v1/token") && observed.requests.some((r) => r.endpoint === "/oauth/token"));
    });

    test("token requests are answered with the stored tokens, from KV, without a call to IMS", async () => {
      for (const r of observed.requests) {
        const got = r.endpoint === "/v1/token"
          ? await v1Token(w, auth(r.caller), r.body)
          : await oauthToken(w, r.form, { basic: [r.caller, auth(r.caller)] });
        const what = `${r.endpoint} ${JSON.stringify(r.body ?? r.form)}`;
        assert.equal(got.status, 200, `${what}: ${got.text}`);
        for (const field of ["access_token", "token_type", "scope", "credential"]) {
          assert.equal(got.json[field], r.answer[field], `${what}: ${field}`);
        }
        assert.ok(got.json.expires_in > 0, `${what}: expires_in ${got.json.expires_in}`);
      }
      assert.equal(await tokenCalls(fake), 0, "no call to IMS");
      const n = observed.requests.length;
      await waitFor(() => requestLogs(w).filter((l) => /token$/.test(l.route ?? "")).length >= n, { what: `${n} token request log lines` });
      const outcomes = requestLogs(w).filter((l) => /token$/.test(l.route ?? "")).map((l) => l.cache);
      assert.deepEqual(outcomes, observed.requests.map(() => "kv"), "every one served from KV");
    });

    test("the operators' token listing opens every stored token entry, as at the capture", async () => {
      const same = ["key", "scope", "use", "refreshed_at_ms", "usable_until_ms", "lifetime_s", "expires_at", "refresh_at"];
      const pick = (e) => Object.fromEntries(same.map((f) => [f, e[f]]));
      for (const [name, view] of Object.entries(observed.tokens)) {
        const r = await adminCall(w, adminKey, "GET", `/v1/credentials/${name}/tokens`);
        assert.equal(r.status, 200, r.text);
        const byKey = (list) => [...list].sort((a, b) => a.key.localeCompare(b.key)).map(pick);
        assert.deepEqual(byKey(r.json.entries), byKey(view.entries), `${name}'s token entries`);
        const prefix = `token:v1:${name}:${configured[name].client_id}:`;
        assert.deepEqual(r.json.entries.map((e) => e.key).sort(), [...stored.keys()].filter((k) => k.startsWith(prefix)).sort(), `${name}: every stored entry listed`);
      }
    });

    test("the secrets records open: each object imports its KV record, then KV holds no record or lease; every rotation reads as at the capture", async () => {
      assert.ok(keysOf("state").length > 0);
      for (const key of keysOf("state")) {
        const name = key.slice("state:".length);
        const r = await rotationStatus(w, adminKey, name);
        assert.equal(r.status, 200, `${name}: ${r.text}`);
        assert.deepEqual(r.json, observed.rotation[name], `${name}'s rotation`);
        // Imported: the object holds it, KV no longer does (nor the lease of the previous version).
        assert.equal(await w.kv.get(key), null, `${key} deleted from KV after the import`);
        assert.equal(await w.kv.get(`lease:${name}`), null, `lease:${name} deleted from KV after the import`);
        const record = await readRecord(w, name);
        assert.equal(record.rotation?.id, observed.rotation[name].id, `${name}: the object holds the imported rotation`);
        await waitFor(() => jsonLogs(w).some((l) => l.msg === "secrets_record_imported" && l.credential === name), { what: `secrets_record_imported for ${name}` });
      }
      for (const key of keysOf("lease")) assert.equal(await w.kv.get(key), null, `${key} deleted from KV`);
      // Imported once each, though the record was read several times.
      for (const key of keysOf("state")) {
        const name = key.slice("state:".length);
        assert.equal(jsonLogs(w).filter((l) => l.msg === "secrets_record_imported" && l.credential === name).length, 1, `${name} imported once`);
      }
    });

    test("the stored events are listed by GET /v1/metrics", async () => {
      const r = await adminCall(w, adminKey, "GET", "/v1/metrics");
      assert.equal(r.status, 200, r.text);
      const listed = new Set(r.json.events.map(canonical));
      let n = 0;
      for (const key of keysOf("events")) {
        const batch = JSON.parse(stored.get(key).value);
        assert.ok(Array.isArray(batch) && batch.length > 0, `${key} holds events`);
        for (const e of batch) {
          n += 1;
          assert.ok(listed.has(canonical(e)), `${key}: event ${JSON.stringify(e)} listed`);
        }
      }
      assert.ok(n > 0);
    });

    test("a new token of each credential is minted with the secret it was minted with at the capture", async () => {
      for (const [name, secret] of Object.entries(observed.minted_with)) {
        // A scope set of the credential's configured ones that has no stored entry.
        const names = configured[name].scopes.split(",");
        const sets = [...names.map((s) => [s]), ...names.flatMap((a, i) => names.slice(i + 1).map((b) => [a, b]))];
        const storedScopes = new Set(observed.tokens[name].entries.map((e) => e.scope.split(",").sort().join(",")));
        const scopes = sets.find((s) => !storedScopes.has([...s].sort().join(",")));
        assert.ok(scopes, `${name}: a scope set without a stored entry`);
        const from = (await fake.stats()).calls.length;
        const got = await v1Token(w, auth("svc"), { credential: name, scopes });
        assert.equal(got.status, 200, `${name} ${scopes}: ${got.text}`);
        const calls = (await fake.stats()).calls.slice(from).filter((c) => c.client_id === configured[name].client_id);
        assert.deepEqual(calls.map((c) => c.outcome), ["ok"], `${name}: one IMS call, accepted at once`);
        const used = (await fakeClientSecrets(fake, configured[name].client_id)).secrets.find((s) => s.uuid === calls[0].secret_uuid);
        assert.equal(used?.client_secret, secret, `${name}: minted with the secret used at the capture`);
      }
    });

    test("the secrets listing names the stored active secret", async () => {
      // The stored management tokens were issued by the fake of the capture; this run's fake
      // refuses bearer tokens it did not issue, so they are dropped (the listing above showed they
      // open) and the broker mints a new one, with the stored active secret.
      for (const key of keysOf("token (broker)")) await w.kv.delete(key);
      for (const [name, view] of Object.entries(observed.secrets)) {
        const r = await listSecrets(w, adminKey, name);
        assert.equal(r.status, 200, `${name}: ${r.text}`);
        assert.equal(r.json.active_uuid, view.active_uuid, `${name}: active secret`);
        assert.equal(r.json.active_source, view.active_source, `${name}: where the active secret comes from`);
        assert.equal(r.json.secrets.length, view.secrets.length, `${name}: the secrets Adobe holds`);
      }
      const calls = (await fake.stats()).calls;
      assert.deepEqual(calls.filter((c) => c.outcome !== "ok"), [], "no IMS call refused (no secret tried that Adobe does not hold)");
    });

    // Last: it changes the credential's secrets (the tests above check them as captured).
    test("a rotation left half-done (its lease still held then) is resumed by a rotate call and completes without a second add", async () => {
      assert.ok(keysOf("lease").length > 0);
      for (const key of keysOf("lease")) {
        const name = key.slice("lease:".length);
        const captured = observed.rotation[name];
        assert.equal(captured.in_progress, true, `${name}: the fixture's rotation is half-done`);
        const clientId = configured[name].client_id;
        const identified = captured.events.find((e) => e.what === "identified")?.uuid;
        const added = captured.events.find((e) => e.what === "added")?.uuid;
        assert.ok(identified && added, JSON.stringify(captured.events));
        const before = (await fake.stats()).api_calls;
        const imsFrom = (await fake.stats()).calls.length;

        const r = await rotate(w, adminKey, name);
        assert.ok([200, 202].includes(r.status), `${name}: ${r.status} ${r.text}`);
        assert.equal(r.json.busy, false, `${name}: the lease of the previous version does not hold any more: ${r.text}`);
        assert.equal(r.json.id, captured.id, `${name}: the captured rotation is resumed, not a new one started`);
        const st = await waitFor(async () => {
          const s = await rotationStatus(w, adminKey, name);
          return s.status === 200 && s.json.step === "done" ? s : null;
        }, { timeoutMs: 15_000, intervalMs: 200, what: `${name}'s rotation to finish` });
        assert.equal(st.json.id, captured.id);
        assert.equal(st.json.last_error, null, st.text);
        // The captured events, then the rest of the rotation, each once.
        assert.deepEqual(st.json.events.slice(0, captured.events.length), captured.events, `${name}: the captured events kept`);
        assert.deepEqual(
          st.json.events.slice(captured.events.length).map((e) => [e.what, e.uuid]),
          [["tested", added], ["promoted", added], ["retired", identified]],
          `${name}: test, promote and retire, once each: ${JSON.stringify(st.json.events)}`,
        );
        const after = (await fake.stats()).api_calls;
        assert.equal(after.add - before.add, 0, `${name}: no second add (the pending secret stored then is used)`);
        assert.equal(after.delete - before.delete, 1, `${name}: one delete, the retired bootstrap secret`);
        const held = await fakeClientSecrets(fake, clientId);
        assert.deepEqual(held.secrets.map((s) => s.uuid), [added], `${name}: Adobe holds the new secret only`);
        assert.ok(held.max_secrets_seen <= 2, `max_secrets_seen ${held.max_secrets_seen}`);
        assert.equal(await w.kv.get(key), null, `${key} stays deleted`);
        assert.equal(await w.kv.get(`state:${name}`), null, `state:${name} stays deleted`);

        // The test step minted with the secret the captured rotation had stored sealed as pending,
        // which is the value Adobe created then.
        const resumeCalls = (await fake.stats()).calls.slice(imsFrom).filter((c) => c.client_id === clientId);
        assert.ok(resumeCalls.some((c) => c.outcome === "ok" && c.secret_uuid === added), `${name}: the test step minted with the stored pending secret: ${JSON.stringify(resumeCalls)}`);
        assert.deepEqual(resumeCalls.filter((c) => c.outcome !== "ok"), [], `${name}: no IMS call refused`);
        const pendingValue = adobe[clientId].find((s) => s.uuid === added).client_secret;
        assert.equal(held.secrets[0].client_secret, pendingValue, `${name}: the promoted secret is the one stored then`);
        // Tokens still: the default scopes (cached or minted), and a scope set never asked for yet,
        // which needs IMS and the promoted secret.
        assert.equal((await v1Token(w, auth("svc"), { credential: name })).status, 200);
        const names = configured[name].scopes.split(",");
        const asked = new Set((await fake.stats()).calls.filter((c) => c.client_id === clientId).map((c) => c.scope.split(",").sort().join(",")));
        for (const e of observed.tokens[name]?.entries ?? []) asked.add(e.scope.split(",").sort().join(","));
        const sets = [...names.map((x) => [x]), ...names.flatMap((a, i) => names.slice(i + 1).map((b) => [a, b]))];
        const unasked = sets.find((set) => !asked.has([...set].sort().join(",")));
        if (unasked) {
          const from = (await fake.stats()).calls.length;
          const got = await v1Token(w, auth("svc"), { credential: name, scopes: unasked });
          assert.equal(got.status, 200, got.text);
          const calls = (await fake.stats()).calls.slice(from).filter((c) => c.client_id === clientId);
          assert.deepEqual(calls.map((c) => [c.outcome, c.secret_uuid]), [["ok", added]], `${name}: minted with the promoted secret`);
        }
      }
    });
  });
}
