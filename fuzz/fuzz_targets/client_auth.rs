//! `client_auth::{basic, parse_form, client_credentials}`: the broker's own `/oauth/token`
//! client authentication.
//!
//! Input: `<Authorization header value>\n<form body>`.
//!
//! Invariants: nothing panics; Basic credentials built the RFC 6749 §2.3.1 way (each part
//! form-urlencoded, then base64) decode to exactly what was encoded; a form that parses has no
//! repeated name and re-serialises to the same map; `client_credentials` answers `Both` exactly
//! when both methods are present.
#![no_main]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ims_core::client_auth::{basic, client_credentials, parse_form, ClientAuthError};
use libfuzzer_sys::fuzz_target;

fn enc(s: &str) -> String {
    form_urlencoded_encode(s)
}

// form_urlencoded::byte_serialize, without adding a dependency the core already has.
fn form_urlencoded_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'*' | b'-' | b'.' | b'_' | b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[..0]),
    };
    let header = String::from_utf8_lossy(header);

    // An empty first line means "no Authorization header".
    let auth = (!header.is_empty()).then_some(&*header);
    let from_basic = basic(auth);
    if let (Ok(Some(_)), Some(header)) = (&from_basic, auth) {
        let scheme = header.trim().split(' ').next().unwrap_or_default();
        assert!(scheme.eq_ignore_ascii_case("basic"));
    }
    assert_eq!(basic(None), Ok(None));

    // Round trip: id and secret from the header text, split at its first ':'.
    let (id, secret) = header.split_once(':').unwrap_or((&header, ""));
    let built = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
    );
    let (got_id, got_key) = basic(Some(&built))
        .expect("built Basic refused")
        .expect("no creds");
    assert_eq!(
        (got_id.as_str(), got_key.secret()),
        (id, secret),
        "Basic round trip"
    );

    let form = parse_form(body);
    match &form {
        Ok(map) => {
            let reserialised: String = map
                .iter()
                .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
                .collect::<Vec<_>>()
                .join("&");
            assert_eq!(parse_form(reserialised.as_bytes()).as_ref(), Ok(map));
        }
        Err(ClientAuthError::Repeated(name)) => assert!(name.chars().count() <= 64),
        Err(e) => panic!("parse_form answered {e:?}"),
    }
    if let Ok(mut map) = form {
        let posted = map.contains_key("client_id") && map.contains_key("client_secret");
        let has_basic = matches!(from_basic, Ok(Some(_)));
        let result = client_credentials(auth, &mut map);
        if from_basic.is_ok() {
            assert!(
                !map.contains_key("client_secret"),
                "client_secret left in the form"
            );
        }
        if posted && has_basic {
            assert_eq!(result, Err(ClientAuthError::Both));
        }
        if result.is_ok() {
            assert!(posted ^ has_basic);
        }
    }
});
