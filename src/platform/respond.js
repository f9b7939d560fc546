// Builds a Response in one call from the Worker (src/reply.rs).
//
// workers-rs's `Response` makes a `Headers` object and calls `set` once per header, then a
// `ResponseInit`, a `Uint8Array` it copies the body into, and the `Response`: each a call across
// the Wasm boundary and an object for the collector. Here an answer whose headers are all fixed
// ones (a token, an error without a per-request value) reuses one init object per status and
// header set; the `Response` constructor copies what it needs from it.

/** Init objects of the answers with fixed headers, by status and headers. */
const INITS = new Map();

/** What is answered when the runtime refuses a header value (it never quotes the value). */
const FALLBACK_BODY = '{"error":"internal_error","error_description":"internal error"}';
const FALLBACK_INIT = { status: 500, headers: { "content-type": "application/json", "cache-control": "no-store" } };

/**
 * @param {number} status the HTTP status
 * @param {string} head the headers as `name\nvalue\nname\nvalue...`, "" for none
 * @param {boolean} fixed true when `head` is one of a few fixed sets (then its init is kept)
 * @param {Uint8Array} body a view of the body in the Wasm memory (copied here), empty for none
 * @returns {Response}
 */
export function respond(status, head, fixed, body) {
  const content = body.length === 0 ? null : body.slice();
  let init;
  if (fixed) {
    const key = status + head;
    init = INITS.get(key);
    if (init === undefined) {
      init = { status, headers: new Headers(headers(head)) };
      INITS.set(key, init);
    }
  } else {
    init = { status, headers: headers(head) };
  }
  try {
    return new Response(content, init);
  } catch {
    return new Response(FALLBACK_BODY, FALLBACK_INIT);
  }
}

/** @param {string} head @returns {[string, string][]} */
function headers(head) {
  /** @type {[string, string][]} */
  const pairs = [];
  if (head === "") return pairs;
  const parts = head.split("\n");
  for (let i = 0; i + 1 < parts.length; i += 2) pairs.push([parts[i], parts[i + 1]]);
  return pairs;
}
