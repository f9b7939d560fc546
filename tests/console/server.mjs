// Starts what the console test runs against, and stops it again:
//   1. the fake Adobe (target/debug/fake-adobe --port 0) with one client and its Developer
//      Console credential, so tokens can be minted and secrets listed and rotated;
//   2. the Worker under `wrangler dev --local` (tests/support/wrangler-dev.mjs) with a fresh
//      STORE_KEY, an admin and a non-admin caller key, ORG_ID/CREDENTIAL_ID, IMS_TOKEN_URL /
//      IO_API_BASE_URL at the fake and ROTATION_GRACE_S=0 (so a rotation runs to "done" in one
//      go), and a fresh local KV;
//   3. one trusted issuer (TRUSTED_ISSUERS, GitHub Actions' OIDC issuer) and a federated caller of
//      it in CALLER_KEYS, for the console's "Trusted issuers" panel. No identity token is ever
//      presented, so the Worker never asks the issuer for its keys (the test stays offline).

import { createHash, randomBytes } from "node:crypto";
import path from "node:path";

import { ROOT, startWranglerDev } from "../support/wrangler-dev.mjs";

export { ROOT };
export const ARTIFACTS = path.join(ROOT, "tests", "artifacts");

/** A caller key as scripts/new-caller-key.mjs makes them: "ibk_" + base64url(32 bytes). */
export function newCallerKey() {
  const key = "ibk_" + randomBytes(32).toString("base64url");
  return { key, sha256: createHash("sha256").update(key, "utf8").digest("hex") };
}

/** The trusted issuer and the federated caller the stack is configured with (see 3. above). */
export const TRUSTED_ISSUERS = {
  github: { issuer: "https://token.actions.githubusercontent.com", audience: "ims-broker" },
};
export const FEDERATED_CALLER = {
  id: "site-publish",
  entry: {
    issuer: "github",
    bound_claims: { repository: "acme/site", ref: ["refs/heads/main", "refs/tags/v*"] },
    credentials: ["default"],
    scopes: ["openid", "AdobeID"],
  },
};

/**
 * Starts the fake and the Worker. Resolves with
 * {base, fakeUrl, adminKey, userKey, viewerKey, clientId, stop(), timings}: an admin key, a
 * plain caller's key and a viewer's (read-only) key.
 */
export async function startStack() {
  const clientId = "console-client";
  const clientSecret = `cs_${randomBytes(12).toString("hex")}`;
  const orgId = "4242";
  const credentialId = "1717";
  const admin = newCallerKey();
  const user = newCallerKey();
  const viewer = newCallerKey();
  const callerKeys = {
    "console-admin": { sha256: admin.sha256, credentials: "*", scopes: "*", admin: true },
    "console-user": { sha256: user.sha256, credentials: ["default"], scopes: "*", admin: false },
    "console-viewer": { sha256: viewer.sha256, credentials: "*", scopes: [], role: "viewer" },
    [FEDERATED_CALLER.id]: FEDERATED_CALLER.entry,
  };
  const stack = await startWranglerDev({
    tmpPrefix: "ims-console-test-",
    fakeArgs: ["--client", `${clientId}:${clientSecret}`, "--credential", `${orgId}:${credentialId}:${clientId}`],
    vars: (fakeUrl) => ({
      CLIENT_ID: clientId,
      CLIENT_SECRET: clientSecret,
      SCOPES: "openid,AdobeID",
      IMS_TOKEN_URL: `${fakeUrl}/ims/token/v3`,
      IO_API_BASE_URL: fakeUrl,
      ORG_ID: orgId,
      CREDENTIAL_ID: credentialId,
      ROTATION_GRACE_S: "0",
      CALLER_KEYS: JSON.stringify(callerKeys),
      TRUSTED_ISSUERS: JSON.stringify(TRUSTED_ISSUERS),
      STORE_KEY: randomBytes(32).toString("base64"),
    }),
    logs: { fake: path.join(ARTIFACTS, "console-fake-adobe.log"), worker: path.join(ARTIFACTS, "console-wrangler.log") },
  });
  return { ...stack, adminKey: admin.key, userKey: user.key, viewerKey: viewer.key, clientId };
}
