// The package's API, shared by every runtime entry (node.mjs, web.mjs, workerd.mjs). The
// entries load the WebAssembly module first; nothing here calls into it while loading.
//
// Everything with token rules is in WebAssembly (the ims-broker core). This file only adds
// what a JS caller expects around it: inspect hooks that keep secrets out of console output,
// two store adapters, the error class, and `generateAccessToken`, the call shape of
// @adobe/aio-lib-core-auth over a TokenClient per credential.
import { Secret, TokenClient, SecretsClient, RotationState } from "./wasm/ims_broker_core.js";

export {
  TokenClient,
  SecretsClient,
  RotationState,
  Secret,
  canonicalScopes,
  cacheKey,
  tokenRequest,
  parseTokenResponse,
  decodeClaims,
  cacheDecision,
  identifyByUsage,
} from "./wasm/ims_broker_core.js";

// getToken(scopes): a spelling seen before (a string as is, a list joined with U+001F) is
// looked up here and crosses into WebAssembly as a handle to its parsed entry, not as a string
// or list to parse again (the WebAssembly side keeps no memo of its own). At most MAX_SPELLINGS per client; the
// handles of a full memo are freed when it is emptied.
const MAX_SPELLINGS = 256;
const spellings = new WeakMap();
const getTokenOf = TokenClient.prototype.getToken;
TokenClient.prototype.getToken = function getToken(scopes, options) {
  let spelling;
  if (typeof scopes === "string") spelling = scopes;
  else if (Array.isArray(scopes)) spelling = "\u001f" + scopes.join("\u001f");
  else return getTokenOf.call(this, scopes, options);
  let memo = spellings.get(this);
  if (memo === undefined) spellings.set(this, (memo = new Map()));
  let entry = memo.get(spelling);
  if (entry === undefined) {
    try {
      entry = this._scopeEntry(scopes);
    } catch (error) {
      return Promise.reject(error);
    }
    if (memo.size >= MAX_SPELLINGS) {
      for (const e of memo.values()) e.free();
      memo.clear();
    }
    memo.set(spelling, entry);
  }
  return this._getTokenFor(entry, options);
};

const INSPECT = [Symbol.for("nodejs.util.inspect.custom"), Symbol.for("Deno.customInspect")];

function inspectAs(cls, show) {
  for (const symbol of INSPECT) {
    Object.defineProperty(cls.prototype, symbol, {
      value() {
        return show(this);
      },
      writable: true,
      configurable: true,
    });
  }
}

// util.inspect / console.log / Deno's inspector print these instead of the wasm handle.
inspectAs(Secret, () => "Secret([redacted])");
inspectAs(TokenClient, (c) => `TokenClient ${JSON.stringify(c.toJSON())}`);
inspectAs(SecretsClient, () => "SecretsClient {}");
inspectAs(RotationState, (s) => `RotationState ${s.serialize()}`);

const DETAILS = ["code", "debugId", "status", "upstreamStatus", "retryAfter", "adobeCode"];

/**
 * The class of every error the package throws or rejects with: a stable `code` (the
 * ims-broker's error codes) and, when known, `debugId`, `status`, `upstreamStatus`,
 * `retryAfter`, `adobeCode`. The runtime entries register it with the WebAssembly module, which
 * creates its errors with it.
 */
export class ImsError extends Error {
  constructor(message, details) {
    super(message);
    if (details !== null && typeof details === "object") {
      for (const name of DETAILS) if (details[name] !== undefined) this[name] = details[name];
    }
  }
}
Object.defineProperty(ImsError.prototype, "name", { value: "ImsError", writable: true, configurable: true });

/** True for the errors this package throws (`name` "ImsError", a string `code`), also those of
 *  another copy of the package (where `instanceof ImsError` is false). */
export function isImsError(error) {
  return error instanceof Error && error.name === "ImsError" && typeof error.code === "string";
}

const invalidOptions = (message) => new ImsError(message, { code: "invalid_options" });

// ---- generateAccessToken: @adobe/aio-lib-core-auth's call, this package's cache ----

const IMS_TOKEN_URLS = {
  prod: "https://ims-na1.adobelogin.com/ims/token/v3",
  stage: "https://ims-na1-stg1.adobelogin.com/ims/token/v3",
};
// Keys of the params aio-lib-core-auth reads besides the credentials: the
// include-ims-credentials annotation's credentials and IMS environment (Adobe I/O Runtime).
const IMS_OAUTH_S2S_INPUT = "__ims_oauth_s2s";
const IMS_ENV_INPUT = "__ims_env";
const MAX_GENERATE_CLIENTS = 64;
// SHA-256 of (env, client id, org id, secret) -> the TokenClient serving them (its cache is the
// one of every call with these credentials). Keyed by a digest so that no client secret is kept
// in JS memory: the TokenClient holds it inside the WebAssembly module.
const generated = new Map();

/** Hex SHA-256 (WebCrypto, in every runtime this package supports) of `parts` joined by NUL. */
async function digestOf(parts) {
  const bytes = await globalThis.crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts.join("\u0000")));
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

function credentialsOf(params) {
  if (params === null || typeof params !== "object" || Array.isArray(params)) {
    return { error: `params must be an object, got ${params === null ? "null" : Array.isArray(params) ? "an array" : typeof params}` };
  }
  if (params.scopes && !Array.isArray(params.scopes)) {
    return { error: `scopes must be an array, got ${typeof params.scopes}` };
  }
  const clientId = params.clientId || params.client_id;
  const clientSecret = params.clientSecret || params.client_secret;
  const orgId = params.orgId || params.org_id;
  const missing = [];
  if (!clientId) missing.push("clientId");
  if (!clientSecret) missing.push("clientSecret");
  if (!orgId) missing.push("orgId");
  if (missing.length > 0) return { error: `missing required parameters: ${missing.join(", ")}` };
  return { credentials: { clientId, clientSecret, orgId, scopes: params.scopes || [] } };
}

/** Adobe I/O Runtime's development namespaces use IMS stage (as aio-lib-core-auth does). */
function runtimeStageNamespace() {
  try {
    const ns = globalThis.process?.env?.__OW_NAMESPACE;
    return typeof ns === "string" && ns.startsWith("development-");
  } catch {
    return false; // e.g. Deno without --allow-env
  }
}

/**
 * `generateAccessToken(params, imsEnv?)` of @adobe/aio-lib-core-auth: the same parameters
 * (`clientId`/`client_id`, `clientSecret`/`client_secret`, `orgId`/`org_id`, `scopes` array,
 * the `__ims_oauth_s2s` and `__ims_env` inputs, `imsEnv` "prod" or "stage") and the same answer
 * `{ access_token, token_type, expires_in }`, served from this package's cache: a token is kept
 * until its own expiry (less the skew, refreshed early in the background), concurrent calls
 * share one IMS call, and `expires_in` counts down.
 */
export async function generateAccessToken(params, imsEnv) {
  const env = imsEnv || params?.[IMS_ENV_INPUT] || (runtimeStageNamespace() ? "stage" : "prod");
  const tokenUrl = IMS_TOKEN_URLS[env];
  if (tokenUrl === undefined) throw invalidOptions(`the IMS environment must be "prod" or "stage", got ${JSON.stringify(String(env))}`);
  let found = credentialsOf(params);
  if (found.error) {
    const annotated = credentialsOf(params?.[IMS_OAUTH_S2S_INPUT]);
    if (annotated.error) throw invalidOptions(found.error);
    found = annotated;
  }
  const { clientId, clientSecret, orgId, scopes } = found.credentials;
  const key = await digestOf([env, clientId, orgId, clientSecret]);
  let client = generated.get(key);
  if (client === undefined) {
    if (generated.size >= MAX_GENERATE_CLIENTS) generated.clear();
    client = new TokenClient({ tokenUrl, clientId, clientSecret, credential: `generateAccessToken:${env}` });
    generated.set(key, client);
  }
  const token = await client.getToken(scopes);
  return { access_token: token.accessToken, token_type: token.tokenType, expires_in: token.expiresIn };
}

/** Drops every token `generateAccessToken` cached (aio-lib-core-auth's `invalidateCache`). */
export function invalidateCache() {
  for (const client of generated.values()) client.invalidate();
}

/**
 * A store kept in this process's memory, with expiry: share one between several clients so
 * they share tokens. (Without a store each client still caches in its own memory.)
 */
export class MemoryStore {
  #entries = new Map();

  get(key) {
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    if (Date.now() >= e.expiresAt) {
      this.#entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  put(key, value, ttlSeconds) {
    this.#entries.set(key, { value, expiresAt: Date.now() + ttlSeconds * 1000 });
  }

  get size() {
    return this.#entries.size;
  }

  [Symbol.for("nodejs.util.inspect.custom")]() {
    return `MemoryStore { size: ${this.#entries.size} }`;
  }
}

/** Adapts a Workers KV namespace (`env.TOKENS`) to the store interface. */
export function kvStore(namespace) {
  return {
    get: (key) => namespace.get(key),
    put: (key, value, ttlSeconds) => namespace.put(key, value, { expirationTtl: ttlSeconds }),
  };
}
