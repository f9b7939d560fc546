//! The Worker's HTTP answers: status, body and headers, turned into a JS `Response` in one call
//! (`platform/respond.js`) when the request is done.
//!
//! Handlers build a [`Reply`] rather than a `worker::Response`: workers-rs builds its `Headers`
//! header by header and copies the body through a `Uint8Array` it makes first, a call into JS
//! each, which on a cache hit cost more than the broker's own work (see BENCHMARKS.md).

use std::cell::RefCell;
use wasm_bindgen::prelude::*;
use worker::worker_sys::web_sys;

#[wasm_bindgen(module = "/src/platform/respond.js")]
extern "C" {
    /// `new Response(body, {status, headers})`; see `respond.js`.
    #[wasm_bindgen(js_name = respond)]
    fn respond_js(status: u16, head: &str, body: &[u8]) -> web_sys::Response;
    /// The same, keeping the init object as fixed answer `id`.
    #[wasm_bindgen(js_name = respondFirst)]
    fn respond_first_js(id: u32, status: u16, head: &str, body: &[u8]) -> web_sys::Response;
    /// The same as the fixed answer `id` kept by `respondFirst`, with this body.
    #[wasm_bindgen(js_name = respondAgain)]
    fn respond_again_js(id: u32, body: &[u8]) -> web_sys::Response;
}

thread_local! {
    /// The status and headers of every fixed answer sent so far; the index is its id on the JS
    /// side. Few: the headers are all fixed strings.
    static FIXED: RefCell<Vec<(u16, String)>> = const { RefCell::new(Vec::new()) };
}

/// An HTTP answer of the Worker. Its `Debug` leaves the body out: a token's answer holds the
/// token.
#[derive(Clone, PartialEq, Eq)]
pub struct Reply {
    status: u16,
    /// The headers, as `name\nvalue` pairs joined by `\n` (a header value cannot hold a line
    /// break, so none is lost in the joining).
    head: String,
    /// True while every header is one of a fixed few (no value made per request): the JS side
    /// then keeps the init object of this status and head, and the head is sent only once.
    fixed: bool,
    body: Vec<u8>,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("head", &self.head)
            .field(
                "body",
                &format_args!("[{} bytes, redacted]", self.body.len()),
            )
            .finish()
    }
}

impl Reply {
    /// A JSON answer: `body` is JSON text (e.g. from `ims_core::json::Obj`).
    pub fn json(status: u16, body: String) -> Self {
        Self::with_type(status, "application/json", body.into_bytes())
    }

    /// An answer with the given `content-type` and body.
    pub fn with_type(status: u16, content_type: &'static str, body: Vec<u8>) -> Self {
        Self::empty(status)
            .static_header("content-type", content_type)
            .with_body(body)
    }

    /// An answer without a body or headers (e.g. 204).
    pub fn empty(status: u16) -> Self {
        Self {
            status,
            head: String::new(),
            fixed: true,
            body: Vec::new(),
        }
    }

    fn with_body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }

    /// The same answer with `Cache-Control: no-store`: tokens and admin views must not be kept
    /// by any cache.
    pub fn no_store(self) -> Self {
        self.static_header("cache-control", "no-store")
    }

    /// The same answer with one more header whose value is always the same.
    pub fn static_header(mut self, name: &'static str, value: &'static str) -> Self {
        self.push(name, value);
        self
    }

    /// The same answer with one more header. A value the runtime refuses (one with a line
    /// break, for one) turns the whole answer into a bare 500 `internal_error`.
    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.fixed = false;
        if value.contains(['\n', '\r']) {
            // Split at the joining, it would become a header of its own: send a value the
            // runtime refuses, as it would refuse this one.
            self.push(name, "\0");
        } else {
            self.push(name, value);
        }
        self
    }

    fn push(&mut self, name: &str, value: &str) {
        if !self.head.is_empty() {
            self.head.push('\n');
        }
        self.head.push_str(name);
        self.head.push('\n');
        self.head.push_str(value);
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The JS `Response`.
    pub fn into_js(self) -> web_sys::Response {
        if !self.fixed {
            return respond_js(self.status, &self.head, &self.body);
        }
        let (id, first) = FIXED.with_borrow_mut(|seen| {
            match seen
                .iter()
                .position(|(s, h)| *s == self.status && *h == self.head)
            {
                Some(i) => (i, false),
                None => {
                    seen.push((self.status, self.head.clone()));
                    (seen.len() - 1, true)
                }
            }
        });
        let id = u32::try_from(id).unwrap_or(u32::MAX);
        if first {
            respond_first_js(id, self.status, &self.head, &self.body)
        } else {
            respond_again_js(id, &self.body)
        }
    }

    /// The answer as a `worker::Response` (for the Durable Object's `fetch`, which workers-rs
    /// calls).
    pub fn into_worker(self) -> worker::Response {
        self.into_js().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_joined_in_order() {
        let r = Reply::json(429, "{}".into())
            .no_store()
            .header("retry-after", "7");
        assert_eq!(r.status(), 429);
        assert_eq!(
            r.head,
            "content-type\napplication/json\ncache-control\nno-store\nretry-after\n7"
        );
        assert!(
            !r.fixed,
            "a value made per request is not kept by the JS side"
        );
        assert_eq!(r.body, b"{}");
        let fixed = Reply::json(200, "{}".into()).no_store();
        assert!(fixed.fixed);
        let empty = Reply::empty(204);
        assert_eq!((empty.head.as_str(), empty.body.len()), ("", 0));
    }

    #[test]
    fn debug_leaves_the_body_out() {
        let r = Reply::json(200, r#"{"access_token":"tok-123"}"#.into()).no_store();
        let shown = format!("{r:?}");
        assert!(!shown.contains("tok-123"), "{shown}");
        assert!(
            shown.contains("200") && shown.contains("no-store"),
            "{shown}"
        );
    }

    #[test]
    fn a_value_with_a_line_break_cannot_become_a_header_of_its_own() {
        let r = Reply::empty(502).header("x-debug-id", "a\nset-cookie\nb");
        assert_eq!(r.head, "x-debug-id\n\0");
    }
}
