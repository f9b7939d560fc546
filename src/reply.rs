//! The Worker's HTTP answers: status, headers and body, as plain Rust values. Handlers build a
//! [`Reply`]; the adapter (`crate::edge`) turns it into the runtime's `Response` in one JS call.

/// An HTTP answer of the Worker. Its `Debug` leaves the body out: a token's answer holds the
/// token.
#[derive(Clone, PartialEq, Eq)]
pub struct Reply {
    status: u16,
    /// The headers, as `name\nvalue` pairs joined by `\n` (a header value cannot hold a line
    /// break, so none is lost in the joining).
    head: String,
    /// False once a header with a value made for this answer was added (see [`Reply::header`]).
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
    /// A JSON answer: `body` serialized by serde_json.
    pub fn json(status: u16, body: &impl serde::Serialize) -> Self {
        // Serializing the broker's own answer types cannot fail: they are structs of strings,
        // numbers and booleans, with string keys.
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        Self::with_type(status, "application/json", bytes)
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

    /// True while every header is one of a fixed few (no value made for this answer): the
    /// adapter may then reuse one `Response` init for every such answer.
    pub fn fixed_headers(&self) -> bool {
        self.fixed
    }

    /// Status, headers (`name\nvalue` pairs joined by `\n`) and body.
    pub fn into_parts(self) -> (u16, String, Vec<u8>) {
        (self.status, self.head, self.body)
    }

    /// The answer as a `worker::Response` (for the Durable Object's `fetch`, which workers-rs
    /// calls).
    pub fn into_worker(self) -> worker::Result<worker::Response> {
        let headers = worker::Headers::new();
        let mut parts = self.head.split('\n');
        while let (Some(name), Some(value)) = (parts.next(), parts.next()) {
            headers.set(name, value)?;
        }
        Ok(worker::Response::from_bytes(self.body)?
            .with_status(self.status)
            .with_headers(headers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_joined_in_order() {
        let r = Reply::json(429, &serde_json::json!({}))
            .no_store()
            .header("retry-after", "7");
        assert_eq!(r.status(), 429);
        assert_eq!(
            r.head,
            "content-type\napplication/json\ncache-control\nno-store\nretry-after\n7"
        );
        assert_eq!(r.body, b"{}");
        assert!(!r.fixed_headers(), "a value made for this answer");
        assert!(Reply::json(200, &serde_json::json!({}))
            .no_store()
            .fixed_headers());
        let empty = Reply::empty(204);
        assert_eq!((empty.head.as_str(), empty.body.len()), ("", 0));
    }

    #[test]
    fn debug_leaves_the_body_out() {
        let r = Reply::json(200, &serde_json::json!({"access_token": "tok-123"})).no_store();
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
