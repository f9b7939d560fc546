#!/usr/bin/env node
// Generate a new caller key for ims-broker and the CALLER_KEYS entry that admits it.
//
//   node scripts/new-caller-key.mjs <caller id> [--admin] [--credentials a,b|*] [--scopes x,y|*] [--json]
//   make caller-key NAME=<caller id> [ADMIN=1] [CREDENTIALS=a,b] [SCOPES=x,y]
//
// The key is "ibk_" + base64url(32 random bytes). The broker stores only the lowercase
// hex SHA-256 of the full key string (including the "ibk_" prefix) in the CALLER_KEYS
// secret; the key itself is printed once and never stored anywhere by this script.
//
// Defaults: credentials ["default"], scopes "*" (whatever the credential allows),
// admin false.
//
// --json prints one machine-readable line {"id","key","sha256","entry"} on stdout and
// nothing else (used by scripts/dev.sh).

import { createHash, randomBytes } from "node:crypto";
import process from "node:process";

const ID_RE = /^[A-Za-z0-9._-]{1,64}$/;
const NAME_RE = /^[a-z0-9_-]{1,32}$/; // credential names, as in CREDENTIALS

function usage(msg) {
  if (msg) process.stderr.write(`error: ${msg}\n`);
  process.stderr.write(
    "usage: node scripts/new-caller-key.mjs <caller id> [--admin] [--credentials a,b|*] [--scopes x,y|*] [--json]\n",
  );
  process.exit(2);
}

/** "a,b" -> ["a","b"]; "*" -> "*"; "" / undefined -> fallback */
function listOrStar(value, fallback) {
  if (value === undefined || value.trim() === "") return fallback;
  if (value.trim() === "*") return "*";
  const items = value.split(",").map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) return fallback;
  return [...new Set(items)];
}

const args = process.argv.slice(2);
let id;
let admin = false;
let credentialsArg;
let scopesArg;
let jsonOut = false;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const value = () => {
    const v = args[++i];
    if (v === undefined) usage(`${a} needs a value`);
    return v;
  };
  if (a === "--admin") admin = true;
  else if (a === "--credentials") credentialsArg = value();
  else if (a === "--scopes") scopesArg = value();
  else if (a === "--json") jsonOut = true;
  else if (a === "-h" || a === "--help") usage();
  else if (a.startsWith("-")) usage(`unknown option ${a}`);
  else if (id === undefined) id = a;
  else usage(`unexpected argument ${a}`);
}
if (!id) usage("missing caller id (e.g. make caller-key NAME=reporting-svc)");
if (!ID_RE.test(id)) usage(`caller id must match ${ID_RE} (got ${JSON.stringify(id)})`);

const credentials = listOrStar(credentialsArg, ["default"]);
if (Array.isArray(credentials)) {
  for (const c of credentials) {
    if (!NAME_RE.test(c)) usage(`credential name ${JSON.stringify(c)} must match ${NAME_RE}`);
  }
}
const scopes = listOrStar(scopesArg, "*");
if (Array.isArray(scopes)) {
  for (const s of scopes) {
    if (/[\s,]/.test(s)) usage(`scope ${JSON.stringify(s)} must not contain spaces or commas`);
  }
}

const key = "ibk_" + randomBytes(32).toString("base64url");
const sha256 = createHash("sha256").update(key, "utf8").digest("hex");
const entry = { sha256, credentials, scopes, admin };

if (jsonOut) {
  process.stdout.write(JSON.stringify({ id, key, sha256, entry }) + "\n");
  process.exit(0);
}

const fragment = `${JSON.stringify(id)}: ${JSON.stringify(entry)}`;
process.stdout.write(
  [
    `Caller "${id}"${admin ? " (admin)" : ""}`,
    "",
    "1. Add this entry to the broker's CALLER_KEYS secret (a JSON object keyed by caller id):",
    "",
    `   ${fragment}`,
    "",
    "   e.g. a CALLER_KEYS holding only this caller:",
    `   ${JSON.stringify({ [id]: entry })}`,
    "   then: npx wrangler secret put CALLER_KEYS   (or .dev.vars locally)",
    "",
    "2. Give the caller this key (it sends `Authorization: Bearer <key>`):",
    "",
    `   ${key}`,
    "",
    "   WARNING: the key is shown ONLY ONCE and is not stored anywhere. Copy it into the",
    "   caller's secret store now (e.g. `npx wrangler secret put BROKER_KEY` for a Worker).",
    "   If it is lost, generate a new one and replace the entry.",
    "",
  ].join("\n"),
);
