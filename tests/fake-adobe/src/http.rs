//! Minimal HTTP/1.1 server-side message handling: just enough for the fake.
//!
//! Supported: origin-form request targets, `Content-Length` and `chunked` request bodies,
//! `Expect: 100-continue`, keep-alive (HTTP/1.1 default, `Connection: close` honoured; HTTP/1.0
//! always closes). Responses always carry an explicit `Content-Length` (except 1xx/204/304,
//! which have no body).

use std::io::{self, BufRead, ErrorKind};

/// Largest request line plus headers accepted, in bytes.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Largest number of request header lines accepted.
pub const MAX_HEADERS: usize = 100;
/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// The content type of every JSON answer, as Adobe sends it.
pub const JSON_CONTENT_TYPE: &str = "application/json;charset=utf-8";

/// A parsed request with its whole body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method, as sent (case-sensitive, e.g. `POST`).
    pub method: String,
    /// The target's path, without the query string.
    pub path: String,
    /// The raw query string after `?`, if the target had a `?` at all (even an empty one).
    pub query: Option<String>,
    /// The `x` of `HTTP/1.x`.
    pub minor_version: u8,
    /// Headers in order; names lowercased, values trimmed.
    pub headers: Vec<(String, String)>,
    /// The decoded body (chunked bodies are de-chunked).
    pub body: Vec<u8>,
}

impl Request {
    /// Builds a request by hand (for tests and internal use).
    pub fn new(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Request {
        let (path, query) = split_target(target);
        Request {
            method: method.to_owned(),
            path,
            query,
            minor_version: 1,
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

    fn connection_has(&self, token: &str) -> bool {
        self.header_values("connection")
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// Whether the connection may stay open after answering this request.
    pub fn keep_alive(&self) -> bool {
        self.minor_version >= 1 && !self.connection_has("close")
    }
}

fn split_target(target: &str) -> (String, Option<String>) {
    match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (target.to_owned(), None),
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
            if seg.is_empty() {
                return None;
            }
            let raw = seg.as_bytes();
            let mut out = Vec::with_capacity(raw.len());
            let mut i = 0;
            while i < raw.len() {
                if raw[i] == b'%' {
                    let hex = raw.get(i + 1..i + 3)?;
                    let hex = std::str::from_utf8(hex).ok()?;
                    out.push(u8::from_str_radix(hex, 16).ok()?);
                    i += 3;
                } else {
                    out.push(raw[i]);
                    i += 1;
                }
            }
            String::from_utf8(out).ok()
        })
        .collect()
}

/// Why no request could be read.
#[derive(Debug)]
pub enum ReadError {
    /// The socket failed or closed mid-request (also read timeouts): just close.
    Io(io::Error),
    /// The request is not acceptable: answer `status` with `message`, then close.
    Reject {
        /// HTTP status to answer with (400, 413, 431, 501, 505).
        status: u16,
        /// Short explanation for the error body.
        message: &'static str,
    },
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

fn reject(status: u16, message: &'static str) -> ReadError {
    ReadError::Reject { status, message }
}

/// Reads one line (up to `\n`, CR/LF stripped), charging its length to `budget`.
/// `Ok(None)` means a clean end of stream before any byte of the line.
fn read_line<R: BufRead>(r: &mut R, budget: &mut usize) -> Result<Option<Vec<u8>>, ReadError> {
    let mut line = Vec::new();
    loop {
        let buf = match r.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        if buf.is_empty() {
            if line.is_empty() {
                return Ok(None);
            }
            return Err(io::Error::from(ErrorKind::UnexpectedEof).into());
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if take > *budget {
            return Err(reject(431, "request head too large"));
        }
        *budget -= take;
        line.extend_from_slice(&buf[..take]);
        r.consume(take);
        if done {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(Some(line));
        }
    }
}

enum BodyKind {
    Length(usize),
    Chunked,
}

fn body_kind(req: &Request) -> Result<BodyKind, ReadError> {
    let codings: Vec<String> = req
        .header_values("transfer-encoding")
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    let has_length = req.header("content-length").is_some();
    if !codings.is_empty() {
        if has_length {
            return Err(reject(
                400,
                "both Content-Length and Transfer-Encoding present",
            ));
        }
        if codings.len() == 1 && codings[0] == "chunked" {
            return Ok(BodyKind::Chunked);
        }
        return Err(reject(501, "unsupported Transfer-Encoding"));
    }
    let mut length: Option<usize> = None;
    for part in req
        .header_values("content-length")
        .flat_map(|v| v.split(','))
    {
        let part = part.trim();
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(reject(400, "invalid Content-Length"));
        }
        let n: usize = part
            .parse()
            .map_err(|_| reject(413, "request body too large"))?;
        if length.is_some_and(|l| l != n) {
            return Err(reject(400, "conflicting Content-Length values"));
        }
        length = Some(n);
    }
    let n = length.unwrap_or(0);
    if n > MAX_BODY_BYTES {
        return Err(reject(413, "request body too large"));
    }
    Ok(BodyKind::Length(n))
}

fn read_chunked<R: BufRead>(r: &mut R) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    let mut budget = MAX_HEAD_BYTES;
    let eof = || ReadError::Io(io::Error::from(ErrorKind::UnexpectedEof));
    loop {
        let line = read_line(r, &mut budget)?.ok_or_else(eof)?;
        let size_field = line.split(|&b| b == b';').next().unwrap_or(&[]);
        let size_str = std::str::from_utf8(size_field)
            .map_err(|_| reject(400, "invalid chunk size"))?
            .trim();
        if size_str.is_empty() || !size_str.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(reject(400, "invalid chunk size"));
        }
        let size = usize::from_str_radix(size_str, 16)
            .map_err(|_| reject(413, "request body too large"))?;
        if size == 0 {
            loop {
                let trailer = read_line(r, &mut budget)?.ok_or_else(eof)?;
                if trailer.is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        if start.saturating_add(size) > MAX_BODY_BYTES {
            return Err(reject(413, "request body too large"));
        }
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        match read_line(r, &mut budget)? {
            Some(l) if l.is_empty() => {}
            _ => return Err(reject(400, "malformed chunk")),
        }
    }
}

/// Reads one request, body included.
///
/// `Ok(None)` is a clean close before a new request. `send_continue` is called (to write
/// `100 Continue`) when the client sent `Expect: 100-continue` and a body is expected.
pub fn read_request<R: BufRead>(
    r: &mut R,
    mut send_continue: impl FnMut() -> io::Result<()>,
) -> Result<Option<Request>, ReadError> {
    let mut budget = MAX_HEAD_BYTES;
    let line = loop {
        match read_line(r, &mut budget)? {
            None => return Ok(None),
            Some(l) if l.is_empty() => continue,
            Some(l) => break l,
        }
    };
    let line = String::from_utf8(line).map_err(|_| reject(400, "malformed request line"))?;
    let mut parts = line.split(' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v), None) if !m.is_empty() && !t.is_empty() => (m, t, v),
        _ => return Err(reject(400, "malformed request line")),
    };
    let minor_version = match version {
        "HTTP/1.1" => 1,
        "HTTP/1.0" => 0,
        _ => return Err(reject(505, "unsupported HTTP version")),
    };
    if !target.starts_with('/') {
        return Err(reject(400, "request target must be a path"));
    }
    let mut headers = Vec::new();
    loop {
        let Some(line) = read_line(r, &mut budget)? else {
            return Err(io::Error::from(ErrorKind::UnexpectedEof).into());
        };
        if line.is_empty() {
            break;
        }
        if headers.len() >= MAX_HEADERS {
            return Err(reject(431, "too many headers"));
        }
        let line = String::from_utf8(line).map_err(|_| reject(400, "malformed header"))?;
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| reject(400, "malformed header"))?;
        if name.is_empty() || name.bytes().any(|b| b == b' ' || b == b'\t') {
            return Err(reject(400, "malformed header"));
        }
        headers.push((
            name.to_ascii_lowercase(),
            value.trim_matches([' ', '\t']).to_owned(),
        ));
    }
    let (path, query) = split_target(target);
    let mut req = Request {
        method: method.to_owned(),
        path,
        query,
        minor_version,
        headers,
        body: Vec::new(),
    };
    let kind = body_kind(&req)?;
    let expects_body = !matches!(kind, BodyKind::Length(0));
    let wants_continue = req
        .header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    if expects_body && wants_continue && minor_version >= 1 {
        send_continue()?;
    }
    req.body = match kind {
        BodyKind::Length(n) => {
            let mut body = vec![0u8; n];
            r.read_exact(&mut body)?;
            body
        }
        BodyKind::Chunked => read_chunked(r)?,
    };
    Ok(Some(req))
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

    /// Serializes the response; `keep_alive` selects the `Connection` header.
    pub fn to_bytes(&self, keep_alive: bool) -> Vec<u8> {
        let bodyless = self.status < 200 || self.status == 204 || self.status == 304;
        let mut head = format!(
            "HTTP/1.1 {} {}\r\n",
            self.status,
            reason_phrase(self.status)
        );
        for (name, value) in &self.headers {
            if name.eq_ignore_ascii_case("content-length")
                || name.eq_ignore_ascii_case("connection")
            {
                continue;
            }
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if !bodyless {
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        head.push_str(if keep_alive {
            "Connection: keep-alive\r\n\r\n"
        } else {
            "Connection: close\r\n\r\n"
        });
        let mut out = head.into_bytes();
        if !bodyless {
            out.extend_from_slice(&self.body);
        }
        out
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
    use std::io::Cursor;

    fn read(raw: &str) -> (Result<Option<Request>, ReadError>, usize) {
        let mut cur = Cursor::new(raw.as_bytes().to_vec());
        let mut continues = 0;
        let res = read_request(&mut cur, || {
            continues += 1;
            Ok(())
        });
        (res, continues)
    }

    fn ok(raw: &str) -> Request {
        match read(raw).0 {
            Ok(Some(r)) => r,
            other => panic!("expected a request, got {other:?}"),
        }
    }

    fn rejected(raw: &str) -> u16 {
        match read(raw).0 {
            Err(ReadError::Reject { status, .. }) => status,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn parses_content_length_request() {
        let r = ok("POST /ims/token/v3?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type:  text/plain \r\nContent-Length: 5\r\n\r\nhelloEXTRA");
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/ims/token/v3");
        assert_eq!(r.query.as_deref(), Some("x=1"));
        assert_eq!(r.header("CONTENT-TYPE"), Some("text/plain"));
        assert_eq!(r.body, b"hello");
        assert!(r.keep_alive());
    }

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
    fn empty_query_is_still_a_query() {
        assert_eq!(ok("GET /a? HTTP/1.1\r\n\r\n").query.as_deref(), Some(""));
        assert_eq!(ok("GET /a HTTP/1.1\r\n\r\n").query, None);
    }

    #[test]
    fn parses_chunked_body_and_expect_continue() {
        let raw = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n4;ext=1\r\nabcd\r\n2\r\nef\r\n0\r\nTrailer: x\r\n\r\n";
        let (res, continues) = read(raw);
        match res {
            Ok(Some(r)) => assert_eq!(r.body, b"abcdef"),
            other => panic!("{other:?}"),
        }
        assert_eq!(continues, 1);
    }

    #[test]
    fn connection_semantics() {
        assert!(!ok("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n").keep_alive());
        assert!(!ok("GET / HTTP/1.0\r\n\r\n").keep_alive());
        assert!(ok("GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n").keep_alive());
    }

    #[test]
    fn clean_eof_and_rejections() {
        assert!(matches!(read("").0, Ok(None)));
        assert!(matches!(read("\r\n").0, Ok(None)));
        assert!(matches!(
            read("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc").0,
            Err(ReadError::Io(_))
        ));
        assert_eq!(rejected("GET / HTTP/2.0\r\n\r\n"), 505);
        assert_eq!(rejected("GET http://x/ HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(rejected("GET / HTTP/1.1\r\nbad header\r\n\r\n"), 400);
        assert_eq!(
            rejected("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"),
            400
        );
        assert_eq!(
            rejected("POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n"),
            413
        );
        assert_eq!(
            rejected("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
            501
        );
    }

    #[test]
    fn response_bytes() {
        let r = Response::json(200, "{}").with_header("x-debug-id", "abc");
        let text = String::from_utf8(r.to_bytes(false)).expect("utf8");
        assert_eq!(
            text,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=utf-8\r\nx-debug-id: abc\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
        );
        let no_content = String::from_utf8(Response::new(204).to_bytes(true)).expect("utf8");
        assert_eq!(
            no_content,
            "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n"
        );
    }
}
