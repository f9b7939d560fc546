#!/usr/bin/env node
// Publish the callers file (callers.json, see scripts/new-caller-key.mjs) as the broker's
// CALLER_KEYS secret:
//
//   node scripts/publish-callers.mjs [--file callers.json] [--env <wrangler environment>]
//   make publish-callers [CALLERS=callers.json] [WRANGLER_ENV=staging]
//
// The file is the whole list of callers: adding one is `make caller-key NAME=…`, revoking one
// is deleting its entry; either way the others are never re-typed. It holds SHA-256 digests of
// keys (and federated callers' bound claims), not keys, so it can be reviewed and committed.
// Before anything is sent, the file must be a JSON object of caller id → entry, each with a
// 64-hex-digit "sha256" or an "issuer", and "credentials" and "scopes"; the broker checks the
// rest when it loads (a bad entry makes it answer 500 misconfigured, naming the caller).
// The value goes to `wrangler secret put CALLER_KEYS` on its standard input (never on a command
// line). IMS_WRANGLER overrides the wrangler command (default: the repository's pinned one).
//
// Exit status: 0 published, 2 usage or a file refused (nothing sent), else wrangler's.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

function fail(msg) {
  process.stderr.write(`error: ${msg}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
let file = path.join(REPO_ROOT, "callers.json");
let environment;
for (let i = 0; i < args.length; i++) {
  const value = () => args[++i] ?? fail(`${args[i - 1]} needs a value`);
  if (args[i] === "--file") file = value();
  else if (args[i] === "--env") environment = value();
  else fail(`unknown argument ${args[i]}`);
}

if (!fs.existsSync(file)) fail(`${file} does not exist: add a caller first with make caller-key NAME=<id>`);
const text = fs.readFileSync(file, "utf8");
let callers;
try {
  callers = JSON.parse(text);
} catch (e) {
  fail(`${file} is not valid JSON (${e.message}); nothing was published`);
}
if (callers === null || typeof callers !== "object" || Array.isArray(callers)) fail(`${file} is not a JSON object of callers`);
const ids = Object.keys(callers);
if (ids.length === 0) fail(`${file} has no caller: publishing it would lock every caller out`);
for (const id of ids) {
  const entry = callers[id];
  const why =
    !ID_RE.test(id) ? "ids use letters, digits and _ . - (at most 64)"
    : entry === null || typeof entry !== "object" || Array.isArray(entry) ? "not an object"
    : !(typeof entry.sha256 === "string" && /^[0-9a-fA-F]{64}$/.test(entry.sha256)) && typeof entry.issuer !== "string" ? "needs a sha256 of 64 hex digits or an issuer"
    : entry.credentials === undefined || entry.scopes === undefined ? "needs credentials and scopes"
    : null;
  if (why) fail(`${file}: caller ${ID_RE.test(id) ? id : "(an id)"}: ${why}; nothing was published`);
}

const wrangler = process.env.IMS_WRANGLER ?? path.join(REPO_ROOT, "node_modules", ".bin", "wrangler");
const wranglerArgs = ["secret", "put", "CALLER_KEYS", ...(environment ? ["--env", environment] : [])];
process.stderr.write(`publishing ${ids.length} caller(s) from ${file}: ${ids.join(", ")}\n`);
const r = spawnSync(wrangler, wranglerArgs, { input: JSON.stringify(callers), stdio: ["pipe", "inherit", "inherit"] });
if (r.error) fail(`could not run ${wrangler}: ${r.error.message}`);
process.exit(r.status ?? 1);
