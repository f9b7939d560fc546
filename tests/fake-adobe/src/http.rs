//! The request and response model the handlers work on, independent of the HTTP server crate:
//! [`crate::server`] converts hyper's requests into a [`Request`] (whole body read) and a
//! handler's [`Reply`] back into hyper's response, or into a closed connection.
//!
//! Keeping this model small and plain lets every handler be a synchronous function that unit
//! tests call directly, without a socket.

use percent_encoding::percent_decode_str;

use crate::form::well_formed_escapes;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// The content type of every JSON answer, as Adobe sends it.
pub const JSON_CONTENT_TYPE: &str = "application/json;charset=utf-8";

/// A request with its whole body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method, as sent (case-sensitive, e.g. `POST`).
    pub method: String,
    /// The target's path, without the query string.
    pub path: String,
    /// The raw query string after `?`, if the target had a `?` at all (even an empty one).
    pub query: Option<String>,
    /// Headers; names lowercased, values trimmed; values of one name in the order sent.
    pub headers: Vec<(String, String)>,
    /// The decoded body (chunked bodies are de-chunked).
    pub body: Vec<u8>,
}

impl Request {
    /// Builds a request by hand (for tests and internal use).
    pub fn new(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Request {
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
            None => (target.to_owned(), None),
        };
        Request {
            method: method.to_owned(),
            path,
            query,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), (*v).to_owned()))
                .collect(),
            body: body.to_vec(),
        }
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (case-insensitive), in order.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Splits a request path into its percent-decoded segments (`/a/b%2Fc` → `["a", "b/c"]`;
/// `/` → `[]`). `+` stays a `+`. `None` if a segment is empty (`//`, a trailing `/`), has a
/// malformed escape or does not decode to UTF-8: such paths match no route.
pub fn path_segments(path: &str) -> Option<Vec<String>> {
    let rest = path.strip_prefix('/')?;
    if rest.is_empty() {
        return Some(Vec::new());
    }
    rest.split('/')
        .map(|seg| {
            if seg.is_empty() || !well_formed_escapes(seg.as_bytes()) {
                return None;
            }
            percent_decode_str(seg)
                .decode_utf8()
                .ok()
                .map(|s| s.into_owned())
        })
        .collect()
}

/// A response to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers in order (`Content-Length` and `Connection` are added when writing).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// An empty response with `status`.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A JSON response whose body is the already-rendered `body`.
    pub fn json(status: u16, body: impl Into<String>) -> Response {
        Response::new(status).with_body(JSON_CONTENT_TYPE, body.into().into_bytes())
    }

    /// A JSON response rendering `value` (a `serde_json::Value` or a `Serialize` struct, whose
    /// fields keep their declared order).
    pub fn json_value(status: u16, value: &impl serde::Serialize) -> Response {
        // Serializing plain structs and `Value`s into a String cannot fail.
        Response::json(status, serde_json::to_string(value).unwrap_or_default())
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Sets the body and its `Content-Type`.
    pub fn with_body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        self.headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
        self.headers
            .push(("Content-Type".to_owned(), content_type.to_owned()));
        self.body = body.into();
        self
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What a handler wants done with the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Write this response.
    Send(Response),
    /// Close the connection without writing anything (fault injection).
    Drop,
}

impl Reply {
    /// This reply, after `ms` milliseconds (a `slow` fault): the handler's state lock is
    /// released before the wait, so other requests go on meanwhile.
    pub fn after(self, ms: u64) -> Self {
        if ms > 0 {
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
        self
    }
}

/// The standard reason phrase for `status` (a generic one for unknown codes).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        s if s < 300 => "OK",
        s if s < 500 => "Client Error",
        _ => "Server Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_decode() {
        assert_eq!(path_segments("/"), Some(vec![]));
        assert_eq!(
            path_segments("/a/b%2Fc/d+e"),
            Some(vec!["a".to_owned(), "b/c".to_owned(), "d+e".to_owned()])
        );
        assert_eq!(path_segments("/a/"), None);
        assert_eq!(path_segments("/a//b"), None);
        assert_eq!(path_segments("/a%zz"), None);
        assert_eq!(path_segments("/a%2"), None);
        assert_eq!(path_segments("/a%ff"), None);
        assert_eq!(path_segments("a"), None);
    }

    #[test]
    fn requests_by_hand() {
        let r = Request::new("GET", "/a?", &[("X-One", "1"), ("x-one", "2")], b"");
        assert_eq!((r.path.as_str(), r.query.as_deref()), ("/a", Some("")));
        assert_eq!(Request::new("GET", "/a", &[], b"").query, None);
        assert_eq!(r.header("X-ONE"), Some("1"));
        assert_eq!(r.header_values("x-one").collect::<Vec<_>>(), ["1", "2"]);
        let resp = Response::json(201, "{}").with_header("Retry-After", "3");
        assert_eq!(resp.header("content-type"), Some(JSON_CONTENT_TYPE));
        assert_eq!(resp.header("retry-after"), Some("3"));
    }
}
