//! End-to-end tests: run the real `fake-adobe` binary and talk HTTP/1.1 to it over a raw
//! `TcpStream`, as the broker's integration tests will.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

const SECRET: &str = "p8e-IntegrationSecret+/=42";
const CLIENT: &str = "it-client";

/// The running binary; killed on drop.
struct Fake {
    child: Child,
    port: u16,
    stderr: Option<JoinHandle<String>>,
}

impl Fake {
    fn start(args: &[&str]) -> Fake {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fake-adobe"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn fake-adobe");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the listening line");
        let port = line
            .strip_suffix('\n')
            .and_then(|l| l.strip_prefix("fake-adobe listening on http://127.0.0.1:"))
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        let mut stderr = child.stderr.take().expect("stderr");
        let stderr = Some(thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        }));
        Fake {
            child,
            port,
            stderr,
        }
    }

    /// Kills the fake and returns everything it wrote to stderr.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr
            .take()
            .expect("stderr thread")
            .join()
            .expect("join stderr thread")
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        s
    }

    fn request(&self, method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        let mut s = self.connect();
        write_request(&mut s, method, target, headers, body, true);
        read_response(&mut BufReader::new(s)).expect("a response")
    }

    fn token(&self, body: &str) -> Resp {
        self.request(
            "POST",
            "/ims/token/v3",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            body.as_bytes(),
        )
    }

    fn control(&self, method: &str, path: &str, body: Value) -> Value {
        let bytes = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        let resp = self.request(
            method,
            path,
            &[("Content-Type", "application/json")],
            &bytes,
        );
        assert_eq!(resp.status, 200, "{method} {path}: {}", resp.body);
        resp.json()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("JSON body")
    }
}

fn write_request(
    s: &mut TcpStream,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    close: bool,
) {
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    if close {
        req.push_str("Connection: close\r\n");
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    s.write_all(&bytes).expect("write request");
}

/// Reads one response framed by Content-Length; `None` if the connection closed first.
fn read_response(r: &mut BufReader<TcpStream>) -> Option<Resp> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let status = line.split(' ').nth(1)?.parse().ok()?;
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (n, v) = h.split_once(':')?;
        headers.push((n.to_owned(), v.trim().to_owned()));
    }
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().expect("content-length"))
        .expect("every response has a Content-Length");
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).ok()?;
    Some(Resp {
        status,
        headers,
        body: String::from_utf8(body).expect("utf8 body"),
    })
}

fn form(secret: &str, scope: &str) -> String {
    fake_adobe::form::encode(&[
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT),
        ("client_secret", secret),
        ("scope", scope),
    ])
}

fn claims(token: &str) -> Value {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "three segments");
    let header = URL_SAFE_NO_PAD.decode(parts[0]).expect("header b64url");
    let header: Value = serde_json::from_slice(&header).expect("header JSON");
    assert_eq!(
        header,
        json!({"alg":"RS256","x5u":"ims_na1-key-at-1.cer","kid":"ims_na1-key-at-1","itt":"at"})
    );
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("payload b64url"))
        .expect("payload JSON")
}

fn client_arg() -> String {
    format!("{CLIENT}:{SECRET}:openid,AdobeID,read_organizations")
}

#[test]
fn token_endpoint_end_to_end() {
    let fake = Fake::start(&["--port", "0", "--client", &client_arg()]);
    let mut debug_ids = Vec::new();

    // Success.
    let ok = fake.token(&form(SECRET, "openid,AdobeID"));
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(
        ok.header("content-type"),
        Some("application/json;charset=utf-8")
    );
    debug_ids.push(ok.header("x-debug-id").expect("x-debug-id").to_owned());
    let body = ok.json();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 86399);
    let token1 = body["access_token"].as_str().expect("token").to_owned();
    let c = claims(&token1);
    assert_eq!(c["type"], "access_token");
    assert_eq!(c["client_id"], CLIENT);
    assert_eq!(c["scope"], "openid,AdobeID");
    assert_eq!(c["expires_in"], "86399000");
    assert!(c["created_at"]
        .as_str()
        .is_some_and(|s| s.parse::<u64>().is_ok()));
    assert!(c["user_id"]
        .as_str()
        .is_some_and(|s| s.ends_with("@techacct.adobe.com")));

    // Wrong secret.
    let wrong = fake.token(&form("not-the-secret", "openid"));
    assert_eq!(wrong.status, 400);
    assert_eq!(
        wrong.json(),
        json!({"error":"invalid_client","error_description":"invalid client_secret parameter"})
    );
    debug_ids.push(wrong.header("x-debug-id").expect("x-debug-id").to_owned());

    // Space-separated (RFC 6749 style) scope.
    let spaced = fake.token(&form(SECRET, "openid AdobeID"));
    assert_eq!(spaced.status, 400);
    assert_eq!(
        spaced.json(),
        json!({"error":"invalid_scope","error_description":"invalid scope"})
    );

    // Parameters in the query string.
    let query = fake.request(
        "POST",
        &format!("/ims/token/v3?{}", form(SECRET, "openid")),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"",
    );
    assert_eq!(query.status, 400);
    assert_eq!(query.json()["error"], "invalid_request");

    // One injected 429 with Retry-After, then back to normal.
    let queued = fake.control(
        "POST",
        "/__fake/faults",
        json!({"faults":[{"kind":"status429","retry_after":7}]}),
    );
    assert_eq!(queued["pending_faults"], 1);
    let throttled = fake.token(&form(SECRET, "openid"));
    assert_eq!(throttled.status, 429);
    assert_eq!(throttled.header("retry-after"), Some("7"));
    assert_eq!(
        throttled.json(),
        json!({"error":"too_many_requests","error_description":"throttled"})
    );
    debug_ids.push(
        throttled
            .header("x-debug-id")
            .expect("x-debug-id")
            .to_owned(),
    );
    let again = fake.token(&form(SECRET, "openid"));
    assert_eq!(again.status, 200);
    let token2 = again.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_ne!(token1, token2);

    // Stats.
    let stats = fake.control("GET", "/__fake/stats", Value::Null);
    assert_eq!(stats["token_calls"], 6);
    assert_eq!(stats["token_successes"], 2);
    assert_eq!(stats["issued_tokens"], json!([token1, token2]));
    let outcomes: Vec<&str> = stats["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| c["outcome"].as_str().expect("outcome"))
        .collect();
    assert_eq!(
        outcomes,
        [
            "ok",
            "error:invalid_client",
            "error:invalid_scope",
            "error:invalid_request",
            "fault:status429",
            "ok"
        ]
    );
    assert_eq!(stats["calls"][0]["client_id"], CLIENT);
    let secrets = fake.control("GET", "/__fake/secrets", Value::Null);
    assert_eq!(secrets["secrets"], json!([SECRET]));

    debug_ids.sort();
    debug_ids.dedup();
    assert_eq!(debug_ids.len(), 3, "x-debug-id is fresh on every response");

    // The log has one line per request and never a secret or a token.
    let log = fake.stop();
    assert_eq!(log.matches("POST /ims/token/v3").count(), 6, "{log}");
    assert!(log.contains("[query redacted]"), "{log}");
    assert!(!log.contains(SECRET), "secret leaked into the log");
    assert!(!log.contains("IntegrationSecret"), "secret leaked");
    for t in [&token1, &token2] {
        assert!(!log.contains(t.as_str()), "token leaked into the log");
    }
}

#[test]
fn control_api_keep_alive_and_drop() {
    let fake = Fake::start(&["--client", &client_arg()]);

    // Two requests on one keep-alive connection.
    let mut s = fake.connect();
    let body = form(SECRET, "openid");
    let ct = [("Content-Type", "application/x-www-form-urlencoded")];
    let mut reader = BufReader::new(s.try_clone().expect("clone"));
    for _ in 0..2 {
        write_request(&mut s, "POST", "/ims/token/v3", &ct, body.as_bytes(), false);
        let resp = read_response(&mut reader).expect("keep-alive response");
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("connection"), Some("keep-alive"));
    }

    // A dropped connection gets no response at all.
    fake.control("POST", "/__fake/faults", json!({"kind": "drop"}));
    assert!(read_response(&mut {
        let mut s = fake.connect();
        write_request(&mut s, "POST", "/ims/token/v3", &ct, body.as_bytes(), true);
        BufReader::new(s)
    })
    .is_none());

    // Config shapes the answer; reset restores defaults and counters.
    fake.control(
        "POST",
        "/__fake/config",
        json!({"expires_in": 3600, "claims_expires_in_ms": "60000"}),
    );
    let resp = fake.token(&body).json();
    assert_eq!(resp["expires_in"], 3600);
    assert_eq!(
        claims(resp["access_token"].as_str().expect("token"))["expires_in"],
        "60000"
    );
    assert_eq!(
        fake.control("POST", "/__fake/reset", Value::Null),
        json!({})
    );
    let stats = fake.control("GET", "/__fake/stats", Value::Null);
    assert_eq!(
        (
            stats["token_calls"].as_u64(),
            stats["token_successes"].as_u64()
        ),
        (Some(0), Some(0))
    );
    assert_eq!(fake.token(&body).json()["expires_in"], 86399);

    // A client added at run time; its secret is reported.
    fake.control(
        "POST",
        "/__fake/clients",
        json!({"client_id": "other", "client_secret": "other-secret", "scopes": null}),
    );
    let other = fake_adobe::form::encode(&[
        ("grant_type", "client_credentials"),
        ("client_id", "other"),
        ("client_secret", "other-secret"),
        ("scope", "anything,at.all"),
    ]);
    assert_eq!(fake.token(&other).status, 200);
    let secrets = fake.control("GET", "/__fake/secrets", Value::Null);
    assert_eq!(secrets["secrets"], json!([SECRET, "other-secret"]));

    // Unknown paths.
    let missing = fake.request("GET", "/nope", &[], b"");
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.json(),
        json!({"error_code":"404","message":"not found"})
    );
    assert!(missing.header("x-debug-id").is_some());
    fake.stop();
}
