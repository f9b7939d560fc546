//! What keeps code off a new isolate's first request (speed only; BENCHMARKS.md, start-up).
//!
//! V8 compiles Wasm lazily, one function at a time at its first call, with its baseline
//! compiler, and code compiled while the isolate starts is flushed before the first request. So
//! a new isolate's first request pays for compiling every function it is the first to run: at
//! about 70 µs per KB of Wasm on the benchmark machine, that was most of its time. Two things
//! cut it:
//! - [`env`]: the bindings at global scope, so that `crate::isolate` parses the settings while
//!   the isolate starts and keeps the results (not the code: that would be flushed);
//! - [`boxed`]: each route's handler future behind a pointer, so that the router's own state
//!   machine does not inline every handler, and a request compiles only the handler it runs.
//!   Not `POST /v1/token`'s: a box per request slowed the cache-hit path by more than it saved
//!   (BENCHMARKS.md), and a new isolate's first request is that route anyway.

use std::future::Future;
use std::pin::Pin;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::Env;

#[wasm_bindgen(module = "/src/edge/shim.js")]
extern "C" {
    /// The Worker's bindings at global scope (`import { env } from "cloudflare:workers"`).
    #[wasm_bindgen(js_name = startupEnv)]
    fn startup_env() -> JsValue;
}

/// The bindings, at global scope (while the isolate starts), when the runtime provides them
/// there. They are the same as a request's and cannot change under a running isolate.
pub fn env() -> Option<Env> {
    let env = startup_env();
    env.is_object().then(|| env.unchecked_into())
}

/// `future` behind a pointer: its code stays out of the caller's state machine.
pub fn boxed<'a, T>(future: impl Future<Output = T> + 'a) -> Pin<Box<dyn Future<Output = T> + 'a>> {
    Box::pin(future)
}
