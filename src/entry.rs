//! The `fetch` export: how a request enters the Worker.
//!
//! `#[event(fetch)]` would make this an async export, and every request, even one answered
//! without any I/O, would then wait for a microtask and go through a JS `Promise` and its
//! callbacks. Instead:
//! - the routes whose handler reads the body ([`routes::reads_body`]) have it read in JS first
//!   when its `Content-Length` is within the limit (`platform/body_first.js`), which then calls
//!   [`after_body`]; a streamed body is still read by the handler, after authentication;
//! - [`respond`] runs the route table through [`eager::run`]: a cache hit is answered with a
//!   `Response` at once, and only requests that wait for KV or IMS get a `Promise`.
//!
//! worker-build wires an exported `fetch` the same way whether or not the macro made it.

use crate::handlers::body::{Body, MAX_BODY};
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
    /// `request.arrayBuffer()`, then `next(request, env, ctx, bytes)`; see `body_first.js`.
    #[wasm_bindgen(js_name = readBodyThen)]
    fn read_body_then(
        request: &web_sys::Request,
        env: &Env,
        ctx: &RawContext,
        max: u32,
        next: &Function,
    ) -> JsValue;
}

/// What `body_first.js` calls: with the body, `null` (not read: too large) or `undefined` (the
/// read failed).
type AfterBody = dyn Fn(web_sys::Request, Env, RawContext, JsValue) -> JsValue;

thread_local! {
    /// [`after_body`] as a JS function, made once per isolate: a closure per request would be
    /// a JS object (and a `FinalizationRegistry` entry) per request.
    static AFTER_BODY: Closure<AfterBody> = Closure::new(after_body);
}

/// The `fetch` handler: a `Response`, or a `Promise` of one.
#[wasm_bindgen]
pub fn fetch(req: web_sys::Request, env: Env, ctx: RawContext) -> JsValue {
    // Only a POST can be a route that reads the body: other methods skip the URL read here.
    if req.method() == "POST" && routes::reads_body(request_url::path(&req.url())) {
        let max = u32::try_from(MAX_BODY).unwrap_or(u32::MAX);
        return AFTER_BODY
            .with(|next| read_body_then(&req, &env, &ctx, max, next.as_ref().unchecked_ref()));
    }
    respond(Request::from(req), env, ctx, Body::Unread)
}

/// Continues a request once `body_first.js` has read its body (or left it).
fn after_body(req: web_sys::Request, env: Env, ctx: RawContext, body: JsValue) -> JsValue {
    let body = if body.is_null() {
        Body::Unread
    } else {
        body.dyn_into::<Uint8Array>()
            .map_or(Body::Unreadable, |b| Body::Read(b.to_vec()))
    };
    respond(Request::from(req), env, ctx, body)
}

/// Runs the route table: a `Response` when it needs no waiting, else a `Promise` of one.
fn respond(req: Request, env: Env, ctx: RawContext, body: Body) -> JsValue {
    let ctx = worker::Context::new(ctx);
    eager::run(async move {
        let response = routes::dispatch(req, env, ctx, body).await;
        response.into_js().into()
    })
}
