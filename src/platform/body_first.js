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
 * @param {number} route which token route, handed on unchanged
 * @param {number} max the largest body read here. Without a `Content-Length` of at most `max`
 *   the body is left unread and `next` gets `null`: the handler then answers 413 from the
 *   header, or reads a streamed body itself after authenticating the caller (so a caller without
 *   a key cannot make the Worker buffer more than `max` bytes)
 * @param {(request: Request, env: object, ctx: object, route: number, body: Uint8Array | null | undefined,
 *   authorization: string | null, contentType: string | null, origin: string | null) => Response | Promise<Response>} next
 *   called with the body, `null` (not read), or `undefined` (the read failed), and the values of
 *   the `Authorization`, `Content-Type` and `Origin` headers
 * @returns {Response | Promise<Response>}
 */
export function readBodyThen(request, env, ctx, route, max, next) {
  const headers = request.headers;
  const declared = headers.get("content-length");
  if (declared === null || !(Number(declared) <= max)) {
    return next(request, env, ctx, route, null, null, null, null);
  }
  const authorization = headers.get("authorization");
  const contentType = headers.get("content-type");
  const origin = headers.get("origin");
  return request.arrayBuffer().then(
    (body) => next(request, env, ctx, route, new Uint8Array(body), authorization, contentType, origin),
    () => next(request, env, ctx, route, undefined, authorization, contentType, origin),
  );
}
