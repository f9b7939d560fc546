//! The adapter between the Workers runtime and the broker: the `fetch` export.
//!
//! A request goes through here once, in this order:
//! 1. `shim.js` reads the method, the URL, the headers handlers use (`Authorization`,
//!    `Content-Type`, `Origin`, `cf-ray`, `Cf-Access-Jwt-Assertion`) and the body, never more than [`MAX_BODY`] + 1 bytes
//!    whether or not it has a `Content-Length`, and calls [`after_read`] with them;
//! 2. [`after_read`] decides the route from the path ([`Route::of`], the only place) and builds
//!    the plain [`Request`] every handler takes;
//! 3. `crate::routes::dispatch` runs the handler and returns a `Reply`, which `shim.js` turns
//!    into the runtime's `Response` in one call.
//!
//! The answer is run through [`eager::run`]: a request that needs no waiting (a cache hit) is
//! answered with a `Response` at once, and only one that waits for KV or IMS gets a `Promise`.
//! worker-build wires an exported `fetch` the same way whether or not `#[event(fetch)]` made it.

use crate::isolate::Isolate;
use crate::platform::eager;
use crate::reply::Reply;
use crate::request::{Body, Request, Route, Sensitive, MAX_BODY};
use crate::routes;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::js_sys::{Function, Uint8Array};
use worker::worker_sys::{web_sys, Context as RawContext};
use worker::Env;

#[wasm_bindgen(module = "/src/edge/shim.js")]
extern "C" {
    /// Reads the request, then calls `next`; see `shim.js`.
    #[wasm_bindgen(js_name = readRequest)]
    fn read_request(
        request: &web_sys::Request,
        env: &Env,
        ctx: &RawContext,
        max: u32,
        next: &Function,
    ) -> JsValue;

    /// `new Response(body, {status, headers})`; see `shim.js`.
    fn respond(status: u16, head: &str, body: &[u8]) -> web_sys::Response;

    /// The same for fixed answer `id`, whose status and head `shim.js` keeps from its first time.
    #[wasm_bindgen(js_name = respondKept)]
    fn respond_kept(id: u32, status: u16, head: &str, body: &[u8]) -> web_sys::Response;
}

/// What `shim.js` calls: the bindings and context, what became of the body ([`READ`],
/// [`TOO_LARGE`], or 2 when the read failed), the body (empty unless read), the method, the URL
/// and the five header values (see [`Headers::of`]).
type AfterRead = dyn Fn(Env, RawContext, u32, Uint8Array, String, String, String) -> JsValue;

/// The body was read.
const READ: u32 = 0;
/// The body was over [`MAX_BODY`]: not read, or read no further than one byte past it.
const TOO_LARGE: u32 = 1;

/// The `fetch` handler: a `Response`, or a `Promise` of one.
#[wasm_bindgen]
pub fn fetch(req: web_sys::Request, env: Env, ctx: RawContext) -> JsValue {
    let isolate = Isolate::current();
    // One JS function per isolate: a closure per request would be a JS object (and a
    // `FinalizationRegistry` entry) per request.
    let next = isolate.entry_next.get_or_init(|| {
        Closure::<AfterRead>::new(after_read)
            .into_js_value()
            .unchecked_into()
    });
    let max = u32::try_from(MAX_BODY).unwrap_or(u32::MAX);
    read_request(&req, &env, &ctx, max, next)
}

/// Continues a request once `shim.js` has read it.
fn after_read(
    env: Env,
    ctx: RawContext,
    outcome: u32,
    body: Uint8Array,
    method: String,
    url: String,
    headers: String,
) -> JsValue {
    let body = match outcome {
        READ => Body::Read(body.to_vec()),
        TOO_LARGE => Body::TooLarge,
        // 2: the read failed (the client went away or sent a broken body); and any outcome
        // this code does not know.
        _ => Body::Unreadable,
    };
    let [authorization, content_type, origin, ray, access_assertion] = Headers::of(&headers).0;
    let request = Request {
        route: Route::of(ims_core::request_url::path(&url)),
        method,
        url,
        authorization: authorization.map(Sensitive::new),
        access_assertion: access_assertion.map(Sensitive::new),
        content_type,
        origin,
        ray,
        body,
    };
    let ctx = worker::Context::new(ctx);
    eager::run(async move {
        let reply = routes::dispatch(request, env, ctx).await;
        to_response(reply).into()
    })
}

/// The values of `Authorization`, `Content-Type`, `Origin`, `cf-ray` and
/// `Cf-Access-Jwt-Assertion`, as `shim.js` sends them: each `=value` or empty (absent), joined
/// by `\n`, which no header value can hold.
struct Headers([Option<String>; 5]);

impl Headers {
    fn of(joined: &str) -> Self {
        let mut parts = joined.split('\n');
        Self(std::array::from_fn(|_| {
            parts
                .next()
                .and_then(|part| part.strip_prefix('='))
                .map(str::to_owned)
        }))
    }
}

/// The runtime's `Response` for a reply. An answer whose headers are all fixed ones gets a
/// number per status and head (kept in the isolate's state), so that its init is made once.
fn to_response(reply: Reply) -> web_sys::Response {
    let fixed = reply.fixed_headers();
    let (status, head, body) = reply.into_parts();
    if !fixed {
        return respond(status, &head, &body);
    }
    let isolate = Isolate::current();
    let mut answers = isolate.fixed_answers.borrow_mut();
    let (id, first) = match answers.iter().position(|(s, h)| *s == status && *h == head) {
        Some(id) => (id, false),
        None => {
            answers.push((status, head.clone()));
            (answers.len() - 1, true)
        }
    };
    let id = u32::try_from(id).unwrap_or(u32::MAX);
    respond_kept(id, status, if first { &head } else { "" }, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_are_read_back_present_empty_or_absent() {
        let [authorization, content_type, origin, ray, access] =
            Headers::of("=Bearer k\n\n=\n=a=b\n=eyJ.a.b").0;
        assert_eq!(authorization.as_deref(), Some("Bearer k"));
        assert_eq!(content_type, None);
        assert_eq!(origin.as_deref(), Some(""), "sent, but empty");
        assert_eq!(ray.as_deref(), Some("a=b"));
        assert_eq!(access.as_deref(), Some("eyJ.a.b"));
        assert_eq!(Headers::of("").0, [None, None, None, None, None]);
    }
}
