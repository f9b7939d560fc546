// The broker's API: same-origin fetches with the caller key, errors in words.
//
// The caller key (an admin's, or a read-only viewer's) lives here and in sessionStorage only
// (this tab, gone when it closes), and goes out only as `Authorization: Bearer` on same-origin
// fetches: never in a URL, never in a cookie. The API never returns a token value or a secret
// value, and this page never asks for one.
//
// A session's answers carry its generation: signing out starts a new one, and every loader drops
// an answer of an earlier generation (isCurrent), so a late answer never draws into the next
// session.

// The storage name predates viewer keys; kept, so that an open tab stays signed in across a deploy.
const KEY_STORAGE = "ims-broker.console.admin-key";

let key = null;
let gen = 0;
let onRevoked = () => {};

export class ApiError extends Error {
  constructor(status, code, description, debugId) {
    super(description || code);
    this.status = status;
    this.code = code;
    this.description = description;
    this.debugId = debugId;
  }
}

/** The key kept in this tab by an earlier sign-in, if any. */
export const storedKey = () => sessionStorage.getItem(KEY_STORAGE);

/** Signs the key in: it is used for every call from now on, and kept in this tab. */
export function useKey(k) {
  sessionStorage.setItem(KEY_STORAGE, k);
  key = k;
}

/** Forgets the key (this tab's copy too) and starts a new generation. */
export function forgetKey() {
  gen += 1;
  key = null;
  sessionStorage.removeItem(KEY_STORAGE);
}

export const signedIn = () => key !== null;
export const generation = () => gen;
export const isCurrent = (g) => g === gen;

/** What to do when the broker stops accepting the key mid-session (a 401). */
export function whenRevoked(handler) {
  onRevoked = handler;
}

/** A 401 in the middle of a session: the key was revoked. Returns true when it was handled. */
export function checkRevoked(err) {
  if (err instanceof ApiError && err.status === 401 && key) {
    onRevoked();
    return true;
  }
  return false;
}

/** Same-origin call with the caller key. Resolves {status, body} for 2xx; throws ApiError. */
export async function api(path, { method = "GET", key: k = key } = {}) {
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: { Authorization: `Bearer ${k}`, Accept: "application/json" },
      cache: "no-store",
      credentials: "omit",
      redirect: "error",
    });
  } catch (err) {
    throw new ApiError(0, "network", `the broker could not be reached (${err.message})`);
  }
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) {
    throw new ApiError(
      res.status,
      body?.error ?? `http_${res.status}`,
      body?.error_description ?? (text.slice(0, 200) || res.statusText),
      body?.debug_id ?? res.headers.get("x-debug-id"),
    );
  }
  return { status: res.status, body };
}

/** An API error in words, for people. */
export function describe(err) {
  if (!(err instanceof ApiError)) return String(err?.message ?? err);
  if (err.code === "network") return `The broker could not be reached: ${err.description}.`;
  let text = err.description ? `${err.description}` : `error ${err.code}`;
  text = text.charAt(0).toUpperCase() + text.slice(1);
  if (!/[.!?]$/.test(text)) text += ".";
  const extra = [`HTTP ${err.status} ${err.code}`];
  if (err.debugId) extra.push(`x-debug-id ${err.debugId}`);
  return `${text} (${extra.join(", ")})`;
}

export const credPath = (name, rest) => `/v1/credentials/${encodeURIComponent(name)}/${rest}`;
