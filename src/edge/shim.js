// The Worker's one JS shim (used by src/edge/mod.rs): it reads what the handlers need of a
// request, and builds the answer's Response.
//
// Reading: the method, the URL, five headers and the body, capped, are read here and handed to
// the Worker in one call. Awaiting `request.arrayBuffer()` from Rust goes through
// wasm-bindgen's JsFuture (two closures registered with a FinalizationRegistry per await, and a
// wake-up through the microtask queue); a plain `.then` here costs one JS callback, and a
// request without a body (every GET) is handed over at once, without waiting at all.
//
// The cap holds for every request, before anyone is authenticated: a `Content-Length` over it is
// refused without reading; a body without one (chunked) is read into a buffer of `max + 1` bytes
// and the read stops as soon as that buffer is full, so no request makes the Worker hold more
// than `max + 1` bytes of body.

import { env as startup } from "cloudflare:workers";

/**
 * The Worker's bindings at global scope, for the isolate's start (src/platform/startup.rs).
 * @returns {object | undefined}
 */
export function startupEnv() {
  return startup;
}

/**
 * @param {Request} request the incoming request; its body is consumed
 * @param {object} env the Worker's bindings, handed on unchanged
 * @param {object} ctx the ExecutionContext, handed on unchanged
 * @param {number} max the largest body accepted
 * @param {(env: object, ctx: object, outcome: number, body: Uint8Array, method: string,
 *   url: string, headers: string) => Response | Promise<Response>} next
 *   called with what became of the body (`READ`, `TOO_LARGE`: over `max`, `FAILED`: the read
 *   failed), the body (empty unless read), the method, the URL, and the values of the
 *   `Authorization`, `Content-Type`, `Origin`, `cf-ray` and `Cf-Access-Jwt-Assertion` headers
 *   in one string: each is `=value`, or empty when the header is absent, joined by `\n` (which
 *   no header value holds), so that they cross into the Worker as one string
 * @returns {Response | Promise<Response>}
 */
export function readRequest(request, env, ctx, max, next) {
  const headers = request.headers;
  const method = request.method;
  const url = request.url;
  const read = HEADERS.map((name) => {
    const value = headers.get(name);
    return value === null ? "" : "=" + value;
  });
  const head = read.join("\n");
  const done = (outcome, body) => next(env, ctx, outcome, body, method, url, head);
  const failed = () => done(FAILED, NOTHING);
  if (request.body === null) return done(READ, NOTHING);
  const declared = headers.get("content-length");
  if (declared !== null) {
    if (!(Number(declared) <= max)) return done(TOO_LARGE, NOTHING);
    // HTTP framing ends the body at its declared length.
    return request.arrayBuffer().then((body) => done(READ, new Uint8Array(body)), failed);
  }
  return readCapped(request.body, max).then(
    (body) => (body === null ? done(TOO_LARGE, NOTHING) : done(READ, body)),
    failed,
  );
}

/** The headers the Worker reads, in the order `next` gets them (src/edge/mod.rs). */
const HEADERS = ["authorization", "content-type", "origin", "cf-ray", "cf-access-jwt-assertion"];

/**
 * Reads `stream` into one buffer of `max + 1` bytes (a BYOB reader fills it in place); `null`
 * once more than `max` bytes arrived, after cancelling the rest of the stream.
 * @param {ReadableStream<Uint8Array>} stream
 * @param {number} max
 * @returns {Promise<Uint8Array | null>}
 */
async function readCapped(stream, max) {
  const reader = stream.getReader({ mode: "byob" });
  let buffer = new ArrayBuffer(max + 1);
  let total = 0;
  while (total <= max) {
    const { done, value } = await reader.read(new Uint8Array(buffer, total, max + 1 - total));
    if (value) buffer = value.buffer;
    if (done) return new Uint8Array(buffer, 0, total);
    total += value.byteLength;
  }
  reader.cancel().catch(() => {});
  return null;
}

// What became of the body; the same numbers as in src/edge/mod.rs.
const READ = 0;
const TOO_LARGE = 1;
const FAILED = 2;
const NOTHING = new Uint8Array(0);

/** What is answered when the runtime refuses a header value (it never quotes the value). */
const FALLBACK_BODY = '{"error":"internal_error","error_description":"internal error"}';
const FALLBACK_INIT = { status: 500, headers: { "content-type": "application/json", "cache-control": "no-store" } };

/**
 * Builds a Response in one call: workers-rs's `Response` makes a `Headers` object and calls `set`
 * once per header, then a `ResponseInit` and a `Uint8Array`, each a call across the Wasm boundary.
 * @param {number} status the HTTP status
 * @param {string} head the headers as `name\nvalue\nname\nvalue...`, "" for none
 * @param {Uint8Array} body a view of the body in the Wasm memory (copied here), empty for none
 * @returns {Response}
 */
export function respond(status, head, body) {
  return make(body, made(status, head));
}

/**
 * `respond` for an answer whose headers are all fixed ones: its init is made once and kept as
 * answer `id` (the Worker numbers them, and sends the status and head only the first time). The
 * Worker answers with few such sets (a token, a handful of errors), and `new Response` copies
 * what it needs from the init, so one init serves every such answer (see BENCHMARKS.md).
 * @param {number} id @param {number} status @param {string} head @param {Uint8Array} body
 * @returns {Response}
 */
export function respondKept(id, status, head, body) {
  let init = INITS[id];
  if (init === undefined) {
    init = made(status, head);
    INITS[id] = init;
  }
  return make(body, init);
}

/** @param {Uint8Array} body @param {ResponseInit | null} init null: refused headers @returns {Response} */
function make(body, init) {
  // The runtime keeps the bytes it is given without copying them: the view of the Wasm memory
  // must be copied here.
  const content = body.length === 0 ? null : body.slice();
  if (init === null) return new Response(FALLBACK_BODY, FALLBACK_INIT);
  try {
    return new Response(content, init);
  } catch {
    return new Response(FALLBACK_BODY, FALLBACK_INIT);
  }
}

/** Init objects of answers whose headers are all fixed ones, by the Worker's number. */
const INITS = [];

/** @param {number} status @param {string} head @returns {ResponseInit | null} null: refused */
function made(status, head) {
  try {
    return { status, headers: new Headers(pairs(head)) };
  } catch {
    // A header value the runtime refuses: the answer is the fallback.
    return null;
  }
}

/** @param {string} head @returns {[string, string][]} */
function pairs(head) {
  /** @type {[string, string][]} */
  const out = [];
  if (head === "") return out;
  const parts = head.split("\n");
  for (let i = 0; i + 1 < parts.length; i += 2) out.push([parts[i], parts[i + 1]]);
  return out;
}
