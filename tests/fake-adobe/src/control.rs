//! The test-only control API under `/__fake/`: statistics, known secrets, reset, token answer
//! config, fault injection (per target: IMS, one I/O Management API operation, or the profile
//! API), client and credential registration, token revocation, and a view of (and direct changes
//! to) each client's secrets.
//!
//! Bodies are JSON; a malformed body or an unknown field is a 400
//! `{"error":"bad_request","message":"…"}` so typos in tests fail loudly. An unknown client or
//! secret in a path is a 404 `{"error":"not_found",…}`; a secret that cannot be added (the
//! 2-secret limit, a duplicate value) is a 409 `{"error":"conflict",…}`.

use serde_json::{json, Map, Value};

use crate::http::{Request, Response};
use crate::state::{
    lock, ApiOp, ClientSecret, Fault, FaultKind, FaultTarget, SecretError, Shared, TokenConfig,
};

/// Path prefix of every control endpoint.
pub const PREFIX: &str = "/__fake/";

fn bad_request(message: impl Into<String>) -> Response {
    Response::json_value(
        400,
        &json!({"error": "bad_request", "message": message.into()}),
    )
}

fn not_found(message: impl Into<String>) -> Response {
    Response::json_value(
        404,
        &json!({"error": "not_found", "message": message.into()}),
    )
}

fn secret_error(e: SecretError) -> Response {
    match e {
        SecretError::UnknownClient | SecretError::UnknownSecret => not_found(e.to_string()),
        SecretError::LimitReached | SecretError::DuplicateValue | SecretError::DuplicateUuid => {
            Response::json_value(409, &json!({"error": "conflict", "message": e.to_string()}))
        }
    }
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
                "secret_uuid": c.secret_uuid,
            })
        })
        .collect();
    let issued: Vec<&str> = st.issued.iter().map(|t| t.access_token.as_str()).collect();
    let api_calls: Map<String, Value> = ApiOp::ALL
        .iter()
        .map(|op| (op.name().to_owned(), Value::from(st.api_calls.get(*op))))
        .collect();
    let api_log: Vec<Value> = st
        .api_log
        .iter()
        .map(|r| {
            let mut entry = json!({
                "at_ms": r.at_ms,
                "op": r.op.name(),
                "status": r.status,
                "fault": r.fault,
                "applied": r.applied,
            });
            if let (Some(uuid), Some(map)) = (&r.uuid, entry.as_object_mut()) {
                map.insert("uuid".to_owned(), Value::from(uuid.clone()));
            }
            entry
        })
        .collect();
    let profile_log: Vec<Value> = st
        .profile_log
        .iter()
        .map(|r| {
            json!({
                "at_ms": r.at_ms,
                "status": r.status,
                "outcome": r.outcome,
                "access_token": r.access_token,
                "api_key": r.api_key,
                "fault": r.fault,
            })
        })
        .collect();
    let by_target: Map<String, Value> = FaultTarget::ALL
        .iter()
        .map(|t| (t.name().to_owned(), Value::from(st.pending_faults_for(*t))))
        .collect();
    Response::json_value(
        200,
        &json!({
            "token_calls": st.token_calls,
            "token_successes": st.token_successes,
            "issued_tokens": issued,
            "calls": calls,
            "pending_faults": st.pending_faults(),
            "pending_faults_by_target": by_target,
            "api_calls": api_calls,
            "api_log": api_log,
            "profile_calls": st.profile_calls,
            "profile_outcomes": st.profile_outcomes,
            "profile_log": profile_log,
            "revoked_tokens": st.revoked.len(),
        }),
    )
}

/// `GET /__fake/secrets`: every secret ever known (deleted ones and ones created through the
/// I/O Management API included), plus every token ever issued.
pub fn secrets(shared: &Shared) -> Response {
    let st = lock(shared);
    let tokens: Vec<&str> = st
        .all_issued
        .iter()
        .map(|t| t.access_token.as_str())
        .collect();
    Response::json_value(
        200,
        &json!({"secrets": st.known_secrets, "all_issued_tokens": tokens}),
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

/// Parses one fault object: `{"target":"ims"|"list"|"add"|"delete"|"profile","kind":"…",
/// "count":N,"retry_after":S,"ms":M}` (`target` defaults to `ims`).
pub fn parse_fault(value: &Value) -> Result<(FaultTarget, Fault), String> {
    let map = value.as_object().ok_or("a fault must be a JSON object")?;
    check_fields(map, &["target", "kind", "count", "retry_after", "ms"])?;
    let target = match map.get("target") {
        None | Some(Value::Null) => FaultTarget::Ims,
        Some(Value::String(name)) => FaultTarget::parse(name)
            .ok_or_else(|| "target must be one of ims, list, add, delete, profile".to_owned())?,
        Some(_) => return Err("target must be a string".to_owned()),
    };
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
        "add_then_drop" => FaultKind::AddThenDrop,
        "delete_then_drop" => FaultKind::DeleteThenDrop,
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
    if !kind.valid_for(target) {
        return Err(format!(
            "fault kind {name} is not valid for target {}",
            target.name()
        ));
    }
    Ok((
        target,
        Fault {
            kind,
            remaining: (count > 0).then_some(count),
        },
    ))
}

/// `POST /__fake/faults`: `{"faults":[…]}` (or one bare fault object) appended to the queue.
pub fn faults(shared: &Shared, req: &Request) -> Response {
    let map = match object_body(req, false) {
        Ok(m) => m,
        Err(resp) => return resp,
    };
    let parsed: Result<Vec<(FaultTarget, Fault)>, String> = match map.get("faults") {
        Some(Value::Array(list)) if map.len() == 1 => list.iter().map(parse_fault).collect(),
        Some(_) => Err("\"faults\" must be the only field and an array".to_owned()),
        None => parse_fault(&Value::Object(map)).map(|f| vec![f]),
    };
    match parsed {
        Ok(list) => {
            let mut st = lock(shared);
            for (target, fault) in list {
                st.push_fault(target, fault);
            }
            Response::json_value(200, &json!({"pending_faults": st.pending_faults()}))
        }
        Err(msg) => bad_request(msg),
    }
}

/// `POST /__fake/clients`: `{"client_id":"…","client_secret":"…","scopes":[…]|null}`. A new
/// client's first secret is `client_secret`; an existing client's secrets are replaced by it.
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

fn non_empty_string(map: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(format!("{key} must be a non-empty string")),
    }
}

/// `POST /__fake/credentials`: `{"org_id":"…","credential_id":"…","client_id":"…"}` maps a
/// Developer Console credential to an existing client (400 for an unknown client).
pub fn credentials(shared: &Shared, req: &Request) -> Response {
    let map = match object_body(req, false) {
        Ok(m) => m,
        Err(resp) => return resp,
    };
    let fields = check_fields(&map, &["org_id", "credential_id", "client_id"]).and_then(|()| {
        let get = |k: &str| non_empty_string(&map, k)?.ok_or_else(|| format!("{k} is required"));
        Ok((get("org_id")?, get("credential_id")?, get("client_id")?))
    });
    let (org, cred, client) = match fields {
        Ok(f) => f,
        Err(msg) => return bad_request(msg),
    };
    match lock(shared).upsert_credential(&org, &cred, &client) {
        Ok(()) => Response::json(200, "{}"),
        Err(e) => bad_request(format!("{e}: {client}")),
    }
}

/// `POST /__fake/revoke`: no body (or `{}`) revokes every token issued so far;
/// `{"access_token":"…"}` revokes that one (404 if the fake never issued it). Answers
/// `{"revoked":n}`, how many tokens were not revoked before. A revoked token is refused by every
/// API that takes one (401), and stays revoked across reset.
pub fn revoke(shared: &Shared, req: &Request) -> Response {
    let map = match object_body(req, true) {
        Ok(m) => m,
        Err(resp) => return resp,
    };
    let token =
        check_fields(&map, &["access_token"]).and_then(|()| non_empty_string(&map, "access_token"));
    let mut st = lock(shared);
    let revoked = match token {
        Err(msg) => return bad_request(msg),
        Ok(None) => st.revoke_all(),
        Ok(Some(t)) => match st.revoke(&t) {
            None => return not_found("the fake never issued this token"),
            Some(newly) => usize::from(newly),
        },
    };
    Response::json_value(200, &json!({ "revoked": revoked }))
}

/// The test-only view of one secret, value included.
fn secret_view(s: &ClientSecret) -> Value {
    json!({
        "uuid": s.uuid,
        "client_secret": s.value,
        "created_at_ms": s.created_at_ms,
        "last_used_at_ms": s.last_used_at_ms,
    })
}

/// `GET /__fake/clients/{client_id}/secrets`: `{"secrets":[{"uuid","client_secret",
/// "created_at_ms","last_used_at_ms"}],"max_secrets_seen":n}`.
pub fn client_secrets(shared: &Shared, client_id: &str) -> Response {
    let st = lock(shared);
    let Some(client) = st.clients.get(client_id) else {
        return not_found("unknown client");
    };
    let list: Vec<Value> = client.secrets.iter().map(secret_view).collect();
    Response::json_value(
        200,
        &json!({"secrets": list, "max_secrets_seen": client.max_secrets_seen}),
    )
}

/// `POST /__fake/clients/{client_id}/secrets`: `{"client_secret":"…","uuid":"…"}` (both
/// optional; no body: a random value and uuid) adds a secret directly, within the 2-secret
/// limit; answers the new secret's view. `uuid` (32 lowercase hex characters) recreates a secret
/// Adobe held under that uuid.
pub fn add_client_secret(shared: &Shared, req: &Request, client_id: &str) -> Response {
    let map = match object_body(req, true) {
        Ok(m) => m,
        Err(resp) => return resp,
    };
    let fields = check_fields(&map, &["client_secret", "uuid"]).and_then(|()| {
        Ok((
            non_empty_string(&map, "client_secret")?,
            non_empty_string(&map, "uuid")?,
        ))
    });
    let (value, uuid) = match fields {
        Ok(v) => v,
        Err(msg) => return bad_request(msg),
    };
    if let Some(u) = &uuid {
        if u.len() != 32
            || !u
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return bad_request("uuid must be 32 lowercase hex characters");
        }
    }
    match lock(shared).add_secret_as(client_id, value.as_deref(), uuid.as_deref()) {
        Ok(s) => Response::json_value(200, &secret_view(&s)),
        Err(e) => secret_error(e),
    }
}

/// `DELETE /__fake/clients/{client_id}/secrets/{uuid}`: deletes a secret behind the broker's
/// back; answers `{}`.
pub fn delete_client_secret(shared: &Shared, client_id: &str, uuid: &str) -> Response {
    match lock(shared).delete_secret(client_id, uuid) {
        Ok(_) => Response::json(200, "{}"),
        Err(e) => secret_error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{shared, State};

    fn fault(v: Value) -> Result<Fault, String> {
        parse_fault(&v).map(|(target, f)| {
            assert_eq!(target, FaultTarget::Ims);
            f
        })
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
            json!({"kind": "add_then_drop"}),
            json!({"kind": "delete_then_drop", "target": "ims"}),
        ] {
            assert!(fault(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_fault_targets() {
        let parsed = |v: Value| parse_fault(&v);
        assert_eq!(
            parsed(json!({"target": "add", "kind": "add_then_drop"})),
            Ok((
                FaultTarget::Api(ApiOp::Add),
                Fault {
                    kind: FaultKind::AddThenDrop,
                    remaining: Some(1)
                }
            ))
        );
        assert_eq!(
            parsed(json!({"target": "delete", "kind": "delete_then_drop", "count": 0}))
                .map(|(t, f)| (t, f.remaining)),
            Ok((FaultTarget::Api(ApiOp::Delete), None))
        );
        for (target, kind) in [
            ("list", "status500"),
            ("list", "status429"),
            ("add", "garbage"),
            ("delete", "drop"),
            ("list", "slow"),
            ("ims", "drop"),
            ("profile", "status503"),
            ("profile", "slow"),
            ("profile", "drop"),
        ] {
            let v = json!({"target": target, "kind": kind, "ms": if kind == "slow" { json!(5) } else { Value::Null }});
            assert!(parsed(v).is_ok(), "{target} {kind}");
        }
        for bad in [
            json!({"target": "list", "kind": "add_then_drop"}),
            json!({"target": "add", "kind": "delete_then_drop"}),
            json!({"target": "list", "kind": "invalid_client"}),
            json!({"target": "delete", "kind": "empty_token"}),
            json!({"target": "profile", "kind": "invalid_client"}),
            json!({"target": "profile", "kind": "add_then_drop"}),
            json!({"target": "token", "kind": "drop"}),
            json!({"target": 1, "kind": "drop"}),
        ] {
            assert!(parsed(bad.clone()).is_err(), "{bad}");
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
        assert_eq!(lock(&sh).pending_faults(), 0);
        assert_eq!(
            post(r#"{"faults":[{"kind":"drop"},{"kind":"garbage","count":2}]}"#).status,
            200
        );
        assert_eq!(post(r#"{"kind":"empty_token"}"#).status, 200);
        assert_eq!(lock(&sh).pending_faults(), 3);
        let resp = post(r#"{"faults":[{"target":"add","kind":"add_then_drop"}]}"#);
        let body: Value = serde_json::from_slice(&resp.body).expect("json");
        assert_eq!(body, json!({"pending_faults": 4}));
        assert_eq!(
            lock(&sh).pending_faults_for(FaultTarget::Api(ApiOp::Add)),
            1
        );
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

    fn json_of(resp: &Response) -> Value {
        serde_json::from_slice(&resp.body).expect("json")
    }

    #[test]
    fn credentials_endpoint() {
        let sh = shared(State::new());
        lock(&sh).upsert_client("c", "s", None);
        let post = |body: &str| {
            credentials(
                &sh,
                &Request::new("POST", "/__fake/credentials", &[], body.as_bytes()),
            )
        };
        assert_eq!(
            post(r#"{"org_id":"1","credential_id":"2","client_id":"c"}"#).status,
            200
        );
        assert_eq!(
            post(r#"{"org_id":"1","credential_id":"3","client_id":"nope"}"#).status,
            400
        );
        assert_eq!(post(r#"{"org_id":"1","credential_id":"3"}"#).status, 400);
        assert_eq!(
            post(r#"{"org_id":"1","credential_id":"","client_id":"c"}"#).status,
            400
        );
        assert_eq!(
            post(r#"{"org_id":"1","credential_id":"3","client_id":"c","x":1}"#).status,
            400
        );
        let st = lock(&sh);
        assert_eq!(st.credential_client("1", "2"), Some("c"));
        assert_eq!(st.credentials.len(), 1);
    }

    #[test]
    fn client_secret_endpoints() {
        let sh = shared(State::new());
        lock(&sh).upsert_client("c", "first", None);
        let add = |body: &str| {
            add_client_secret(&sh, &Request::new("POST", "/x", &[], body.as_bytes()), "c")
        };
        let view = json_of(&client_secrets(&sh, "c"));
        assert_eq!(view["max_secrets_seen"], 1);
        assert_eq!(view["secrets"][0]["client_secret"], "first");
        assert_eq!(view["secrets"][0]["last_used_at_ms"], Value::Null);
        let first_uuid = view["secrets"][0]["uuid"]
            .as_str()
            .expect("uuid")
            .to_owned();

        assert_eq!(add(r#"{"client_secret":"first"}"#).status, 409);
        assert_eq!(add(r#"{"client_secret":""}"#).status, 400);
        assert_eq!(add(r#"{"value":"x"}"#).status, 400);
        let added = add(r#"{"client_secret":"second"}"#);
        assert_eq!(added.status, 200);
        assert_eq!(json_of(&added)["client_secret"], "second");
        let full = add("");
        assert_eq!(
            (full.status, json_of(&full)["error"].as_str()),
            (409, Some("conflict"))
        );

        assert_eq!(delete_client_secret(&sh, "c", &first_uuid).status, 200);
        assert_eq!(delete_client_secret(&sh, "c", &first_uuid).status, 404);
        assert_eq!(delete_client_secret(&sh, "nope", &first_uuid).status, 404);
        assert_eq!(client_secrets(&sh, "nope").status, 404);
        let generated = json_of(&add(""));
        assert!(generated["client_secret"]
            .as_str()
            .is_some_and(|v| v.starts_with("p8e-")));
        let view = json_of(&client_secrets(&sh, "c"));
        assert_eq!(view["secrets"].as_array().map(Vec::len), Some(2));
        assert_eq!(view["secrets"][0]["client_secret"], "second");
        assert_eq!(view["max_secrets_seen"], 2);

        let known = json_of(&secrets(&sh));
        assert_eq!(known["secrets"][0], "first");
        assert_eq!(known["secrets"][1], "second");
        assert_eq!(known["secrets"].as_array().map(Vec::len), Some(3));
    }

    #[test]
    fn revoke_endpoint() {
        let sh = shared(State::new());
        let post = |body: &str| {
            revoke(
                &sh,
                &Request::new("POST", "/__fake/revoke", &[], body.as_bytes()),
            )
        };
        for t in ["a", "b"] {
            lock(&sh).record_issued(crate::state::IssuedToken {
                access_token: t.to_owned(),
                client_id: "c".to_owned(),
                scope: "openid".to_owned(),
                created_at_ms: 1,
                expires_at_ms: u64::MAX,
            });
        }
        assert_eq!(
            json_of(&post(r#"{"access_token":"a"}"#)),
            json!({"revoked": 1})
        );
        assert_eq!(
            json_of(&post(r#"{"access_token":"a"}"#)),
            json!({"revoked": 0})
        );
        assert_eq!(post(r#"{"access_token":"zz"}"#).status, 404);
        assert_eq!(post(r#"{"access_token":""}"#).status, 400);
        assert_eq!(post(r#"{"token":"a"}"#).status, 400);
        assert_eq!(post("[]").status, 400);
        assert_eq!(json_of(&post("")), json!({"revoked": 1}));
        assert_eq!(json_of(&post("{}")), json!({"revoked": 0}));
        assert_eq!(json_of(&stats(&sh))["revoked_tokens"], 2);
    }

    #[test]
    fn stats_show_profile_calls() {
        let sh = shared(State::new());
        lock(&sh).upsert_client("c", "s", None);
        let call = |key: &str| {
            crate::profile::handle(
                &sh,
                &Request::new(
                    "GET",
                    crate::profile::PROFILE_PATH,
                    &[("x-api-key", key), ("authorization", "Bearer nope")],
                    b"",
                ),
            )
        };
        call("c");
        call("c");
        call("x");
        let s = json_of(&stats(&sh));
        assert_eq!(s["profile_calls"], 3);
        assert_eq!(
            s["profile_outcomes"],
            json!({"api_key_invalid": 1, "token_unknown": 2})
        );
        assert_eq!(
            s["profile_log"][0],
            json!({"at_ms": s["profile_log"][0]["at_ms"], "status": 401, "outcome": "token_unknown",
                   "access_token": "nope", "api_key": "c", "fault": null})
        );
        assert_eq!(s["pending_faults_by_target"]["profile"], 0);
        reset(&sh);
        let s = json_of(&stats(&sh));
        assert_eq!(s["profile_calls"], 0);
        assert_eq!(s["profile_outcomes"], json!({}));
        assert_eq!(s["profile_log"], json!([]));
    }

    #[test]
    fn a_secret_can_be_added_under_a_given_uuid() {
        let sh = shared(State::new());
        lock(&sh).upsert_client("c", "first", None);
        let add = |body: &str| {
            add_client_secret(&sh, &Request::new("POST", "/x", &[], body.as_bytes()), "c")
        };
        let uuid = "0123456789abcdef0123456789abcdef";
        for bad in [
            "0123",
            "0123456789ABCDEF0123456789ABCDEF",
            "0123456789abcdef0123456789abcdeg",
        ] {
            let body = format!(r#"{{"client_secret":"s","uuid":"{bad}"}}"#);
            assert_eq!(add(&body).status, 400, "{bad}");
        }
        let added = add(&format!(r#"{{"client_secret":"second","uuid":"{uuid}"}}"#));
        assert_eq!(added.status, 200);
        assert_eq!(json_of(&added)["uuid"], uuid);
        let first = json_of(&client_secrets(&sh, "c"))["secrets"][0]["uuid"]
            .as_str()
            .expect("uuid")
            .to_owned();
        assert_eq!(delete_client_secret(&sh, "c", &first).status, 200);
        assert_eq!(
            add(&format!(r#"{{"client_secret":"third","uuid":"{uuid}"}}"#)).status,
            409,
            "a uuid the client holds"
        );
        let view = json_of(&client_secrets(&sh, "c"));
        assert_eq!(view["secrets"][0]["uuid"], uuid);
        assert_eq!(view["secrets"].as_array().map(Vec::len), Some(1));
    }
}
