// Reads a request's body in JS, never more than a cap, and then calls back into the Worker with
// it (src/entry.rs).
//
// Awaiting `request.arrayBuffer()` from Rust goes through wasm-bindgen's JsFuture: two
// closures registered with a FinalizationRegistry per await, and a wake-up through the
// microtask queue. A plain `.then` here costs one JS callback, and the handler it calls can
// answer at once (a cache hit needs nothing else to wait for). The headers a token route reads
// are read here too, so the Worker makes no call back into JS for them (src/incoming.rs).
//
// The cap holds for every body, before anyone is authenticated: a `Content-Length` over it is
// refused without reading; a body without one (chunked) is read into a buffer of `max + 1`
// bytes and the read stops as soon as that buffer is full, so no request makes the Worker hold
// more than `max + 1` bytes of body.

/**
 * @param {Request} request the incoming request; its body is consumed
 * @param {object} env the Worker's bindings, handed on unchanged
 * @param {object} ctx the ExecutionContext, handed on unchanged
 * @param {number} route which token route, handed on (in `state`)
 * @param {number} max the largest body accepted
 * @param {(request: Request, env: object, ctx: object, state: number, body: Uint8Array,
 *   authorization: string | null, contentType: string | null, origin: string | null) => Response | Promise<Response>} next
 *   called with `route << 2 | outcome`, where the outcome says what became of the body (`READ`,
 *   `TOO_LARGE`: over `max`, `FAILED`: the read failed), the body (empty unless read), and the
 *   values of the `Authorization`, `Content-Type` and `Origin` headers
 * @returns {Response | Promise<Response>}
 */
export function readBodyThen(request, env, ctx, route, max, next) {
  const headers = request.headers;
  const authorization = headers.get("authorization");
  const contentType = headers.get("content-type");
  const origin = headers.get("origin");
  const done = (outcome, body) =>
    next(request, env, ctx, (route << 2) | outcome, body, authorization, contentType, origin);
  const failed = () => done(FAILED, NOTHING);
  const declared = headers.get("content-length");
  if (declared !== null) {
    if (!(Number(declared) <= max)) return done(TOO_LARGE, NOTHING);
    // HTTP framing ends the body at its declared length.
    return request.arrayBuffer().then((body) => done(READ, new Uint8Array(body)), failed);
  }
  if (request.body === null) return done(READ, NOTHING);
  return readCapped(request.body, max).then(
    (body) => (body === null ? done(TOO_LARGE, NOTHING) : done(READ, body)),
    failed,
  );
}

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

// What became of the body; the same numbers as in `after_body` (src/entry.rs).
const READ = 0;
const TOO_LARGE = 1;
const FAILED = 2;
const NOTHING = new Uint8Array(0);
