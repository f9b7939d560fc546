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
  const r = spawnSync("make", ["--no-print-directory", "caller-key", "NAME=make-viewer", "ROLE=viewer"], { cwd: ROOT, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /"role":"viewer"/);
  assert.match(r.stdout, /ibk_/);
});
