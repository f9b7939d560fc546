//! The configuration parsers: `callers::CallerRegistry::from_json` (+ `authenticate` with
//! arbitrary keys) and `credentials::Credentials::from_vars`.
//!
//! Input: `<mode byte><text>\n---\n<lines>`.
//! - mode byte odd (e.g. `k`): `<text>` is `CALLER_KEYS`; each of `<lines>` is a caller key that
//!   is presented to `authenticate`. The answer is checked against an oracle that decodes the
//!   digests itself: a key authenticates exactly when SHA-256(key) is one of the digests.
//! - mode byte even (e.g. `v`): `<lines>` are `NAME=value` Worker vars and `<text>`, when not
//!   empty, is the `CREDENTIALS` var (unless a line sets it). Blank values count as unset, as
//!   in the Worker (`src/config.rs::var`).
#![no_main]

use ims_core::callers::{key_digest_hex, CallerRegistry};
use ims_core::credentials::{secret_binding, valid_name, Credentials, DEFAULT_CREDENTIAL};
use ims_core::{CallerKey, ScopeSet};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

fn split(data: &[u8]) -> (String, Vec<String>) {
    let text = String::from_utf8_lossy(data);
    match text.split_once("\n---\n") {
        Some((a, b)) => (a.to_owned(), b.split('\n').map(str::to_owned).collect()),
        None => (text.into_owned(), Vec::new()),
    }
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

fn string_values<'a>(v: &'a Value, out: &mut Vec<&'a str>, keys: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| string_values(x, out, keys)),
        Value::Object(o) => {
            for (k, x) in o {
                keys.push(k);
                string_values(x, out, keys);
            }
        }
        _ => {}
    }
}

fn callers(text: &str, keys: &[String]) {
    let parsed = CallerRegistry::from_json(text);
    let json: Option<Value> = serde_json::from_str(text).ok();
    let registry = match parsed {
        Ok(r) => r,
        Err(e) => {
            // Errors never quote a digest (or any other value) from the setting.
            let message = e.to_string();
            if let Some(json) = &json {
                let (mut values, mut names) = (Vec::new(), Vec::new());
                string_values(json, &mut values, &mut names);
                for v in values {
                    if v.len() >= 12
                        && v.bytes().all(|b| b.is_ascii_hexdigit())
                        && !names.iter().any(|n| n.contains(v))
                    {
                        assert!(!message.contains(v), "error quotes a value: {message}");
                    }
                }
            }
            return;
        }
    };
    let Some(Value::Object(entries)) = json else {
        panic!("CALLER_KEYS accepted but is not a JSON object");
    };
    assert_eq!(registry.len(), entries.len());
    assert_eq!(registry.is_empty(), entries.is_empty());
    let digests: Vec<(&String, Vec<u8>)> = entries
        .iter()
        .map(|(id, e)| {
            let d = e["sha256"]
                .as_str()
                .and_then(hex_decode)
                .expect("accepted bad digest");
            assert_eq!(d.len(), 32);
            (id, d)
        })
        .collect();
    let scopes = ScopeSet::from_names(keys.iter().filter(|k| k.len() < 20)).unwrap_or_default();
    let mut tried: Vec<CallerKey> = keys.iter().map(CallerKey::new).collect();
    // A key whose digest is listed, whatever the lines say, so the positive path always runs.
    tried.push(CallerKey::new(""));
    for key in &tried {
        let presented: Vec<u8> = Sha256::digest(key.secret().as_bytes()).to_vec();
        assert_eq!(key_digest_hex(key).len(), 64);
        // Ids are sorted (BTreeMap) and the last match wins.
        let expected = digests
            .iter()
            .rev()
            .find(|(_, d)| *d == presented)
            .map(|(id, _)| *id);
        let found = registry.authenticate(key);
        assert_eq!(
            found.as_ref().map(|c| &c.id),
            expected,
            "authenticate disagrees with the digests"
        );
        if let Some(caller) = found {
            assert!((1..=64).contains(&caller.id.len()));
            let _ = caller.may_use(DEFAULT_CREDENTIAL);
            let _ = caller.may_use(key.secret());
            if let Some(s) = caller.forbidden_scope(&scopes) {
                assert!(!caller.scopes.allows(s));
            }
        }
    }
}

fn credentials(text: &str, lines: &[String]) {
    let mut vars: HashMap<String, String> = lines
        .iter()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    if !text.is_empty() {
        vars.entry("CREDENTIALS".into())
            .or_insert_with(|| text.to_owned());
    }
    let var = |name: &str| vars.get(name).filter(|v| !v.trim().is_empty()).cloned();
    let Ok(creds) = Credentials::from_vars(var) else {
        return;
    };
    assert!(creds.get(DEFAULT_CREDENTIAL).is_some(), "no default entry");
    let mut usable = 0;
    for (name, c) in creds.all() {
        assert!(
            name == DEFAULT_CREDENTIAL || valid_name(name),
            "bad name {name:?}"
        );
        let Ok(c) = c else { continue };
        usable += 1;
        assert_eq!(c.name, name);
        assert!(!c.client_id.is_empty() && c.client_id == c.client_id.trim());
        assert!(!c.default_scopes.is_empty());
        assert_eq!(
            ScopeSet::from_comma(&c.default_scopes.to_comma()).as_ref(),
            Ok(&c.default_scopes)
        );
        assert_eq!(c.secret_binding, secret_binding(name));
        assert!(c
            .secret_binding
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'));
        for id in [&c.org_id, &c.credential_id].into_iter().flatten() {
            assert!(!id.trim().is_empty(), "blank org/credential id kept");
        }
    }
    assert_eq!(creds.usable().count(), usable);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (text, lines) = split(rest);
    if mode & 1 == 1 {
        callers(&text, &lines);
    } else {
        credentials(&text, &lines);
    }
});
