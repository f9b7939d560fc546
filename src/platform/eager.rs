//! Running a request's future so that an answer that needs no waiting is returned at once.
//!
//! An async wasm-bindgen export (what `#[event(fetch)]` generates) hands its future to
//! `future_to_promise`, which polls it first from a microtask: even a response that is ready
//! straight away costs a JS `Promise`, its two callbacks and a `queueMicrotask` round trip. A
//! cache hit does no I/O once its body is read (see `body_first.js`), so [`run`] polls the future
//! once right away and returns the `Response` itself when it is done; only a future that really
//! waits (KV, IMS, the refresh coordinator) becomes a `Promise`.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use wasm_bindgen::JsValue;
use worker::wasm_bindgen_futures::future_to_promise;

/// The waker the future sees on every poll. Its first poll happens outside any executor, so a
/// leaf future may register this waker then and never again; the relay passes each wake-up on to
/// the executor that polls it from then on.
#[derive(Default)]
struct Relay(Mutex<Option<Waker>>);

impl Relay {
    fn set(&self, waker: &Waker) {
        if let Ok(mut current) = self.0.lock() {
            if !current.as_ref().is_some_and(|w| w.will_wake(waker)) {
                *current = Some(waker.clone());
            }
        }
    }
}

impl Wake for Relay {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Before the executor's first poll there is no one to wake: that poll polls the future
        // anyway.
        let target = self.0.lock().ok().and_then(|w| w.clone());
        if let Some(waker) = target {
            waker.wake();
        }
    }
}

/// Polls `future` once. Its output if it finished (a `Response`), otherwise a `Promise` of it.
pub fn run<F>(future: F) -> JsValue
where
    F: Future<Output = JsValue> + 'static,
{
    let relay = Arc::new(Relay::default());
    let waker = Waker::from(Arc::clone(&relay));
    let mut future: Pin<Box<F>> = Box::pin(future);
    if let Poll::Ready(value) = future.as_mut().poll(&mut Context::from_waker(&waker)) {
        return value;
    }
    let rest = std::future::poll_fn(move |cx| {
        relay.set(cx.waker());
        future
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .map(Ok)
    });
    future_to_promise(rest).into()
}
