#!/usr/bin/env node
// Generate a new caller key for ims-broker and the CALLER_KEYS entry that admits it.
//
//   node scripts/new-caller-key.mjs <caller id> [--admin | --role viewer] [--credentials a,b|*]
//                                   [--scopes x,y|*] [--config-dir DIR] [--json]
//   make caller-key NAME=<caller id> [ADMIN=1 | ROLE=viewer] [CREDENTIALS=a,b|*] [SCOPES=x,y|*]
//
// The key is "ibk_" + base64url(32 random bytes). The broker stores only the lowercase
// hex SHA-256 of the full key string (including the "ibk_" prefix) in the CALLER_KEYS
// secret; the key itself is printed once and never stored anywhere by this script.
//
// Defaults: credentials ["default"]; role: a plain caller ("admin": false).
//
// Scopes, without --scopes: the configured scopes of the credentials the caller may use, so a
// new caller gets what its credentials hand out and no more (least privilege by default):
//   - "default": SCOPES of [vars] (Adobe's comma list);
//   - any other name: its "scopes" in the JSON of [vars] CREDENTIALS
//     ({"name": {"client_id": "…", "scopes": "openid,AdobeID", …}});
//   - several credentials: the union of their scopes; --credentials '*': the union of every
//     configured credential's (a credential added later is not covered: give the caller a new
//     entry, or --scopes '*').
// They are read from wrangler.toml's top-level [vars] and from .dev.vars when it exists (KEY=value
// lines; its values win, as in `wrangler dev`), both in --config-dir, else $IMS_CONFIG_DIR, else
// the repository root. read_client_secret and manage_client_secrets are dropped: the broker
// keeps them for its own secret management and never hands them to a caller. A credential
// whose scopes are not found there stops the script (exit 2): pass --scopes (SCOPES=…) instead.
// --scopes x,y gives exactly those (never a reserved one); --scopes '*' gives whatever each
// credential allows (the broker enforces each credential's configured scopes as a ceiling
// anyway). The configuration is not read when --scopes is given.
//
// --role viewer: a read-only operator key ("role": "viewer": metrics, credentials, secrets
// lists, rotations; no tokens, no changes). A viewer mints nothing, so without --scopes its
// entry gets "scopes": []. --admin (or --role admin) may also rotate and delete secrets; the
// two are mutually exclusive. --role caller is the default.
//
// --file FILE (what `make caller-key` passes: callers.json at the repository root, or CALLERS=…)
// adds the entry to that JSON file of callers, creating it when missing, and leaves every other
// entry exactly as it was: the file is the reviewable list of who may call (digests are not
// secrets), committed by the operator and published with `make publish-callers`. An id already
// in the file is refused (exit 2): revoking a caller is removing its entry, replacing one is
// removing it first.
//
// --json prints one machine-readable line {"id","key","sha256","entry"} on stdout and
// nothing else (used by scripts/dev.sh and tests/api-fuzz/stack.mjs).
//
// Exit status: 0 done, 2 usage or configuration error (nothing generated).

import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

import { parse as parseDotenv } from "dotenv";
import { parse as parseToml } from "smol-toml";

const ID_RE = /^[A-Za-z0-9._-]{1,64}$/;
const NAME_RE = /^[a-z0-9_-]{1,32}$/; // credential names, as in CREDENTIALS
const SCOPE_RE = /^[A-Za-z0-9_.:/-]{1,128}$/; // scope names, as the broker accepts them
/** Scopes the broker mints for its own secret management only (ims-core BROKER_ONLY_SCOPES). */
const BROKER_ONLY_SCOPES = ["read_client_secret", "manage_client_secrets"];
const ROLES = ["caller", "viewer", "admin"];
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const USAGE =
  "usage: node scripts/new-caller-key.mjs <caller id> [--admin | --role viewer] [--credentials a,b|*] [--scopes x,y|*] [--config-dir DIR] [--json]\n";

function usage(msg) {
  if (msg) process.stderr.write(`error: ${msg}\n`);
  process.stderr.write(USAGE);
  process.exit(2);
}

/** A configuration problem: nothing is generated, exit 2. */
function fail(msg) {
  process.stderr.write(`error: ${msg}\n`);
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

// --- configuration readers --------------------------------------------------------------
// wrangler.toml through smol-toml and .dev.vars through dotenv (the parser wrangler itself
// uses for .dev.vars), both pinned in package-lock.json.

/** The string values of the top-level [vars] table of a wrangler.toml's text. */
function readTomlVars(text) {
  const vars = parseToml(text).vars ?? {};
  return Object.fromEntries(Object.entries(vars).filter(([, v]) => typeof v === "string"));
}

/** The KEY=value pairs of a .dev.vars file's text. */
function readDotVars(text) {
  return parseDotenv(text);
}

/**
 * The configured scopes of every credential, by name, read from `dir`: Map name -> string[]
 * (reserved scopes already dropped), plus `sources` (the files read) and `problems` (name ->
 * why its scopes are unusable).
 */
function configuredScopes(dir) {
  const sources = [];
  let vars = {};
  const toml = path.join(dir, "wrangler.toml");
  if (fs.existsSync(toml)) {
    try {
      vars = readTomlVars(fs.readFileSync(toml, "utf8"));
    } catch (e) {
      fail(`cannot read ${toml}: ${e.message}; pass the scopes with SCOPES=x,y (--scopes x,y)`);
    }
    sources.push(toml);
  }
  const devVars = path.join(dir, ".dev.vars");
  if (fs.existsSync(devVars)) {
    Object.assign(vars, readDotVars(fs.readFileSync(devVars, "utf8")));
    sources.push(devVars);
  }
  if (sources.length === 0) {
    fail(`neither wrangler.toml nor .dev.vars in ${dir}: pass the scopes with SCOPES=x,y (--scopes x,y)`);
  }

  const scopes = new Map();
  const problems = new Map();
  /** Adobe's comma list -> usable scope names, or a problem. */
  const add = (name, list, setting) => {
    const names = [...new Set(String(list).split(",").map((s) => s.trim()).filter(Boolean))];
    const bad = names.find((s) => !SCOPE_RE.test(s));
    if (bad !== undefined) return problems.set(name, `${setting} holds an invalid scope name ${JSON.stringify(bad)}`);
    const usable = names.filter((s) => !BROKER_ONLY_SCOPES.includes(s));
    if (names.length === 0) return problems.set(name, `${setting} is empty or not set`);
    if (usable.length === 0) return problems.set(name, `${setting} holds only scopes reserved for the broker`);
    scopes.set(name, usable);
  };
  add("default", vars.SCOPES ?? "", "SCOPES");
  const credentialsText = (vars.CREDENTIALS ?? "").trim();
  if (credentialsText !== "") {
    let parsed;
    try {
      parsed = JSON.parse(credentialsText);
    } catch (e) {
      problems.set("*", `CREDENTIALS is not valid JSON (${e.message})`);
    }
    if (parsed !== undefined) {
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        problems.set("*", "CREDENTIALS is not a JSON object of credentials");
      } else {
        for (const [name, cred] of Object.entries(parsed)) {
          if (name === "default") continue; // the broker refuses it: "default" is set by CLIENT_ID
          const list = cred && typeof cred === "object" ? cred.scopes : undefined;
          if (typeof list !== "string") problems.set(name, `CREDENTIALS.${name}.scopes is missing or not a string`);
          else add(name, list, `CREDENTIALS.${name}.scopes`);
        }
      }
    }
  }
  return { scopes, problems, sources };
}

// --- arguments --------------------------------------------------------------------------

const args = process.argv.slice(2);
let id;
let admin = false;
let role;
let credentialsArg;
let scopesArg;
let configDir;
let jsonOut = false;
let callersFile;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const value = () => {
    const v = args[++i];
    if (v === undefined) usage(`${a} needs a value`);
    return v;
  };
  if (a === "--admin") admin = true;
  else if (a === "--role") role = value().trim();
  else if (a === "--credentials") credentialsArg = value();
  else if (a === "--scopes") scopesArg = value();
  else if (a === "--config-dir") configDir = value();
  else if (a === "--json") jsonOut = true;
  else if (a === "--file") callersFile = value();
  else if (a === "-h" || a === "--help") usage();
  else if (a.startsWith("-")) usage(`unknown option ${a}`);
  else if (id === undefined) id = a;
  else usage(`unexpected argument ${a}`);
}
if (!id) usage("missing caller id (e.g. make caller-key NAME=reporting-svc)");
if (!ID_RE.test(id)) usage(`caller id must match ${ID_RE} (got ${JSON.stringify(id)})`);

if (role !== undefined && role !== "" && !ROLES.includes(role)) {
  usage(`role must be one of ${ROLES.join(", ")} (got ${JSON.stringify(role)})`);
}
if (admin && role && role !== "admin") {
  usage(`ADMIN=1 (--admin) and ROLE=${role} (--role ${role}) exclude each other: pick one`);
}
if (role === "admin") admin = true;
const viewer = role === "viewer";

const credentials = listOrStar(credentialsArg, ["default"]);
if (Array.isArray(credentials)) {
  for (const c of credentials) {
    if (!NAME_RE.test(c)) usage(`credential name ${JSON.stringify(c)} must match ${NAME_RE}`);
  }
}

let scopes = listOrStar(scopesArg, undefined);
let scopesNote; // how the scopes were chosen, for the human-readable output
if (Array.isArray(scopes)) {
  for (const s of scopes) {
    if (/[\s,]/.test(s)) usage(`scope ${JSON.stringify(s)} must not contain spaces or commas`);
    if (!SCOPE_RE.test(s)) usage(`scope ${JSON.stringify(s)} must match ${SCOPE_RE}`);
    if (BROKER_ONLY_SCOPES.includes(s)) {
      usage(`scope ${s} is reserved for the broker's own secret management; no caller may have it`);
    }
  }
} else if (scopes === undefined && viewer) {
  scopes = [];
  scopesNote = "none (a viewer gets no tokens)";
} else if (scopes === undefined) {
  const dir = path.resolve(configDir ?? process.env.IMS_CONFIG_DIR ?? REPO_ROOT);
  const config = configuredScopes(dir);
  const hint = "pass the scopes with SCOPES=x,y (--scopes x,y), or SCOPES=* for whatever the credential allows";
  const shown = (file) => {
    const rel = path.relative(process.cwd(), file);
    return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : file;
  };
  const where = config.sources.map(shown).join(" and ");
  let names;
  if (credentials === "*") {
    if (config.problems.has("*")) fail(`cannot find the scopes of every credential in ${where}: ${config.problems.get("*")}; ${hint}`);
    names = [...config.scopes.keys()];
    if (names.length === 0) {
      fail(`no credential with scopes is configured in ${where} (SCOPES, CREDENTIALS); ${hint}`);
    }
  } else {
    names = credentials;
    for (const name of names) {
      if (config.scopes.has(name)) continue;
      const why =
        config.problems.get(name) ??
        (name === "default" ? "SCOPES is not set" : config.problems.get("*") ?? `CREDENTIALS has no entry ${JSON.stringify(name)}`);
      fail(`cannot find the scopes of credential ${JSON.stringify(name)} in ${where}: ${why}; ${hint}`);
    }
  }
  scopes = [...new Set(names.flatMap((n) => config.scopes.get(n)))].sort();
  scopesNote = `the configured scopes of ${names.join(", ")} (from ${where}), without the broker's reserved ones`;
}

// --- the key and its entry --------------------------------------------------------------

const key = "ibk_" + randomBytes(32).toString("base64url");
const sha256 = createHash("sha256").update(key, "utf8").digest("hex");
const entry = viewer ? { sha256, credentials, scopes, role: "viewer" } : { sha256, credentials, scopes, admin };

if (callersFile !== undefined) addToFile(callersFile);

if (jsonOut) {
  process.stdout.write(JSON.stringify({ id, key, sha256, entry }) + "\n");
  process.exit(0);
}

if (callersFile !== undefined) {
  const what = admin ? " (admin)" : viewer ? " (viewer: read-only, no tokens)" : "";
  process.stdout.write(
    [
      `Caller "${id}"${what} added to ${callersFile}.`,
      ...(scopesNote ? [`Scopes: ${scopes.length ? scopes.join(", ") : "[]"} = ${scopesNote}`] : []),
      "",
      "1. Review and commit the file, then publish it: make publish-callers",
      "",
      "2. Give the caller this key (it sends `Authorization: Bearer <key>`):",
      "",
      `   ${key}`,
      "",
      "   WARNING: the key is shown ONLY ONCE and is not stored anywhere (the file holds its",
      "   SHA-256). Copy it into the caller's secret store now. If it is lost, remove the entry",
      "   and add the caller again.",
      "",
    ].join("\n"),
  );
  process.exit(0);
}

const fragment = `${JSON.stringify(id)}: ${JSON.stringify(entry)}`;
const what = admin ? " (admin)" : viewer ? " (viewer: read-only, no tokens)" : "";
process.stdout.write(
  [
    `Caller "${id}"${what}`,
    ...(scopesNote ? [`Scopes: ${scopes.length ? scopes.join(", ") : "[]"} = ${scopesNote}`] : []),
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

/**
 * Adds `id`'s entry to the callers file `file` (a JSON object of caller id → entry), keeping
 * the other entries as they are; an id already there, or a file that is not such an object,
 * stops the script (exit 2) with the file unchanged.
 */
function addToFile(file) {
  let callers = {};
  if (fs.existsSync(file)) {
    const text = fs.readFileSync(file, "utf8");
    try {
      callers = text.trim() === "" ? {} : JSON.parse(text);
    } catch (e) {
      fail(`${file} is not valid JSON (${e.message}): fix it first; nothing was added`);
    }
    if (callers === null || typeof callers !== "object" || Array.isArray(callers)) {
      fail(`${file} is not a JSON object of callers: nothing was added`);
    }
  }
  if (Object.hasOwn(callers, id)) {
    fail(`${file} already has a caller "${id}": remove its entry first to replace it (its key stops working), or pick another id`);
  }
  callers[id] = entry;
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(callers, null, 2) + "\n");
  fs.renameSync(tmp, file);
}
