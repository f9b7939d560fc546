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

/// Polls `future` once. Its output if it finished (a `Response`), otherwise a `Promise` of it.
pub fn run<F>(future: F) -> JsValue
where
    F: Future<Output = JsValue> + 'static,
{
    match poll_now(future) {
        Ok(value) => value,
        Err(rest) => future_to_promise(async move { Ok(rest.await) }).into(),
    }
}

/// Polls `future` once, outside any executor: its output, or the rest of it to hand to one.
fn poll_now<F: Future>(future: F) -> Result<F::Output, Relayed<F>> {
    let relay = Arc::new(Relay::default());
    let waker = Waker::from(Arc::clone(&relay));
    let mut future = Box::pin(future);
    match future.as_mut().poll(&mut Context::from_waker(&waker)) {
        Poll::Ready(value) => Ok(value),
        Poll::Pending => Err(Relayed {
            future,
            relay,
            waker,
        }),
    }
}

/// A future first polled by [`poll_now`]; every later poll goes through the same relay waker.
struct Relayed<F> {
    future: Pin<Box<F>>,
    relay: Arc<Relay>,
    waker: Waker,
}

impl<F: Future> Future for Relayed<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        this.relay.set(cx.waker());
        this.future
            .as_mut()
            .poll(&mut Context::from_waker(&this.waker))
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts its wake-ups: the executor's waker.
    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A leaf that keeps only the waker of its first poll, and is ready once `ready` is set.
    struct FirstWakerOnly {
        shared: Arc<Mutex<(bool, Option<Waker>)>>,
    }

    impl Future for FirstWakerOnly {
        type Output = &'static str;

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<&'static str> {
            let mut s = self.shared.lock().expect("lock");
            if s.0 {
                return Poll::Ready("done");
            }
            s.1.get_or_insert_with(|| cx.waker().clone());
            Poll::Pending
        }
    }

    #[test]
    fn a_future_that_needs_no_waiting_is_answered_at_once() {
        assert!(matches!(poll_now(async { 7 }), Ok(7)));
    }

    #[test]
    fn a_wake_up_registered_before_the_executor_reaches_the_executor() {
        let shared = Arc::new(Mutex::new((false, None)));
        let leaf = FirstWakerOnly {
            shared: Arc::clone(&shared),
        };
        let Err(mut rest) = poll_now(leaf) else {
            panic!("the leaf is not ready yet");
        };
        let executor = Arc::new(Count::default());
        let waker = Waker::from(Arc::clone(&executor));
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut rest).poll(&mut cx).is_pending());

        // The leaf wakes the waker it kept from the first poll, made before any executor.
        let first = {
            let mut s = shared.lock().expect("lock");
            s.0 = true;
            s.1.take().expect("the leaf kept a waker")
        };
        first.wake();
        assert_eq!(
            executor.0.load(Ordering::SeqCst),
            1,
            "the executor was woken"
        );
        assert_eq!(Pin::new(&mut rest).poll(&mut cx), Poll::Ready("done"));
    }
}
