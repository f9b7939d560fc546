// Reads a request's body in JS and then calls back into the Worker with it (src/entry.rs).
//
// Awaiting `request.arrayBuffer()` from Rust goes through wasm-bindgen's JsFuture: two
// closures registered with a FinalizationRegistry per await, and a wake-up through the
// microtask queue. A plain `.then` here costs one JS callback, and the handler it calls can
// answer at once (a cache hit needs nothing else to wait for). The headers a token route reads
// are read here too, so the Worker makes no call back into JS for them (src/incoming.rs).

/**
 * @param {Request} request the incoming request; its body is consumed
 * @param {object} env the Worker's bindings, handed on unchanged
 * @param {object} ctx the ExecutionContext, handed on unchanged
 * @param {number} route which token route, handed on (in `state`)
 * @param {number} max the largest body read here. Without a `Content-Length` of at most `max`
 *   the body is left unread and `next` gets `null`: the handler then answers 413 from the
 *   header, or reads a streamed body itself after authenticating the caller (so a caller without
 *   a key cannot make the Worker buffer more than `max` bytes)
 * @param {(request: Request, env: object, ctx: object, state: number, body: Uint8Array,
 *   authorization: string | null, contentType: string | null, origin: string | null) => Response | Promise<Response>} next
 *   called with `route << 2 | outcome`, where the outcome says what became of the body (`READ`,
 *   `LEFT`: not read, `FAILED`: the read failed), the body (empty unless read), and the values of
 *   the `Authorization`, `Content-Type` and `Origin` headers
 * @returns {Response | Promise<Response>}
 */
export function readBodyThen(request, env, ctx, route, max, next) {
  const headers = request.headers;
  const declared = headers.get("content-length");
  if (declared === null || !(Number(declared) <= max)) {
    return next(request, env, ctx, (route << 2) | LEFT, NOTHING, null, null, null);
  }
  const authorization = headers.get("authorization");
  const contentType = headers.get("content-type");
  const origin = headers.get("origin");
  return request.arrayBuffer().then(
    (body) => next(request, env, ctx, (route << 2) | READ, new Uint8Array(body), authorization, contentType, origin),
    () => next(request, env, ctx, (route << 2) | FAILED, NOTHING, authorization, contentType, origin),
  );
}

// What became of the body; the same numbers as in `after_body` (src/entry.rs).
const READ = 0;
const LEFT = 1;
const FAILED = 2;
const NOTHING = new Uint8Array(0);
