//! The `fetch` export: how a request enters the Worker.
//!
//! `#[event(fetch)]` would make this an async export, and every request, even one answered
//! without any I/O, would then wait for a microtask and go through a JS `Promise` and its
//! callbacks. Instead:
//! - the routes whose handler reads the body ([`routes::body_route`]) have it read in JS first
//!   (`platform/body_first.js`), never more than [`MAX_BODY`] + 1 bytes whether or not it has a
//!   `Content-Length`, together with the three headers those handlers read, and then
//!   [`after_body`] hands them on as an [`Incoming::PreRead`] (no `worker::Request` is built);
//! - [`respond`] runs the route table through [`eager::run`]: a cache hit is answered with a
//!   `Response` at once (built in one JS call, `crate::reply`), and only requests that wait for
//!   KV or IMS get a `Promise`.
//!
//! worker-build wires an exported `fetch` the same way whether or not the macro made it.

use crate::handlers::body::{Body, MAX_BODY};
use crate::incoming::{Incoming, PreRead, Sensitive};
use crate::platform::eager;
use crate::routes;
use ims_core::request_url;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::js_sys::{Function, Uint8Array};
use worker::worker_sys::{web_sys, Context as RawContext};
use worker::{Env, Request};

#[wasm_bindgen(module = "/src/platform/body_first.js")]
extern "C" {
    /// `request.arrayBuffer()`, then `next(request, env, ctx, route, bytes, authorization,
    /// content_type, origin)`; see `body_first.js`.
    #[wasm_bindgen(js_name = readBodyThen)]
    fn read_body_then(
        request: &web_sys::Request,
        env: &Env,
        ctx: &RawContext,
        route: u32,
        max: u32,
        next: &Function,
    ) -> JsValue;
}

/// What `body_first.js` calls: the request, its bindings and context, `route << 2 | outcome`
/// (the token route is an index into [`routes::BODY_ROUTES`]; the outcome says what became of
/// the body: [`READ`], [`TOO_LARGE`], or 2 when the read failed), the body (empty unless read),
/// and three header values.
type AfterBody = dyn Fn(
    web_sys::Request,
    Env,
    RawContext,
    u32,
    Uint8Array,
    Option<String>,
    Option<String>,
    Option<String>,
) -> JsValue;

/// The body was read (`body_first.js`).
const READ: u32 = 0;
/// The body was over [`MAX_BODY`]: not read, or read no further than one byte past it.
const TOO_LARGE: u32 = 1;

thread_local! {
    /// [`after_body`] as a JS function, made once per isolate: a closure per request would be
    /// a JS object (and a `FinalizationRegistry` entry) per request.
    static AFTER_BODY: Closure<AfterBody> = Closure::new(after_body);
}

/// The `fetch` handler: a `Response`, or a `Promise` of one.
#[wasm_bindgen]
pub fn fetch(req: web_sys::Request, env: Env, ctx: RawContext) -> JsValue {
    // Only a POST can be a route that reads the body: other methods skip the URL read here.
    if req.method() == "POST" {
        if let Some(route) = routes::body_route(request_url::path(&req.url())) {
            let max = u32::try_from(MAX_BODY).unwrap_or(u32::MAX);
            return AFTER_BODY.with(|next| {
                read_body_then(&req, &env, &ctx, route, max, next.as_ref().unchecked_ref())
            });
        }
    }
    respond(Incoming::Full(Request::from(req)), env, ctx, Body::Unread)
}

/// Continues a request once `body_first.js` has read its body (or left it).
#[allow(clippy::too_many_arguments)] // the JS call's arguments, one each
fn after_body(
    raw: web_sys::Request,
    env: Env,
    ctx: RawContext,
    state: u32,
    body: Uint8Array,
    authorization: Option<String>,
    content_type: Option<String>,
    origin: Option<String>,
) -> JsValue {
    let body = match state & 3 {
        READ => Body::Read(body.to_vec()),
        TOO_LARGE => Body::TooLarge,
        // 2: the read failed (the client went away or sent a broken body); and any outcome
        // this code does not know.
        _ => Body::Unreadable,
    };
    let path = routes::BODY_ROUTES
        .get((state >> 2) as usize)
        .copied()
        .unwrap_or_default();
    let head = PreRead {
        raw,
        path,
        authorization: authorization.map(Sensitive::new),
        content_type,
        origin,
    };
    respond(Incoming::PreRead(head), env, ctx, body)
}

/// Runs the route table: a `Response` when it needs no waiting, else a `Promise` of one.
fn respond(req: Incoming, env: Env, ctx: RawContext, body: Body) -> JsValue {
    let ctx = worker::Context::new(ctx);
    // The first poll is synchronous: one clock read serves all of it.
    let _turn = crate::platform::Turn::begin();
    eager::run(async move {
        let response = routes::dispatch(req, env, ctx, body).await;
        response.into_js().into()
    })
}
