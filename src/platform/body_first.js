// Reads a request's body in JS and then calls back into the Worker with it (src/entry.rs).
//
// Awaiting `request.arrayBuffer()` from Rust goes through wasm-bindgen's JsFuture: two
// closures registered with a FinalizationRegistry per await, and a wake-up through the
// microtask queue. A plain `.then` here costs one JS callback, and the handler it calls can
// answer at once (a cache hit needs nothing else to wait for).

/**
 * @param {Request} request the incoming request; its body is consumed
 * @param {object} env the Worker's bindings, handed on unchanged
 * @param {object} ctx the ExecutionContext, handed on unchanged
 * @param {number} max the largest body read here. Without a `Content-Length` of at most `max`
 *   the body is left unread and `next` gets `null`: the handler then answers 413 from the
 *   header, or reads a streamed body itself after authenticating the caller (so a caller without
 *   a key cannot make the Worker buffer more than `max` bytes)
 * @param {(request: Request, env: object, ctx: object, body: Uint8Array | null | undefined) => Response | Promise<Response>} next
 *   called with the body, `null` (not read), or `undefined` (the read failed)
 * @returns {Response | Promise<Response>}
 */
export function readBodyThen(request, env, ctx, max, next) {
  const declared = request.headers.get("content-length");
  if (declared === null || !(Number(declared) <= max)) {
    return next(request, env, ctx, null);
  }
  return request.arrayBuffer().then(
    (body) => next(request, env, ctx, new Uint8Array(body)),
    () => next(request, env, ctx, undefined),
  );
}
