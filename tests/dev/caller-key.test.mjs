// `make caller-key` (scripts/new-caller-key.mjs): without SCOPES= a new caller gets the configured
// scopes of the credentials it names (never the two the broker reserves for itself), read from
// wrangler.toml and .dev.vars; ROLE=viewer makes a read-only key; the printed key is the one
// whose SHA-256 the entry holds.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const SCRIPT = path.join(ROOT, "scripts", "new-caller-key.mjs");

const dirs = [];
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** A folder holding a wrangler.toml (and a .dev.vars when given), removed after the tests. */
function config({ toml, devVars }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ims-caller-key-"));
  dirs.push(dir);
  fs.writeFileSync(path.join(dir, "wrangler.toml"), toml);
  if (devVars !== undefined) fs.writeFileSync(path.join(dir, ".dev.vars"), devVars);
  return dir;
}

/** Runs the script with `args` against `dir`: {status, json, stderr}. */
function run(dir, ...args) {
  const r = spawnSync(process.execPath, [SCRIPT, ...args, "--json"], { env: { ...process.env, IMS_CONFIG_DIR: dir }, encoding: "utf8" });
  return { status: r.status, json: r.status === 0 ? JSON.parse(r.stdout) : undefined, stderr: r.stderr };
}

const TOML = `
name = "ims-broker"
[vars]
SCOPES = "openid,AdobeID,read_organizations,read_client_secret,manage_client_secrets"
CREDENTIALS = '{"analytics": {"client_id": "c2", "scopes": "openid,analytics_read"}, "ops": {"client_id": "c3", "scopes": "AdobeID, adobeio_api"}}'
[env.staging.vars]
SCOPES = "staging_only"
`;

test("without SCOPES: the configured scopes of the named credentials, without the broker's own", () => {
  const dir = config({ toml: TOML });
  const def = run(dir, "svc");
  assert.equal(def.status, 0, def.stderr);
  assert.deepEqual(def.json.entry.scopes, ["AdobeID", "openid", "read_organizations"]);
  assert.deepEqual(def.json.entry.credentials, ["default"]);
  assert.equal(def.json.entry.admin, false);
  assert.equal(createHash("sha256").update(def.json.key).digest("hex"), def.json.entry.sha256);

  const two = run(dir, "svc", "--credentials", "analytics,ops");
  assert.deepEqual(two.json.entry.scopes, ["AdobeID", "adobeio_api", "analytics_read", "openid"]);
  const all = run(dir, "svc", "--credentials", "*");
  assert.deepEqual(all.json.entry.scopes, ["AdobeID", "adobeio_api", "analytics_read", "openid", "read_organizations"]);
  assert.equal(all.json.entry.credentials, "*");
});

test(".dev.vars wins over wrangler.toml, as under wrangler dev", () => {
  const dir = config({ toml: TOML, devVars: 'SCOPES="openid,local_scope"\nCLIENT_SECRET=x\n' });
  assert.deepEqual(run(dir, "svc").json.entry.scopes, ["local_scope", "openid"]);
});

test("CREDENTIALS from .dev.vars (quoted JSON); only reserved scopes or unreadable JSON stop the script", () => {
  const creds = JSON.stringify({
    analytics: { client_id: "c2", scopes: "openid,local_read,read_client_secret" },
    secrets: { client_id: "c4", scopes: "read_client_secret,manage_client_secrets" },
  });
  const dir = config({ toml: TOML, devVars: `CLIENT_SECRET='x'\nCREDENTIALS='${creds}'\n` });
  assert.deepEqual(run(dir, "svc", "--credentials", "analytics").json.entry.scopes, ["local_read", "openid"]);
  // "*": every credential a caller can get scopes from ("secrets" has none), "ops" gone with the override
  assert.deepEqual(run(dir, "svc", "--credentials", "*").json.entry.scopes, ["AdobeID", "local_read", "openid", "read_organizations"]);
  const reservedOnly = run(dir, "svc", "--credentials", "secrets");
  assert.equal(reservedOnly.status, 2);
  assert.match(reservedOnly.stderr, /credential "secrets".*reserved.*SCOPES=/);
  const gone = run(dir, "svc", "--credentials", "ops");
  assert.equal(gone.status, 2);
  assert.match(gone.stderr, /credential "ops".*no entry.*SCOPES=/);

  const bad = config({ toml: TOML, devVars: "CREDENTIALS='{not json'\n" });
  const unreadable = run(bad, "svc", "--credentials", "analytics");
  assert.equal(unreadable.status, 2);
  assert.match(unreadable.stderr, /CREDENTIALS is not valid JSON.*SCOPES=/);
  assert.equal(run(bad, "svc").status, 0, "the default credential needs only SCOPES");
});

test("explicit SCOPES are honoured; a reserved one is refused; an unknown credential stops the script", () => {
  const dir = config({ toml: TOML });
  assert.deepEqual(run(dir, "svc", "--scopes", "openid,AdobeID").json.entry.scopes, ["openid", "AdobeID"]);
  assert.equal(run(dir, "svc", "--scopes", "*").json.entry.scopes, "*");
  const reserved = run(dir, "svc", "--scopes", "openid,manage_client_secrets");
  assert.equal(reserved.status, 2);
  assert.match(reserved.stderr, /reserved/);
  const unknown = run(dir, "svc", "--credentials", "nope");
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /credential "nope".*SCOPES=/);
});

test("ROLE=viewer: a read-only key; ADMIN=1 with ROLE=viewer is refused", () => {
  const dir = config({ toml: TOML });
  const v = run(dir, "scraper", "--role", "viewer", "--credentials", "*");
  assert.equal(v.status, 0, v.stderr);
  assert.equal(v.json.entry.role, "viewer");
  assert.deepEqual(v.json.entry.scopes, []);
  assert.equal(v.json.entry.admin, undefined);
  const both = run(dir, "x", "--admin", "--role", "viewer");
  assert.equal(both.status, 2);
  assert.match(both.stderr, /exclude each other/);
  assert.equal(run(dir, "ops", "--admin").json.entry.admin, true);
});

test("make caller-key passes ROLE and SCOPES through", () => {
  const file = path.join(config({ toml: TOML }), "callers.json");
  const r = spawnSync("make", ["--no-print-directory", "caller-key", "NAME=make-viewer", "ROLE=viewer", "SCOPES=openid", `CALLERS=${file}`], { cwd: ROOT, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /ibk_/);
  const entry = JSON.parse(fs.readFileSync(file, "utf8"))["make-viewer"];
  assert.equal(entry.role, "viewer");
  assert.deepEqual(entry.scopes, ["openid"]);
});

const PUBLISH = path.join(ROOT, "scripts", "publish-callers.mjs");

test("make caller-key adds one entry to the callers file, keeps the others, and refuses an id twice", () => {
  const dir = config({ toml: TOML });
  const file = path.join(dir, "callers.json");
  const first = spawnSync("make", ["--no-print-directory", "-C", ROOT, "caller-key", "NAME=reporting", `CALLERS=${file}`], {
    env: { ...process.env, IMS_CONFIG_DIR: dir },
    encoding: "utf8",
  });
  assert.equal(first.status, 0, first.stderr);
  const key = first.stdout.match(/ibk_[A-Za-z0-9_-]{43}/)?.[0];
  assert.ok(key, `the key is printed: ${first.stdout}`);
  const afterFirst = JSON.parse(fs.readFileSync(file, "utf8"));
  assert.equal(afterFirst.reporting.sha256, createHash("sha256").update(key).digest("hex"));
  assert.ok(!fs.readFileSync(file, "utf8").includes(key), "the file holds the digest, never the key");

  // A hand-edited entry (a federated caller) stays exactly as it was.
  const federated = { issuer: "github", bound_claims: { repository: "acme/site" }, credentials: ["default"], scopes: ["openid"] };
  fs.writeFileSync(file, JSON.stringify({ ...afterFirst, "site-deploy": federated }, null, 2));
  const second = run(dir, "ops", "--admin", "--credentials", "*", "--scopes", "*", "--file", file);
  assert.equal(second.status, 0, second.stderr);
  const afterSecond = JSON.parse(fs.readFileSync(file, "utf8"));
  assert.deepEqual(Object.keys(afterSecond).sort(), ["ops", "reporting", "site-deploy"]);
  assert.deepEqual(afterSecond.reporting, afterFirst.reporting);
  assert.deepEqual(afterSecond["site-deploy"], federated);
  assert.equal(afterSecond.ops.sha256, second.json.sha256);

  const before = fs.readFileSync(file, "utf8");
  const again = run(dir, "ops", "--file", file);
  assert.equal(again.status, 2);
  assert.match(again.stderr, /already has a caller "ops"/);
  assert.equal(fs.readFileSync(file, "utf8"), before, "a refused add changes nothing");
});

test("make publish-callers sends the callers file to wrangler secret put CALLER_KEYS on stdin, and refuses a bad file", () => {
  const dir = config({ toml: TOML });
  // A stand-in for the wrangler CLI that records its arguments and standard input.
  const recorder = path.join(dir, "wrangler");
  fs.writeFileSync(recorder, `#!/bin/sh\necho "$@" > "${dir}/args"\ncat > "${dir}/stdin"\n`, { mode: 0o755 });
  const file = path.join(dir, "callers.json");
  const publish = (...args) =>
    spawnSync(process.execPath, [PUBLISH, "--file", file, ...args], { env: { ...process.env, IMS_WRANGLER: recorder }, encoding: "utf8" });

  assert.equal(publish().status, 2, "no file: nothing to publish");
  assert.equal(run(dir, "reporting", "--file", file).status, 0);
  assert.equal(run(dir, "ops", "--admin", "--file", file).status, 0);
  const ok = publish("--env", "staging");
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(fs.readFileSync(path.join(dir, "args"), "utf8").trim(), "secret put CALLER_KEYS --env staging");
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, "stdin"), "utf8")), JSON.parse(fs.readFileSync(file, "utf8")));

  fs.rmSync(path.join(dir, "stdin"));
  for (const [bad, why] of [
    ["{}", /no caller/],
    ["[1]", /not a JSON object/],
    ['{"x": {"sha256": "abc", "credentials": "*", "scopes": "*"}}', /caller x: needs a sha256 of 64 hex digits or an issuer/],
    ['{"x": {"sha256": "' + "a".repeat(64) + '"}}', /caller x: needs credentials and scopes/],
    ["{not json", /not valid JSON/],
  ]) {
    fs.writeFileSync(file, bad);
    const r = publish();
    assert.equal(r.status, 2, bad);
    assert.match(r.stderr, why, bad);
    assert.ok(!fs.existsSync(path.join(dir, "stdin")), `${bad}: nothing was sent`);
  }
});
