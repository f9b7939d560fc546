// Host side of ims-wasm: what the token cache needs from the JavaScript runtime (timers, a
// fetch with a timeout, the caller's store) and plain-object builders for results.
//
// No token logic lives here: the rules (cache key, skew, refresh, single-flight, retries) are
// all in the Rust core. Every function returns values instead of throwing, so the Rust side
// converts types and nothing else. Secrets pass through `send` (request body or Authorization
// header) and are never logged or copied into an error message here.

/** Resolves after `ms` milliseconds. */
export function host_sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const TIMEOUT = Symbol("timeout");

/** A short description of a failed fetch, e.g. `TypeError: fetch failed (ECONNREFUSED)`. */
function describe(error) {
  if (error === null || typeof error !== "object") return String(error);
  const cause = error.cause && typeof error.cause === "object" ? error.cause.code || error.cause.message : undefined;
  const text = `${error.name || "Error"}: ${error.message || "request failed"}`;
  return cause ? `${text} (${cause})` : text;
}

/**
 * Sends one request with `fetchFn` (or the global fetch) and reads the whole answer.
 * Resolves to `{status, headers: [name, value, ...], body: Uint8Array}`, `{timeout: true}` when
 * no full answer came within `timeoutMs` (the request is aborted), or `{error: "<text>"}`.
 */
export async function host_send(fetchFn, method, url, headers, body, timeoutMs) {
  const controller = new AbortController();
  let timer;
  const expired = new Promise((resolve) => {
    timer = setTimeout(() => resolve(TIMEOUT), timeoutMs);
  });
  const init = { method, headers: {}, signal: controller.signal };
  for (let i = 0; i + 1 < headers.length; i += 2) init.headers[headers[i]] = headers[i + 1];
  // A copy (the argument is a view of wasm memory), as an ArrayBuffer: a BodyInit everywhere.
  if (body.length > 0) init.body = new Uint8Array(body).buffer;
  const exchange = (async () => {
    const res = typeof fetchFn === "function" ? await fetchFn(url, init) : await globalThis.fetch(url, init);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const flat = [];
    res.headers.forEach((value, name) => {
      flat.push(String(name), String(value));
    });
    return { status: res.status, headers: flat, body: bytes };
  })();
  try {
    const winner = await Promise.race([exchange, expired]);
    if (winner === TIMEOUT) {
      exchange.catch(() => {});
      controller.abort();
      return { timeout: true };
    }
    return winner;
  } catch (error) {
    return { error: describe(error) };
  } finally {
    clearTimeout(timer);
  }
}

// The class of the errors the package throws: `ImsError` of the package's JS layer (api.mjs),
// registered by each runtime entry right after the module is loaded; a plain `Error` before
// that (the bindings' own tests). The Rust side sets `name`, `code` and the details.
let ErrorClass = Error;

/** Registers the class `new_error` instantiates. */
export function use_error_class(cls) {
  if (typeof cls === "function") ErrorClass = cls;
}

/** A new error of the registered class with `message` (no secret or token in it). */
export function new_error(message) {
  return new ErrorClass(message);
}

const UNREPORTED = {
  store_get: "the token store's get() failed: it counts as a cache miss",
  store_put: "the token store's put() failed: the token is served but not shared through the store",
  refresh: "a background token refresh failed: the cached token is served while usable",
};

/**
 * The `onError` of a client given none: failures that do not fail a call are never silent,
 * each kind (`store_get`, `store_put`, `refresh`) goes to console.warn once per client.
 */
export function warn_once() {
  const seen = new Set();
  return (error, what) => {
    if (seen.has(what)) return;
    seen.add(what);
    console.warn(
      `ims-broker-core: ${UNREPORTED[what] || what} (${describe(error)}). ` +
        `Pass onError to the TokenClient to handle these; further ${what} failures of this client are not logged.`,
    );
  };
}

function report(onError, error, what) {
  if (typeof onError === "function") {
    try {
      onError(error, what);
    } catch {
      // a failing error callback must not break token delivery
    }
  }
}

/** `store.get(key)`; a string, or undefined for a miss or a failure (reported to onError). */
export async function store_get(store, key, onError) {
  try {
    const value = await store.get(key);
    return typeof value === "string" ? value : undefined;
  } catch (error) {
    report(onError, error, "store_get");
    return undefined;
  }
}

/** `store.put(key, value, ttlSeconds)`; a failure is reported to onError and otherwise ignored. */
export async function store_put(store, key, value, ttlSeconds, onError) {
  try {
    await store.put(key, value, ttlSeconds);
  } catch (error) {
    report(onError, error, "store_put");
  }
}

/** Reports a failed background refresh to onError. */
export function report_error(onError, error, what) {
  report(onError, error, what);
}

/** The object `getToken` resolves to. */
export function make_token(accessToken, expiresIn, expiresAt, scope, source) {
  return { accessToken, tokenType: "bearer", expiresIn, expiresAt, scope, source };
}

/** Normalises a response given to `parseTokenResponse` into `{status, headers: [...], body}`. */
export function response_parts(response) {
  const flat = [];
  const h = response.headers;
  if (h && typeof h.forEach === "function" && !Array.isArray(h)) {
    h.forEach((value, name) => flat.push(String(name), String(value)));
  } else if (Array.isArray(h)) {
    for (const [name, value] of h) flat.push(String(name), String(value));
  } else if (h && typeof h === "object") {
    for (const name of Object.keys(h)) flat.push(name, String(h[name]));
  }
  let body = response.body;
  if (typeof body === "string") body = new TextEncoder().encode(body);
  else if (body instanceof ArrayBuffer) body = new Uint8Array(body);
  else if (ArrayBuffer.isView(body)) body = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  else body = new Uint8Array(0);
  return { status: Number(response.status), headers: flat, body };
}
