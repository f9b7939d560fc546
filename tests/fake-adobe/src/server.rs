//! The HTTP/1.1 server: hyper on a current-thread tokio runtime. It reads each request whole,
//! runs [`router::route`] on tokio's blocking pool (handlers are plain functions that lock the
//! state and may sleep for `slow` faults and `delay_ms`), and writes the answer with a fresh
//! `x-debug-id` and one stderr log line per request.
//!
//! hyper does the wire work (framing, keep-alive, `Expect: 100-continue`, chunked bodies);
//! this module keeps what the fake promises on top of it: `Connection: keep-alive`/`close` on
//! every answer, the reason phrases of [`reason_phrase`], no `Date` header, a 400 for a target
//! that is not a path and a 413 for a body over [`MAX_BODY_BYTES`]. A [`Reply::Drop`] becomes
//! an error of the service, on which hyper closes the connection without writing a byte.
//!
//! Log lines carry the method, the path (never the query string, which may hold secrets), the
//! status and the debug id; never a body, a secret or a token.

use std::fmt;
use std::io::{self, Write};
use std::net::TcpListener as StdTcpListener;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Body, Bytes, Incoming};
use hyper::ext::ReasonPhrase;
use hyper::header::{HeaderName, HeaderValue, CONNECTION};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{StatusCode, Version};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::http::{reason_phrase, Reply, Request, Response, MAX_BODY_BYTES};
use crate::ims::oauth_error_response;
use crate::rng;
use crate::router;
use crate::state::Shared;

/// How long a request may take to arrive (its head, and then its body), and how long an idle
/// keep-alive connection is kept open.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// Writes one line to stderr, ignoring failures (a closed stderr must not kill the fake).
pub fn log(line: &str) {
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "fake-adobe: {line}");
}

fn printable_path(path: &str) -> String {
    let mut p: String = path
        .chars()
        .take(200)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect();
    if path.chars().count() > 200 {
        p.push('…');
    }
    p
}

fn log_request(req: Option<&Request>, outcome: &str, debug_id: Option<&str>) {
    let (method, path, query) = match req {
        Some(r) => (
            printable_path(&r.method),
            printable_path(&r.path),
            if r.query.is_some() {
                " [query redacted]"
            } else {
                ""
            },
        ),
        None => ("-".to_owned(), "-".to_owned(), ""),
    };
    let id = debug_id
        .map(|d| format!(" x-debug-id={d}"))
        .unwrap_or_default();
    log(&format!("{method} {path}{query} -> {outcome}{id}"));
}

/// The service's error: the connection is closed without an answer.
#[derive(Debug)]
pub struct Dropped;

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped without an answer")
    }
}

impl std::error::Error for Dropped {}

type HyperResponse = hyper::Response<Full<Bytes>>;

/// Adds `x-debug-id`, logs, and converts `resp` for hyper.
fn answer(req: Option<&Request>, resp: Response, keep_alive: bool) -> HyperResponse {
    let debug_id = rng::uuid();
    let resp = resp.with_header("x-debug-id", debug_id.clone());
    log_request(req, &resp.status.to_string(), Some(&debug_id));
    let mut out = hyper::Response::new(Full::new(Bytes::from(resp.body)));
    *out.status_mut() = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::BAD_GATEWAY);
    out.extensions_mut().insert(ReasonPhrase::from_static(
        reason_phrase(resp.status).as_bytes(),
    ));
    let headers = out.headers_mut();
    for (name, value) in &resp.headers {
        if name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("connection") {
            continue;
        }
        // The handlers' header names and values are all plain ASCII.
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(n, v);
        }
    }
    headers.insert(
        CONNECTION,
        HeaderValue::from_static(if keep_alive { "keep-alive" } else { "close" }),
    );
    out
}

/// Answers a request that cannot be handled (OAuth error body), then closes the connection.
fn reject(status: u16, message: &str) -> HyperResponse {
    answer(
        None,
        oauth_error_response(status, "invalid_request", message),
        false,
    )
}

/// Whether the connection may stay open after answering (HTTP/1.1 without `Connection: close`).
fn keep_alive(req: &hyper::Request<Incoming>) -> bool {
    req.version() == Version::HTTP_11
        && !req
            .headers()
            .get_all(CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("close"))
}

/// Serves one request: reads it whole, routes it on the blocking pool, answers or drops.
async fn handle(shared: Shared, req: hyper::Request<Incoming>) -> Result<HyperResponse, Dropped> {
    let keep_alive = keep_alive(&req);
    let (parts, body) = req.into_parts();
    let uri = &parts.uri;
    if uri.scheme().is_some() || uri.authority().is_some() || !uri.path().starts_with('/') {
        return Ok(reject(400, "request target must be a path"));
    }
    let mut headers = Vec::with_capacity(parts.headers.len());
    for (name, value) in &parts.headers {
        let Ok(value) = String::from_utf8(value.as_bytes().to_vec()) else {
            return Ok(reject(400, "malformed header"));
        };
        headers.push((name.as_str().to_owned(), value));
    }
    if body.size_hint().lower() > MAX_BODY_BYTES as u64 {
        return Ok(reject(413, "request body too large"));
    }
    let read = Limited::new(body, MAX_BODY_BYTES).collect();
    let body = match tokio::time::timeout(IDLE_TIMEOUT, read).await {
        Ok(Ok(collected)) => collected.to_bytes().to_vec(),
        Ok(Err(e)) if e.is::<LengthLimitError>() => {
            return Ok(reject(413, "request body too large"))
        }
        // The client went away or stalled mid-body: nothing to answer.
        Ok(Err(_)) | Err(_) => return Err(Dropped),
    };
    let request = Request {
        method: parts.method.as_str().to_owned(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers,
        body,
    };
    let routed = tokio::task::spawn_blocking(move || {
        let reply = router::route(&shared, &request);
        (request, reply)
    })
    .await;
    match routed {
        Ok((request, Reply::Send(resp))) => Ok(answer(Some(&request), resp, keep_alive)),
        Ok((request, Reply::Drop)) => {
            log_request(Some(&request), "dropped", None);
            Err(Dropped)
        }
        // A handler panicked (its message is on stderr): the connection just closes.
        Err(_) => Err(Dropped),
    }
}

/// Serves HTTP/1.1 on `listener` forever; returns only if the runtime cannot start.
pub fn serve(listener: StdTcpListener, shared: Shared) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = TcpListener::from_std(listener)?;
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    log(&format!("accept failed: {e}"));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let shared = Arc::clone(&shared);
            tokio::spawn(async move {
                let service = service_fn(move |req| handle(Arc::clone(&shared), req));
                // Errors here are closed or dropped connections: nothing more to do.
                let _ = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(IDLE_TIMEOUT)
                    .auto_date_header(false)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

/// Binds 127.0.0.1:`port` (0 picks a free port) and serves on a background thread; returns the
/// bound port. Handy for in-process tests.
pub fn spawn(port: u16, shared: Shared) -> io::Result<u16> {
    let listener = StdTcpListener::bind(("127.0.0.1", port))?;
    let port = listener.local_addr()?.port();
    thread::Builder::new()
        .name("fake-adobe-server".to_owned())
        .spawn(move || {
            if let Err(e) = serve(listener, shared) {
                log(&format!("cannot serve: {e}"));
            }
        })?;
    Ok(port)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{shared, State};
    use std::io::Read;
    use std::net::TcpStream;
    use std::time::Instant;

    fn start() -> u16 {
        let mut st = State::new();
        st.upsert_client("cid", "s3cr3t", None);
        spawn(0, shared(st)).expect("spawn")
    }

    fn connect(port: u16) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        s
    }

    /// Reads until the server closes the connection.
    fn read_to_close(s: &mut TcpStream) -> String {
        let mut out = Vec::new();
        s.read_to_end(&mut out).expect("read until close");
        String::from_utf8(out).expect("utf8")
    }

    /// Reads one answer framed by `Content-Length`, leaving the connection open.
    fn read_one(s: &mut TcpStream) -> String {
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while !buf.ends_with(b"\r\n\r\n") {
            assert_eq!(s.read(&mut byte).expect("read head"), 1, "closed early");
            buf.push(byte[0]);
        }
        let head = String::from_utf8(buf).expect("utf8");
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .map_or(0, |v| v.parse().expect("length"));
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).expect("body");
        head + &String::from_utf8(body).expect("utf8")
    }

    fn exchange(port: u16, raw: &str) -> String {
        let mut s = connect(port);
        s.write_all(raw.as_bytes()).expect("write");
        read_to_close(&mut s)
    }

    const TOKEN_FORM: &str =
        "grant_type=client_credentials&client_id=cid&client_secret=s3cr3t&scope=openid";

    fn token_request(connection: &str) -> String {
        format!(
            "POST /ims/token/v3 HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n{connection}Content-Length: {}\r\n\r\n{TOKEN_FORM}",
            TOKEN_FORM.len()
        )
    }

    #[test]
    fn keep_alive_and_close_are_announced() {
        let port = start();
        let mut s = connect(port);
        for _ in 0..2 {
            s.write_all(token_request("").as_bytes()).expect("write");
            let answer = read_one(&mut s);
            assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
            assert!(
                answer.contains("\r\nconnection: keep-alive\r\n"),
                "{answer}"
            );
            assert!(answer.contains("\r\nx-debug-id: "), "{answer}");
            assert!(
                answer.contains("\r\ncontent-type: application/json;charset=utf-8\r\n"),
                "{answer}"
            );
            assert!(!answer.contains("\r\ndate: "), "no Date header: {answer}");
        }
        let closed = exchange(port, &token_request("Connection: close\r\n"));
        assert!(closed.starts_with("HTTP/1.1 200 OK\r\n"), "{closed}");
        assert!(closed.contains("\r\nconnection: close\r\n"), "{closed}");
        let old = exchange(port, "GET /__fake/stats HTTP/1.0\r\n\r\n");
        assert!(old.contains(" 200 OK\r\n"), "{old}");
        assert!(old.contains("\r\nconnection: close\r\n"), "{old}");
    }

    #[test]
    fn chunked_body_after_100_continue() {
        let port = start();
        let mut s = connect(port);
        s.write_all(
            b"POST /__fake/faults HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        )
        .expect("write head");
        let mut interim = [0u8; 25];
        s.read_exact(&mut interim).expect("100 Continue");
        assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
        s.write_all(b"5\r\n{\"kin\r\nd\r\nd\":\"garbage\"}\r\n0\r\n\r\n")
            .expect("write body");
        let answer = read_to_close(&mut s);
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.ends_with(r#"{"pending_faults":1}"#), "{answer}");
    }

    #[test]
    fn unacceptable_requests_are_refused() {
        let port = start();
        let absolute = exchange(
            port,
            "GET http://x/__fake/stats HTTP/1.1\r\nHost: x\r\n\r\n",
        );
        assert!(
            absolute.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{absolute}"
        );
        assert!(absolute.contains("\r\nconnection: close\r\n"), "{absolute}");
        assert!(absolute.ends_with(
            r#"{"error":"invalid_request","error_description":"request target must be a path"}"#
        ));
        let big = exchange(
            port,
            "POST /__fake/faults HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n",
        );
        assert!(
            big.starts_with("HTTP/1.1 413 Content Too Large\r\n"),
            "{big}"
        );
        // An empty query string is still a query string, which IMS refuses.
        let query = exchange(
            port,
            &token_request("Connection: close\r\n").replacen("v3 ", "v3? ", 1),
        );
        assert!(query.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{query}");
        assert!(query.contains(r#""error":"invalid_request""#), "{query}");
    }

    #[test]
    fn header_values_must_be_utf8() {
        let port = start();
        let mut s = connect(port);
        s.write_all(
            b"GET /__fake/stats HTTP/1.1\r\nX-Note: caf\xc3\xa9\r\nConnection: close\r\n\r\n",
        )
        .expect("write");
        let utf8 = read_to_close(&mut s);
        assert!(utf8.starts_with("HTTP/1.1 200 OK\r\n"), "{utf8}");
        let mut s = connect(port);
        s.write_all(b"GET /__fake/stats HTTP/1.1\r\nX-Note: caf\xe9\r\nConnection: close\r\n\r\n")
            .expect("write");
        let latin1 = read_to_close(&mut s);
        assert!(
            latin1.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{latin1}"
        );
        assert!(latin1.contains("malformed header"), "{latin1}");
    }

    #[test]
    fn drop_closes_without_a_byte_and_slow_stalls_only_its_call() {
        let port = start();
        let fault = |body: &str| {
            let answer = exchange(
                port,
                &format!(
                    "POST /__fake/faults HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                ),
            );
            assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        };
        fault(r#"{"kind":"drop"}"#);
        // Keep-alive asked for, yet the connection closes (FIN or RST) with nothing written.
        let mut s = connect(port);
        s.write_all(token_request("").as_bytes()).expect("write");
        let mut buf = [0u8; 64];
        match s.read(&mut buf) {
            Ok(n) => assert_eq!(n, 0, "{:?}", String::from_utf8_lossy(&buf[..n])),
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}"),
        }

        fault(r#"{"kind":"slow","ms":400}"#);
        let started = Instant::now();
        let slow = thread::spawn(move || exchange(port, &token_request("Connection: close\r\n")));
        thread::sleep(Duration::from_millis(100));
        let other = exchange(
            port,
            "GET /__fake/stats HTTP/1.1\r\nConnection: close\r\n\r\n",
        );
        assert!(other.starts_with("HTTP/1.1 200 OK\r\n"), "{other}");
        assert!(
            started.elapsed() < Duration::from_millis(400),
            "a slow call does not hold up others"
        );
        let slow = slow.join().expect("slow call");
        assert!(slow.starts_with("HTTP/1.1 200 OK\r\n"), "{slow}");
        assert!(started.elapsed() >= Duration::from_millis(400));
    }
}
