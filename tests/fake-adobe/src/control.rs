//! The test-only control API under `/__fake/`: statistics, known secrets, reset, token answer
//! config, fault injection and client registration.
//!
//! Bodies are JSON; a malformed body or an unknown field is a 400
//! `{"error":"bad_request","message":"…"}` so typos in tests fail loudly.

use serde_json::{json, Map, Value};

use crate::http::{Request, Response};
use crate::state::{lock, Fault, FaultKind, Shared, TokenConfig};

/// Path prefix of every control endpoint.
pub const PREFIX: &str = "/__fake/";

fn bad_request(message: impl Into<String>) -> Response {
    Response::json_value(
        400,
        &json!({"error": "bad_request", "message": message.into()}),
    )
}

fn object_body(req: &Request, allow_empty: bool) -> Result<Map<String, Value>, Response> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return if allow_empty {
            Ok(Map::new())
        } else {
            Err(bad_request("a JSON object body is required"))
        };
    }
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(bad_request("body must be a JSON object")),
        Err(e) => Err(bad_request(format!("invalid JSON: {e}"))),
    }
}

fn check_fields(map: &Map<String, Value>, allowed: &[&str]) -> Result<(), String> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!("unknown field: {k}")),
        None => Ok(()),
    }
}

fn u64_field(map: &Map<String, Value>, key: &str) -> Result<Option<u64>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("{key} must be a non-negative integer")),
    }
}

/// `GET /__fake/stats`.
pub fn stats(shared: &Shared) -> Response {
    let st = lock(shared);
    let calls: Vec<Value> = st
        .calls
        .iter()
        .map(|c| {
            json!({
                "at_ms": c.at_ms,
                "client_id": c.client_id,
                "scope": c.scope,
                "outcome": c.outcome,
                "fault": c.fault,
            })
        })
        .collect();
    let issued: Vec<&str> = st.issued.iter().map(|t| t.access_token.as_str()).collect();
    Response::json_value(
        200,
        &json!({
            "token_calls": st.token_calls,
            "token_successes": st.token_successes,
            "issued_tokens": issued,
            "calls": calls,
            "pending_faults": st.faults.len(),
        }),
    )
}

/// `GET /__fake/secrets`: every secret ever known, plus every token ever issued.
pub fn secrets(shared: &Shared) -> Response {
    let st = lock(shared);
    Response::json_value(
        200,
        &json!({"secrets": st.known_secrets, "all_issued_tokens": st.all_issued_tokens}),
    )
}

/// `POST /__fake/reset`.
pub fn reset(shared: &Shared) -> Response {
    lock(shared).reset();
    Response::json(200, "{}")
}

/// Renders the current token config.
pub fn config_json(cfg: &TokenConfig) -> Value {
    json!({
        "expires_in": cfg.expires_in,
        "omit_expires_in": cfg.omit_expires_in,
        "expires_in_value": cfg.expires_in_value,
        "claims_expires_in_ms": cfg.claims_expires_in_ms,
        "delay_ms": cfg.delay_ms,
    })
}

/// Applies a `POST /__fake/config` body to `cfg`; nothing changes on error.
pub fn apply_config(cfg: &mut TokenConfig, map: &Map<String, Value>) -> Result<(), String> {
    check_fields(
        map,
        &[
            "expires_in",
            "omit_expires_in",
            "expires_in_value",
            "claims_expires_in_ms",
            "delay_ms",
        ],
    )?;
    let mut new = cfg.clone();
    if let Some(v) = u64_field(map, "expires_in")? {
        new.expires_in = v;
    }
    match map.get("omit_expires_in") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => new.omit_expires_in = *b,
        Some(_) => return Err("omit_expires_in must be a boolean".to_owned()),
    }
    if let Some(v) = map.get("expires_in_value") {
        new.expires_in_value = Some(v.clone());
    }
    match map.get("claims_expires_in_ms") {
        None => {}
        Some(Value::Null) => new.claims_expires_in_ms = None,
        Some(Value::String(s)) => new.claims_expires_in_ms = Some(s.clone()),
        Some(Value::Number(n)) => new.claims_expires_in_ms = Some(n.to_string()),
        Some(_) => return Err("claims_expires_in_ms must be a number or a string".to_owned()),
    }
    if let Some(v) = u64_field(map, "delay_ms")? {
        new.delay_ms = v;
    }
    *cfg = new;
    Ok(())
}

/// `GET /__fake/config` (`update` = false) and `POST /__fake/config`.
pub fn config(shared: &Shared, req: &Request, update: bool) -> Response {
    let mut st = lock(shared);
    if update {
        let map = match object_body(req, false) {
            Ok(m) => m,
            Err(resp) => return resp,
        };
        if let Err(msg) = apply_config(&mut st.config, &map) {
            return bad_request(msg);
        }
    }
    Response::json_value(200, &config_json(&st.config))
}

/// Parses one fault object: `{"kind":"…","count":N,"retry_after":S,"ms":M}`.
pub fn parse_fault(value: &Value) -> Result<Fault, String> {
    let map = value.as_object().ok_or("a fault must be a JSON object")?;
    check_fields(map, &["kind", "count", "retry_after", "ms"])?;
    let name = map
        .get("kind")
        .and_then(Value::as_str)
        .ok_or("a fault needs a string \"kind\"")?;
    let count = u64_field(map, "count")?.unwrap_or(1);
    let retry_after = u64_field(map, "retry_after")?;
    let ms = u64_field(map, "ms")?;
    let kind = match name {
        "garbage" => FaultKind::Garbage,
        "drop" => FaultKind::Drop,
        "invalid_client" => FaultKind::InvalidClient,
        "invalid_scope" => FaultKind::InvalidScope,
        "empty_token" => FaultKind::EmptyToken,
        "slow" => FaultKind::Slow {
            ms: ms.ok_or("fault \"slow\" needs \"ms\"")?,
        },
        other => {
            let code = other
                .strip_prefix("status")
                .and_then(|c| c.parse::<u16>().ok())
                .filter(|c| *c == 429 || (500..=599).contains(c))
                .ok_or_else(|| format!("unknown fault kind: {other}"))?;
            FaultKind::Status { code, retry_after }
        }
    };
    if retry_after.is_some() && !matches!(kind, FaultKind::Status { .. }) {
        return Err("retry_after is only valid for status faults".to_owned());
    }
    if ms.is_some() && !matches!(kind, FaultKind::Slow { .. }) {
        return Err("ms is only valid for the slow fault".to_owned());
    }
    Ok(Fault {
        kind,
        remaining: (count > 0).then_some(count),
    })
}

/// `POST /__fake/faults`: `{"faults":[…]}` (or one bare fault object) appended to the queue.
pub fn faults(shared: &Shared, req: &Request) -> Response {
    let map = match object_body(req, false) {
        Ok(m) => m,
        Err(resp) => return resp,
    };
    let parsed: Result<Vec<Fault>, String> = match map.get("faults") {
        Some(Value::Array(list)) if map.len() == 1 => list.iter().map(parse_fault).collect(),
        Some(_) => Err("\"faults\" must be the only field and an array".to_owned()),
        None => parse_fault(&Value::Object(map)).map(|f| vec![f]),
    };
    match parsed {
        Ok(list) => {
            let mut st = lock(shared);
            st.faults.extend(list);
            Response::json_value(200, &json!({"pending_faults": st.faults.len()}))
        }
        Err(msg) => bad_request(msg),
    }
}

/// `POST /__fake/clients`: `{"client_id":"…","client_secret":"…","scopes":[…]|null}`.
pub fn clients(shared: &Shared, req: &Request) -> Response {
    let map = match object_body(req, false) {
        Ok(m) => m,
        Err(resp) => return resp,
    };
    if let Err(msg) = check_fields(&map, &["client_id", "client_secret", "scopes"]) {
        return bad_request(msg);
    }
    let text = |key: &str| {
        map.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let (Some(client_id), Some(secret)) = (text("client_id"), text("client_secret")) else {
        return bad_request("client_id and client_secret must be non-empty strings");
    };
    let scopes = match map.get("scopes") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            let names: Option<Vec<String>> = items
                .iter()
                .map(|v| {
                    v.as_str()
                        .filter(|s| {
                            !s.is_empty() && !s.contains(',') && !s.contains(char::is_whitespace)
                        })
                        .map(str::to_owned)
                })
                .collect();
            match names {
                Some(n) => Some(n),
                None => {
                    return bad_request(
                        "scopes must be non-empty strings without commas or whitespace",
                    )
                }
            }
        }
        Some(_) => return bad_request("scopes must be an array or null"),
    };
    lock(shared).upsert_client(&client_id, &secret, scopes);
    Response::json(200, "{}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{shared, State};

    fn fault(v: Value) -> Result<Fault, String> {
        parse_fault(&v)
    }

    #[test]
    fn parses_fault_kinds() {
        assert_eq!(
            fault(json!({"kind": "status429", "retry_after": 2})),
            Ok(Fault {
                kind: FaultKind::Status {
                    code: 429,
                    retry_after: Some(2)
                },
                remaining: Some(1)
            })
        );
        assert_eq!(
            fault(json!({"kind": "status503", "count": 0})),
            Ok(Fault {
                kind: FaultKind::Status {
                    code: 503,
                    retry_after: None
                },
                remaining: None
            })
        );
        assert_eq!(
            fault(json!({"kind": "slow", "ms": 50, "count": 3})),
            Ok(Fault {
                kind: FaultKind::Slow { ms: 50 },
                remaining: Some(3)
            })
        );
        for name in [
            "garbage",
            "drop",
            "invalid_client",
            "invalid_scope",
            "empty_token",
        ] {
            assert!(fault(json!({ "kind": name })).is_ok(), "{name}");
        }
        for bad in [
            json!({"kind": "status404"}),
            json!({"kind": "status"}),
            json!({"kind": "nope"}),
            json!({"kind": "slow"}),
            json!({"kind": "drop", "ms": 3}),
            json!({"kind": "drop", "retry_after": 3}),
            json!({"kind": "drop", "count": -1}),
            json!({"kind": "drop", "extra": 1}),
            json!({"count": 1}),
            json!("drop"),
        ] {
            assert!(fault(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn config_updates_are_partial_and_atomic() {
        let mut cfg = TokenConfig::default();
        let obj = |v: Value| v.as_object().cloned().expect("object");
        apply_config(&mut cfg, &obj(json!({"expires_in": 10, "delay_ms": 5}))).expect("ok");
        apply_config(
            &mut cfg,
            &obj(json!({"expires_in_value": -5, "claims_expires_in_ms": 7})),
        )
        .expect("ok");
        assert_eq!(cfg.expires_in, 10);
        assert_eq!(cfg.delay_ms, 5);
        assert_eq!(cfg.expires_in_value, Some(json!(-5)));
        assert_eq!(cfg.claims_expires_in_ms.as_deref(), Some("7"));
        let before = cfg.clone();
        assert!(apply_config(&mut cfg, &obj(json!({"expires_in": 1, "typo": 1}))).is_err());
        assert!(apply_config(&mut cfg, &obj(json!({"expires_in": 1, "delay_ms": "x"}))).is_err());
        assert_eq!(cfg, before);
    }

    #[test]
    fn faults_endpoint_is_all_or_nothing() {
        let sh = shared(State::new());
        let post = |body: &str| {
            faults(
                &sh,
                &Request::new("POST", "/__fake/faults", &[], body.as_bytes()),
            )
        };
        assert_eq!(
            post(r#"{"faults":[{"kind":"drop"},{"kind":"bad"}]}"#).status,
            400
        );
        assert_eq!(lock(&sh).faults.len(), 0);
        assert_eq!(
            post(r#"{"faults":[{"kind":"drop"},{"kind":"garbage","count":2}]}"#).status,
            200
        );
        assert_eq!(post(r#"{"kind":"empty_token"}"#).status, 200);
        assert_eq!(lock(&sh).faults.len(), 3);
        assert_eq!(post("not json").status, 400);
    }

    #[test]
    fn clients_endpoint() {
        let sh = shared(State::new());
        let post = |body: &str| {
            clients(
                &sh,
                &Request::new("POST", "/__fake/clients", &[], body.as_bytes()),
            )
        };
        assert_eq!(
            post(r#"{"client_id":"a","client_secret":"s","scopes":["openid"]}"#).status,
            200
        );
        assert_eq!(
            post(r#"{"client_id":"b","client_secret":"t","scopes":null}"#).status,
            200
        );
        assert_eq!(post(r#"{"client_id":"c","client_secret":""}"#).status, 400);
        assert_eq!(
            post(r#"{"client_id":"c","client_secret":"u","scopes":["a b"]}"#).status,
            400
        );
        let st = lock(&sh);
        assert_eq!(st.known_secrets, vec!["s", "t"]);
        assert_eq!(st.clients["b"].scopes, None);
    }
}
