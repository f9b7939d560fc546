// The package's API, shared by every runtime entry (node.mjs, web.mjs, workerd.mjs). The
// entries load the WebAssembly module first; nothing here calls into it while loading.
//
// Everything with token rules is in WebAssembly (the ims-broker core). This file only adds
// what a JS caller expects around it: inspect hooks that keep secrets out of console output,
// two store adapters, and an error type guard.
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

/** True for the errors this package throws (`name` "ImsError", a string `code`). */
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
