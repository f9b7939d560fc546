// Builds a Response in one call from the Worker (src/reply.rs).
//
// workers-rs's `Response` makes a `Headers` object and calls `set` once per header, then a
// `ResponseInit`, a `Uint8Array` it copies the body into, and the `Response`: each a call across
// the Wasm boundary and an object for the collector. Here an answer whose headers are all fixed
// ones (a token, an error without a per-request value) is sent once with its headers
// (`respondFirst`), which keeps its init object, and from then on by its id alone
// (`respondAgain`); the `Response` constructor copies what it needs from the init.

/** Init objects of the answers with fixed headers, by the id the Worker gave them. */
const INITS = [];

/** What is answered when the runtime refuses a header value (it never quotes the value). */
const FALLBACK_BODY = '{"error":"internal_error","error_description":"internal error"}';
const FALLBACK_INIT = { status: 500, headers: { "content-type": "application/json", "cache-control": "no-store" } };

/**
 * @param {number} status the HTTP status
 * @param {string} head the headers as `name\nvalue\nname\nvalue...`, "" for none
 * @param {Uint8Array} body a view of the body in the Wasm memory (copied here), empty for none
 * @returns {Response}
 */
export function respond(status, head, body) {
  return make(body, { status, headers: headers(head) });
}

/**
 * `respond`, keeping the init object as fixed answer `id`.
 * @param {number} id @param {number} status @param {string} head @param {Uint8Array} body
 * @returns {Response}
 */
export function respondFirst(id, status, head, body) {
  let init = null;
  try {
    init = { status, headers: new Headers(headers(head)) };
  } catch {
    // A header value the runtime refuses: this answer is always the fallback.
  }
  INITS[id] = init;
  return make(body, init);
}

/**
 * The fixed answer `id` with this body.
 * @param {number} id @param {Uint8Array} body
 * @returns {Response}
 */
export function respondAgain(id, body) {
  return make(body, INITS[id]);
}

/** @param {Uint8Array} body @param {ResponseInit | null} init null: refused headers @returns {Response} */
function make(body, init) {
  if (init === null) return new Response(FALLBACK_BODY, FALLBACK_INIT);
  // The runtime keeps the bytes it is given without copying them: the view of the Wasm memory
  // must be copied here.
  const content = body.length === 0 ? null : body.buffer.slice(body.byteOffset, body.byteOffset + body.length);
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
