// The package's API, shared by every runtime entry (node.mjs, web.mjs, workerd.mjs). The
// entries load the WebAssembly module first; nothing here calls into it while loading.
//
// Everything with token rules is in WebAssembly (the ims-broker core). This file only adds
// what a JS caller expects around it: inspect hooks that keep secrets out of console output,
// two store adapters and the error class.
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
