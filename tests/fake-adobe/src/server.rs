//! Accept loop and per-connection handling: one thread per connection, HTTP/1.1 keep-alive,
//! a fresh `x-debug-id` on every response, and one stderr log line per request.
//!
//! Log lines carry the method, the path (never the query string, which may hold secrets), the
//! status and the debug id; never a body, a secret or a token.

use std::io::{self, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crate::http::{self, ReadError, Reply, Request, Response};
use crate::ims::oauth_error_response;
use crate::rng;
use crate::router;
use crate::state::Shared;

/// How long an idle keep-alive connection (or a stalled request) is kept open.
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

/// Adds `x-debug-id`, logs and writes `resp`.
fn send(
    w: &mut TcpStream,
    req: Option<&Request>,
    resp: Response,
    keep_alive: bool,
) -> io::Result<()> {
    let debug_id = rng::uuid();
    let resp = resp.with_header("x-debug-id", debug_id.clone());
    log_request(req, &resp.status.to_string(), Some(&debug_id));
    w.write_all(&resp.to_bytes(keep_alive))?;
    w.flush()
}

/// Serves one connection until it closes, errs, times out or asks to close.
pub fn handle_connection(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let read = http::read_request(&mut reader, || {
            writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
            writer.flush()
        });
        let req = match read {
            Ok(Some(req)) => req,
            Ok(None) | Err(ReadError::Io(_)) => return,
            Err(ReadError::Reject { status, message }) => {
                let _ = send(
                    &mut writer,
                    None,
                    oauth_error_response(status, "invalid_request", message),
                    false,
                );
                return;
            }
        };
        let keep_alive = req.keep_alive();
        match router::route(shared, &req) {
            Reply::Send(resp) => {
                if send(&mut writer, Some(&req), resp, keep_alive).is_err() || !keep_alive {
                    return;
                }
            }
            Reply::Drop => {
                log_request(Some(&req), "dropped", None);
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

/// Accepts connections forever, each on its own thread.
pub fn serve(listener: &TcpListener, shared: &Shared) {
    for conn in listener.incoming() {
        match conn {
            Ok(stream) => {
                let shared = Arc::clone(shared);
                let spawned = thread::Builder::new()
                    .name("fake-adobe-conn".to_owned())
                    .spawn(move || handle_connection(stream, &shared));
                if let Err(e) = spawned {
                    log(&format!("cannot spawn a connection thread: {e}"));
                }
            }
            Err(e) => {
                log(&format!("accept failed: {e}"));
                thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// Binds 127.0.0.1:`port` (0 picks a free port) and serves on a background thread; returns the
/// bound port. Handy for in-process tests.
pub fn spawn(port: u16, shared: Shared) -> io::Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    let port = listener.local_addr()?.port();
    thread::Builder::new()
        .name("fake-adobe-accept".to_owned())
        .spawn(move || serve(&listener, &shared))?;
    Ok(port)
}
