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
    let len: usize = if status == 204 {
        assert!(
            !headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-length")),
            "a 204 has no Content-Length"
        );
        0
    } else {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse().expect("content-length"))
            .expect("every other response has a Content-Length")
    };
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

const ORG: &str = "4566206088344794932";
const CRED: &str = "598733";
const API_SCOPE: &str = "AdobeID,openid,read_organizations,additional_info.projectedProductContext,additional_info.roles,adobeio_api,read_client_secret,manage_client_secrets";

impl Fake {
    /// One I/O Management API call with the given `x-api-key` and bearer token ("" = none).
    fn api(&self, method: &str, suffix: &str, key: &str, token: &str) -> Resp {
        let auth = format!("Bearer {token}");
        let mut headers = vec![];
        if !key.is_empty() {
            headers.push(("x-api-key", key));
        }
        if !token.is_empty() {
            headers.push(("Authorization", auth.as_str()));
        }
        self.request(
            method,
            &format!("/console/organizations/{ORG}/credentials/{CRED}/secrets{suffix}"),
            &headers,
            b"",
        )
    }

    /// Like [`Fake::api`], but `None` if the connection was closed without an answer.
    fn api_maybe(&self, method: &str, suffix: &str, token: &str) -> Option<Resp> {
        let mut s = self.connect();
        let auth = format!("Bearer {token}");
        write_request(
            &mut s,
            method,
            &format!("/console/organizations/{ORG}/credentials/{CRED}/secrets{suffix}"),
            &[("x-api-key", CLIENT), ("Authorization", auth.as_str())],
            b"",
            true,
        );
        read_response(&mut BufReader::new(s))
    }

    fn mint(&self, secret: &str) -> Resp {
        self.token(&form(secret, API_SCOPE))
    }
}

fn uuids(list: &Value) -> Vec<String> {
    list["client_secrets"]
        .as_array()
        .expect("client_secrets")
        .iter()
        .map(|s| s["uuid"].as_str().expect("uuid").to_owned())
        .collect()
}

#[test]
fn io_management_api_rotation_end_to_end() {
    let fake = Fake::start(&[
        "--client",
        &format!("{CLIENT}:{SECRET}:{API_SCOPE}"),
        "--credential",
        &format!("{ORG}:{CRED}:{CLIENT}"),
    ]);

    // A token with the management scopes, minted with the bootstrap secret.
    let minted = fake.mint(SECRET);
    assert_eq!(minted.status, 200, "{}", minted.body);
    let token = minted.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();

    // Gateway checks.
    let no_key = fake.api("GET", "", "", &token);
    assert_eq!(
        (no_key.status, no_key.json()),
        (
            403,
            json!({"error_code":"403003","message":"Api Key is invalid"})
        )
    );
    let bad_token = fake.api("GET", "", CLIENT, "not-a-token");
    assert_eq!(
        (bad_token.status, bad_token.json()),
        (
            401,
            json!({"error_code":"401013","message":"Oauth token is not valid"})
        )
    );
    let narrow = fake.token(&form(SECRET, "openid,AdobeID")).json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(fake.api("GET", "", CLIENT, &narrow).status, 403);
    let wrong_method = fake.api("PUT", "", CLIENT, &token);
    assert_eq!(
        (wrong_method.status, wrong_method.header("allow")),
        (405, Some("GET, POST"))
    );

    // List: the bootstrap secret, already used, never its value.
    let list = fake.api("GET", "", CLIENT, &token);
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.header("x-debug-id").is_some());
    assert!(!list.body.contains(SECRET));
    let body = list.json();
    assert_eq!(body["client_id"], CLIENT);
    let old_uuid = uuids(&body).pop().expect("one secret");
    assert_eq!(uuids(&body).len(), 1);
    let entry = &body["client_secrets"][0];
    assert_eq!(entry["expires_at"], "PERMANENT");
    assert!(entry["created_at_str"]
        .as_str()
        .is_some_and(|s| s.ends_with(" UTC")));
    assert_eq!(
        entry["secret_usages"][0]["grant_type"],
        "client_credentials"
    );

    // Add: the only time the value is shown.
    let added = fake.api("POST", "", CLIENT, &token);
    assert_eq!(added.status, 201, "{}", added.body);
    let added = added.json();
    let new_uuid = added["uuid"].as_str().expect("uuid").to_owned();
    let new_secret = added["client_secret"].as_str().expect("value").to_owned();
    assert_eq!(added["secret_usages"], Value::Null);
    assert_ne!(new_uuid, old_uuid);

    // IMS accepts the new secret and stamps it.
    assert_eq!(fake.mint(&new_secret).status, 200);
    let view = fake.control(
        "GET",
        &format!("/__fake/clients/{CLIENT}/secrets"),
        Value::Null,
    );
    assert_eq!(view["max_secrets_seen"], 2);
    assert_eq!(view["secrets"][1]["uuid"], new_uuid.as_str());
    assert_eq!(view["secrets"][1]["client_secret"], new_secret.as_str());
    assert!(view["secrets"][1]["last_used_at_ms"].is_u64());

    // Delete the old one; IMS now refuses it.
    let deleted = fake.api("DELETE", &format!("/{old_uuid}"), CLIENT, &token);
    assert_eq!((deleted.status, deleted.body.as_str()), (204, ""));
    assert!(deleted.header("x-debug-id").is_some());
    let again = fake.api("DELETE", &format!("/{old_uuid}"), CLIENT, &token);
    assert_eq!(
        (again.status, again.json()),
        (
            404,
            json!({"error_code":"404002","message":"Client secret not found"})
        )
    );
    let refused = fake.mint(SECRET);
    assert_eq!(
        (refused.status, refused.json()),
        (
            400,
            json!({"error":"invalid_client","error_description":"invalid client_secret parameter"})
        )
    );
    assert_eq!(
        uuids(&fake.api("GET", "", CLIENT, &token).json()),
        [new_uuid.as_str()]
    );

    // add_then_drop: the secret is created at "Adobe", the answer (and the plaintext) lost.
    fake.control(
        "POST",
        "/__fake/faults",
        json!({"faults":[{"target":"add","kind":"add_then_drop"}]}),
    );
    assert!(fake.api_maybe("POST", "", &token).is_none(), "dropped");
    let view = fake.control(
        "GET",
        &format!("/__fake/clients/{CLIENT}/secrets"),
        Value::Null,
    );
    let lost = view["secrets"][1].clone();
    let lost_uuid = lost["uuid"].as_str().expect("uuid").to_owned();
    let lost_secret = lost["client_secret"].as_str().expect("value").to_owned();
    assert_eq!(
        uuids(&fake.api("GET", "", CLIENT, &token).json()),
        [new_uuid.as_str(), lost_uuid.as_str()]
    );
    let third = fake.api("POST", "", CLIENT, &token);
    assert_eq!(
        (third.status, third.json()["error_code"].as_str()),
        (400, Some("400024"))
    );

    // A secret deleted behind the broker's back.
    assert_eq!(
        fake.control(
            "DELETE",
            &format!("/__fake/clients/{CLIENT}/secrets/{lost_uuid}"),
            Value::Null
        ),
        json!({})
    );
    assert_eq!(fake.mint(&lost_secret).status, 400);
    assert_eq!(fake.mint(&new_secret).status, 200);

    // Stats.
    let stats = fake.control("GET", "/__fake/stats", Value::Null);
    assert_eq!(
        stats["api_calls"],
        json!({"list": 6, "add": 3, "delete": 2})
    );
    let log = stats["api_log"].as_array().expect("api_log");
    let dropped = log
        .iter()
        .find(|r| r["fault"] == "add_then_drop")
        .expect("the dropped add");
    assert_eq!(dropped["status"], Value::Null);
    assert_eq!(dropped["applied"], true);
    assert_eq!(dropped["uuid"], lost_uuid.as_str());
    let applied: Vec<(&str, &str)> = log
        .iter()
        .filter(|r| r["applied"] == true)
        .map(|r| {
            (
                r["op"].as_str().expect("op"),
                r["uuid"].as_str().expect("uuid"),
            )
        })
        .collect();
    assert_eq!(
        applied,
        [
            ("add", new_uuid.as_str()),
            ("delete", old_uuid.as_str()),
            ("add", lost_uuid.as_str())
        ]
    );
    assert!(log.iter().all(|r| r["at_ms"].is_u64()));
    let known = fake.control("GET", "/__fake/secrets", Value::Null);
    assert_eq!(
        known["secrets"],
        json!([SECRET, new_secret.as_str(), lost_secret.as_str()])
    );

    // Reset keeps clients, credentials, secrets and still-valid tokens.
    fake.control("POST", "/__fake/reset", json!({}));
    assert_eq!(
        uuids(&fake.api("GET", "", CLIENT, &token).json()),
        [new_uuid]
    );
    let stats = fake.control("GET", "/__fake/stats", Value::Null);
    assert_eq!(
        stats["api_calls"],
        json!({"list": 1, "add": 0, "delete": 0})
    );

    // The log names the API paths, never a secret or a token.
    let log = fake.stop();
    assert!(
        log.contains(&format!(
            "POST /console/organizations/{ORG}/credentials/{CRED}/secrets -> 201"
        )),
        "{log}"
    );
    assert!(log.contains("-> dropped"), "{log}");
    for leaked in [SECRET, &new_secret, &lost_secret, &token] {
        assert!(
            !log.contains(leaked),
            "a secret or token leaked into the log"
        );
    }
}

#[test]
fn profile_api_with_revocation_end_to_end() {
    let fake = Fake::start(&["--port", "0", "--client", &client_arg()]);
    let profile = |key: &str, token: &str| {
        let auth = format!("Bearer {token}");
        fake.request(
            "GET",
            "/api/v1/profile",
            &[("x-api-key", key), ("Authorization", &auth)],
            b"",
        )
    };
    let mint = || {
        let r = fake.token(&form(SECRET, "openid,AdobeID"));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["access_token"].as_str().expect("token").to_owned()
    };
    let first = mint();
    let ok = profile(CLIENT, &first);
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.header("x-debug-id").is_some());
    assert_eq!(ok.json()["client_id"], CLIENT);
    assert_eq!(ok.json()["scope"], "openid,AdobeID");
    assert_eq!(profile("", &first).status, 403);

    // Revoking everything issued so far spares a token minted afterwards.
    let revoked = fake.control("POST", "/__fake/revoke", Value::Null);
    assert_eq!(revoked, json!({"revoked": 1}));
    let second = mint();
    let refused = profile(CLIENT, &first);
    assert_eq!(
        (refused.status, refused.json()),
        (
            401,
            json!({"error_code":"401013","message":"Oauth token is not valid"})
        )
    );
    assert_eq!(profile(CLIENT, &second).status, 200);
    let one = json!({ "access_token": second });
    assert_eq!(
        fake.control("POST", "/__fake/revoke", one),
        json!({"revoked": 1})
    );
    assert_eq!(profile(CLIENT, &second).status, 401);

    let stats = fake.control("GET", "/__fake/stats", Value::Null);
    assert_eq!(stats["profile_calls"], 5);
    assert_eq!(
        stats["profile_outcomes"],
        json!({"api_key_invalid": 1, "ok": 2, "token_revoked": 2})
    );
    let tokens: Vec<&str> = stats["profile_log"]
        .as_array()
        .expect("log")
        .iter()
        .map(|r| r["access_token"].as_str().expect("token"))
        .collect();
    assert_eq!(tokens, [&first, &first, &first, &second, &second]);
    assert_eq!(stats["revoked_tokens"], 2);
    let log = fake.stop();
    assert!(log.contains("GET /api/v1/profile -> 401"), "{log}");
    assert!(!log.contains(&first), "the log line never shows a token");
}
