// What the API fuzz run talks to, and how to stop it again:
//   1. the fake Adobe (target/debug/fake-adobe --port 0) with two clients and their Developer
//      Console credentials, so tokens can be minted and secrets listed, rotated and deleted;
//   2. the Worker under `wrangler dev --local` (tests/support/wrangler-dev.mjs: a copy of build/
//      taken at start, so a rebuild during the run changes nothing) with a fresh STORE_KEY
//      (scripts/new-store-key.mjs), an admin caller key (scripts/new-caller-key.mjs), the fake's
//      client secrets, ORG_ID/CREDENTIAL_ID, IMS_TOKEN_URL / IO_API_BASE_URL at the fake and
//      ROTATION_GRACE_S=30, with its own local KV and Durable Object state.
// Logs go to tests/artifacts/api-fuzz/.

import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";

import { ROOT, startWranglerDev } from "../support/wrangler-dev.mjs";

export { ROOT };
export const OUT = path.join(ROOT, "tests", "artifacts", "api-fuzz");

/** A caller key and its CALLER_KEYS entry, from the project's own generator. */
function newCallerKey(id, args) {
  const out = execFileSync(process.execPath, [path.join(ROOT, "scripts", "new-caller-key.mjs"), id, ...args, "--json"], {
    encoding: "utf8",
  });
  return JSON.parse(out); // {id, key, sha256, entry}
}

function newStoreKey() {
  return execFileSync(process.execPath, [path.join(ROOT, "scripts", "new-store-key.mjs"), "--raw"], { encoding: "utf8" }).trim();
}

/**
 * Starts the fake and the Worker. Resolves with
 * {base, fakeUrl, admin: {id, key}, secrets: [every secret value the Worker was given], stop(), timings}.
 */
export async function startStack() {
  // Two credentials, both able to manage secrets: "default" and "extra".
  const clients = {
    default: { id: "fuzz-client", secret: `cs_${randomBytes(12).toString("hex")}`, org: "4242", cred: "1717" },
    extra: { id: "fuzz-extra", secret: `cs_${randomBytes(12).toString("hex")}`, org: "4243", cred: "1718" },
  };
  const admin = newCallerKey("api-fuzz-admin", ["--admin", "--credentials", "*", "--scopes", "*"]);
  const storeKey = newStoreKey();
  const fakeArgs = [];
  for (const c of Object.values(clients)) {
    fakeArgs.push("--client", `${c.id}:${c.secret}`, "--credential", `${c.org}:${c.cred}:${c.id}`);
  }
  const stack = await startWranglerDev({
    tmpPrefix: "ims-api-fuzz-",
    fakeArgs,
    vars: (fakeUrl) => ({
      CLIENT_ID: clients.default.id,
      CLIENT_SECRET: clients.default.secret,
      SCOPES: "openid,AdobeID",
      CREDENTIALS: JSON.stringify({
        extra: {
          client_id: clients.extra.id,
          scopes: "openid,AdobeID,read_organizations",
          org_id: clients.extra.org,
          credential_id: clients.extra.cred,
        },
      }),
      CLIENT_SECRET_EXTRA: clients.extra.secret,
      IMS_TOKEN_URL: `${fakeUrl}/ims/token/v3`,
      IO_API_BASE_URL: fakeUrl,
      ORG_ID: clients.default.org,
      CREDENTIAL_ID: clients.default.cred,
      // Long enough that a fuzz run of a few seconds sees a rotation wait at "retire" with two
      // secrets at Adobe (so a DELETE of the previous one can succeed), short enough that a
      // longer run also sees the retire step and new rotations.
      ROTATION_GRACE_S: "30",
      // One log line per request, cache hits included: every line is scanned for leaks.
      LOG_REQUESTS: "all",
      CALLER_KEYS: JSON.stringify({ [admin.id]: admin.entry }),
      STORE_KEY: storeKey,
    }),
    logs: { fake: path.join(OUT, "fake-adobe.log"), worker: path.join(OUT, "wrangler.log") },
  });
  return {
    ...stack,
    admin: { id: admin.id, key: admin.key },
    secrets: [admin.key, storeKey, clients.default.secret, clients.extra.secret],
  };
}
