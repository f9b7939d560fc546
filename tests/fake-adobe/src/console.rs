//! The I/O Management API's client-secret endpoints of an OAuth Server-to-Server credential:
//! `GET`/`POST /console/organizations/{orgId}/credentials/{credentialId}/secrets` and
//! `DELETE …/secrets/{uuid}`, with the shapes of `shared/reference/adobe-wire-formats.md`.
//!
//! Every call is counted by operation and logged (see [`crate::control`]). An injected fault of
//! the operation's target takes over first: `status429`/`status5xx`, `garbage` and `drop`
//! replace the call (nothing happens at "Adobe"); `slow` handles the call, then sleeps before
//! answering; `add_then_drop`/`delete_then_drop` handle the call for real, then close the
//! connection without answering. Otherwise the gateway checks run in this order:
//!
//! 1. `x-api-key` missing, or not the credential's client id (for an unknown credential: not
//!    any known client id) → 403 `403003` "Api Key is invalid";
//! 2. `Authorization: Bearer <token>` missing, not issued by this fake, revoked, or expired → 401
//!    `401013` "Oauth token is not valid";
//! 3. the token's client is not the `x-api-key`'s, or it lacks one of [`REQUIRED_SCOPES`] →
//!    403 `403010` "Insufficient scope" (a code of the fake's choosing);
//! 4. unknown `(orgId, credentialId)` → 404 `404001` "Credential not found".
//!
//! Then: a third secret → 400 `400024` "Maximum number of client secrets reached" (Adobe does
//! not document this error; the code is the fake's choice); deleting an unknown uuid → 404
//! `404002` "Client secret not found".

use serde::Serialize;
use serde_json::{json, Value};

use crate::http::{reason_phrase, Reply, Request, Response};
use crate::router::method_not_allowed;
use crate::state::{
    lock, now_ms, ApiCallRecord, ApiOp, ClientSecret, FaultKind, FaultTarget, SecretError, Shared,
    State, TokenCheck,
};

/// Scopes a token needs for every call, as the reference lists them.
pub const REQUIRED_SCOPES: [&str; 8] = [
    "AdobeID",
    "openid",
    "read_organizations",
    "additional_info.projectedProductContext",
    "additional_info.roles",
    "adobeio_api",
    "read_client_secret",
    "manage_client_secrets",
];

/// `expires_at` and `expires_at_str` of every secret: OAuth Server-to-Server secrets never
/// expire.
pub const PERMANENT: &str = "PERMANENT";

/// A gateway-style error: `{"error_code":"…","message":"…"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Adobe's `error_code`.
    pub code: &'static str,
    /// The `message`.
    pub message: &'static str,
}

impl ApiError {
    /// The HTTP response for this error.
    pub fn to_response(self) -> Response {
        Response::json_value(
            self.status,
            &json!({"error_code": self.code, "message": self.message}),
        )
    }
}

/// Missing or wrong `x-api-key`.
pub const API_KEY_INVALID: ApiError = ApiError {
    status: 403,
    code: "403003",
    message: "Api Key is invalid",
};
/// Missing, unknown, revoked or expired bearer token.
pub const TOKEN_INVALID: ApiError = ApiError {
    status: 401,
    code: "401013",
    message: "Oauth token is not valid",
};
/// The token belongs to another client or lacks a required scope.
pub const INSUFFICIENT_SCOPE: ApiError = ApiError {
    status: 403,
    code: "403010",
    message: "Insufficient scope",
};
/// Unknown `(orgId, credentialId)`.
pub const CREDENTIAL_NOT_FOUND: ApiError = ApiError {
    status: 404,
    code: "404001",
    message: "Credential not found",
};
/// Unknown secret uuid on delete.
pub const SECRET_NOT_FOUND: ApiError = ApiError {
    status: 404,
    code: "404002",
    message: "Client secret not found",
};
/// A third secret.
pub const LIMIT_REACHED: ApiError = ApiError {
    status: 400,
    code: "400024",
    message: "Maximum number of client secrets reached",
};

/// A request path of this API, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiPath {
    /// The numeric Developer Console org id.
    pub org_id: String,
    /// The credential id.
    pub credential_id: String,
    /// The secret's uuid (the `DELETE` path), if any.
    pub uuid: Option<String>,
}

/// Recognises `/console/organizations/{org}/credentials/{cred}/secrets[/{uuid}]` in already
/// decoded path segments.
pub fn parse_path(segments: &[&str]) -> Option<ApiPath> {
    let (org, cred, uuid) = match segments {
        ["console", "organizations", org, "credentials", cred, "secrets"] => (org, cred, None),
        ["console", "organizations", org, "credentials", cred, "secrets", uuid] => {
            (org, cred, Some((*uuid).to_owned()))
        }
        _ => return None,
    };
    Some(ApiPath {
        org_id: (*org).to_owned(),
        credential_id: (*cred).to_owned(),
        uuid,
    })
}

/// Dispatches a request whose path is one of this API's (405 with `Allow` for a wrong method).
pub fn route(shared: &Shared, req: &Request, path: &ApiPath) -> Reply {
    let op = match (path.uuid.is_some(), req.method.as_str()) {
        (false, "GET") => ApiOp::List,
        (false, "POST") => ApiOp::Add,
        (true, "DELETE") => ApiOp::Delete,
        (false, _) => return Reply::Send(method_not_allowed("GET, POST")),
        (true, _) => return Reply::Send(method_not_allowed("DELETE")),
    };
    handle(shared, req, op, path)
}

/// Formats ms since the epoch as Adobe's `created_at_str`: `Tue, Apr 25 2023 18:48:05.000 UTC`.
pub fn format_time(ms: u64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = ms / 1000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days, for days >= 0 (1970-01-01 was a Thursday).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    let weekday = DAYS[usize::try_from((days + 4) % 7).unwrap_or(0)];
    let month_name = MONTHS[usize::try_from(month - 1).unwrap_or(0)];
    format!(
        "{weekday}, {month_name} {day:02} {year} {:02}:{:02}:{:02}.{:03} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// `secret_usages` of a secret: `null`, or one `client_credentials` usage.
fn usages(s: &ClientSecret) -> Value {
    match s.last_used_at_ms {
        None => Value::Null,
        Some(at) => json!([{"last_used_at": at.to_string(), "grant_type": "client_credentials"}]),
    }
}

/// One entry of the list answer (never the value); fields in Adobe's order.
#[derive(Debug, Serialize)]
pub struct ListEntry {
    uuid: String,
    created_at: String,
    created_at_str: String,
    expires_at: &'static str,
    expires_at_str: &'static str,
    secret_usages: Value,
}

/// The list answer.
#[derive(Debug, Serialize)]
pub struct ListAnswer {
    client_id: String,
    client_secrets: Vec<ListEntry>,
}

/// The answer to a successful add (the only place a value is ever returned).
#[derive(Debug, Serialize)]
pub struct AddAnswer {
    uuid: String,
    client_secret: String,
    created_at: String,
    expires_at: &'static str,
    expires_at_str: &'static str,
    secret_usages: Option<Value>,
}

/// One entry of the list answer for `s`.
pub fn list_entry(s: &ClientSecret) -> ListEntry {
    ListEntry {
        uuid: s.uuid.clone(),
        created_at: s.created_at_ms.to_string(),
        created_at_str: format_time(s.created_at_ms),
        expires_at: PERMANENT,
        expires_at_str: PERMANENT,
        secret_usages: usages(s),
    }
}

/// The add answer for the new secret `s`.
pub fn add_answer(s: &ClientSecret) -> AddAnswer {
    AddAnswer {
        uuid: s.uuid.clone(),
        client_secret: s.value.clone(),
        created_at: s.created_at_ms.to_string(),
        expires_at: PERMANENT,
        expires_at_str: PERMANENT,
        secret_usages: None,
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), if any.
pub fn bearer(req: &Request) -> Option<&str> {
    let (scheme, token) = req.header("authorization")?.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The gateway checks, in order; `Ok` is the credential's client id.
pub fn authorize(st: &State, req: &Request, path: &ApiPath, now: u64) -> Result<String, ApiError> {
    let credential_client = st.credential_client(&path.org_id, &path.credential_id);
    let api_key = req.header("x-api-key").filter(|k| !k.is_empty());
    let key_ok = match (api_key, credential_client) {
        (None, _) => false,
        (Some(key), Some(client)) => key == client,
        (Some(key), None) => st.clients.contains_key(key),
    };
    let Some(api_key) = api_key.filter(|_| key_ok) else {
        return Err(API_KEY_INVALID);
    };
    let token = match bearer(req).map(|t| st.check_token(t, now)) {
        Some(TokenCheck::Valid(t)) => t,
        _ => return Err(TOKEN_INVALID),
    };
    if token.client_id != api_key || !token.has_scopes(&REQUIRED_SCOPES) {
        return Err(INSUFFICIENT_SCOPE);
    }
    credential_client
        .map(str::to_owned)
        .ok_or(CREDENTIAL_NOT_FOUND)
}

/// What handling a call did.
struct Outcome {
    resp: Response,
    /// The uuid to log when the call took effect (the new secret of an add).
    uuid: Option<String>,
    applied: bool,
}

impl Outcome {
    fn error(e: ApiError) -> Outcome {
        Outcome {
            resp: e.to_response(),
            uuid: None,
            applied: false,
        }
    }
}

/// Handles the call for real (no fault).
fn answer(st: &mut State, req: &Request, op: ApiOp, path: &ApiPath, now: u64) -> Outcome {
    let client_id = match authorize(st, req, path, now) {
        Ok(c) => c,
        Err(e) => return Outcome::error(e),
    };
    match op {
        ApiOp::List => {
            let client_secrets = st
                .clients
                .get(&client_id)
                .map(|c| c.secrets.iter().map(list_entry).collect())
                .unwrap_or_default();
            let body = ListAnswer {
                client_id,
                client_secrets,
            };
            Outcome {
                resp: Response::json_value(200, &body),
                uuid: None,
                applied: false,
            }
        }
        ApiOp::Add => match st.add_secret(&client_id, None) {
            Ok(s) => Outcome {
                resp: Response::json_value(201, &add_answer(&s))
                    .with_header("Cache-Control", "no-store"),
                uuid: Some(s.uuid),
                applied: true,
            },
            Err(SecretError::LimitReached) => Outcome::error(LIMIT_REACHED),
            Err(_) => Outcome::error(CREDENTIAL_NOT_FOUND),
        },
        ApiOp::Delete => {
            let uuid = path.uuid.as_deref().unwrap_or_default();
            match st.delete_secret(&client_id, uuid) {
                Ok(_) => Outcome {
                    resp: Response::new(204),
                    uuid: None,
                    applied: true,
                },
                Err(SecretError::UnknownClient) => Outcome::error(CREDENTIAL_NOT_FOUND),
                Err(_) => Outcome::error(SECRET_NOT_FOUND),
            }
        }
    }
}

/// The answer of a fault that replaces the call: a gateway-style error body whose `error_code`
/// is the status followed by `000` (e.g. `{"error_code":"429000","message":"Too Many
/// Requests"}`, plus `Retry-After` when asked), or `garbage`'s HTML, or a dropped connection.
pub fn fault_reply(kind: &FaultKind) -> Reply {
    let resp = match kind {
        FaultKind::Status { code, retry_after } => {
            let mut resp = Response::json_value(
                *code,
                &json!({"error_code": format!("{code}000"), "message": reason_phrase(*code)}),
            );
            if let Some(secs) = retry_after {
                resp = resp.with_header("Retry-After", secs.to_string());
            }
            resp
        }
        FaultKind::Garbage => Response::new(200).with_body("text/html", "<html>oops"),
        _ => return Reply::Drop,
    };
    Reply::Send(resp)
}

/// Handles one call of `op`: counts it, applies a fault if one is queued, logs it.
pub fn handle(shared: &Shared, req: &Request, op: ApiOp, path: &ApiPath) -> Reply {
    let at_ms = now_ms();
    let (reply, sleep_ms) = {
        let mut st = lock(shared);
        st.api_calls.bump(op);
        let fault = st.take_fault(FaultTarget::Api(op));
        let mut record = ApiCallRecord {
            at_ms,
            op,
            status: None,
            uuid: path.uuid.clone(),
            fault: fault.as_ref().map(FaultKind::name),
            applied: false,
        };
        let mut sleep_ms = 0;
        let reply = match fault {
            other @ (None
            | Some(
                FaultKind::Slow { .. } | FaultKind::AddThenDrop | FaultKind::DeleteThenDrop,
            )) => {
                if let Some(FaultKind::Slow { ms }) = other {
                    sleep_ms = ms;
                }
                let out = answer(&mut st, req, op, path, at_ms);
                record.applied = out.applied;
                if out.uuid.is_some() {
                    record.uuid = out.uuid;
                }
                match other {
                    Some(FaultKind::AddThenDrop | FaultKind::DeleteThenDrop) => Reply::Drop,
                    _ => Reply::Send(out.resp),
                }
            }
            Some(kind) => fault_reply(&kind),
        };
        record.status = match &reply {
            Reply::Send(r) => Some(r.status),
            Reply::Drop => None,
        };
        st.api_log.push(record);
        (reply, sleep_ms)
    };
    reply.after(sleep_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{shared, Fault, IssuedToken};
    use std::time::Duration;

    const ORG: &str = "1234";
    const CRED: &str = "5678";
    const CLIENT: &str = "e053client";
    const BASE: &str = "/console/organizations/1234/credentials/5678/secrets";

    fn full_scope() -> String {
        REQUIRED_SCOPES.join(",")
    }

    /// A state with one client (secret `first`), its credential and tokens: `good` (every
    /// scope), `narrow` (openid only), `expired`, and `other` (another client's).
    fn setup() -> Shared {
        let mut st = State::new();
        st.upsert_client(CLIENT, "first", None);
        st.upsert_client("other-client", "x", None);
        st.upsert_credential(ORG, CRED, CLIENT).expect("credential");
        let now = now_ms();
        let tok = |t: &str, client: &str, scope: &str, exp: u64| IssuedToken {
            access_token: t.to_owned(),
            client_id: client.to_owned(),
            scope: scope.to_owned(),
            created_at_ms: now - 10,
            expires_at_ms: exp,
        };
        st.record_issued(tok("good", CLIENT, &full_scope(), now + 60_000));
        st.record_issued(tok("narrow", CLIENT, "openid", now + 60_000));
        st.record_issued(tok("expired", CLIENT, &full_scope(), now - 1));
        st.record_issued(tok("other", "other-client", &full_scope(), now + 60_000));
        shared(st)
    }

    fn call(sh: &Shared, method: &str, target: &str, key: &str, token: &str) -> Reply {
        let auth = format!("Bearer {token}");
        let mut headers = vec![];
        if !key.is_empty() {
            headers.push(("x-api-key", key));
        }
        if !token.is_empty() {
            headers.push(("Authorization", auth.as_str()));
        }
        let req = Request::new(method, target, &headers, b"");
        let segs = crate::http::path_segments(&req.path).expect("segments");
        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
        let path = parse_path(&segs).expect("an API path");
        route(sh, &req, &path)
    }

    fn sent(reply: Reply) -> Response {
        match reply {
            Reply::Send(r) => r,
            Reply::Drop => panic!("dropped"),
        }
    }

    fn body(resp: &Response) -> Value {
        serde_json::from_slice(&resp.body).expect("json body")
    }

    fn error_code(reply: Reply) -> (u16, String) {
        let r = sent(reply);
        let b = body(&r);
        (r.status, b["error_code"].as_str().expect("code").to_owned())
    }

    #[test]
    fn formats_adobe_times() {
        assert_eq!(
            format_time(1_682_448_485_000),
            "Tue, Apr 25 2023 18:48:05.000 UTC"
        );
        assert_eq!(format_time(0), "Thu, Jan 01 1970 00:00:00.000 UTC");
        assert_eq!(
            format_time(951_782_400_123),
            "Tue, Feb 29 2000 00:00:00.123 UTC"
        );
        assert_eq!(
            format_time(1_704_067_199_999),
            "Sun, Dec 31 2023 23:59:59.999 UTC"
        );
    }

    #[test]
    fn parses_paths() {
        let p = |s: &[&str]| parse_path(s);
        assert_eq!(
            p(&[
                "console",
                "organizations",
                "1",
                "credentials",
                "2",
                "secrets"
            ]),
            Some(ApiPath {
                org_id: "1".into(),
                credential_id: "2".into(),
                uuid: None
            })
        );
        assert_eq!(
            p(&[
                "console",
                "organizations",
                "1",
                "credentials",
                "2",
                "secrets",
                "u"
            ])
            .and_then(|a| a.uuid),
            Some("u".into())
        );
        assert_eq!(
            p(&["console", "organizations", "1", "credentials", "2"]),
            None
        );
        assert_eq!(
            p(&["console", "orgs", "1", "credentials", "2", "secrets"]),
            None
        );
    }

    #[test]
    fn checks_run_in_order() {
        let sh = setup();
        let other_base = "/console/organizations/1234/credentials/9999/secrets";
        let cases: [(&str, &str, &str, u16, &str); 11] = [
            (BASE, "", "good", 403, "403003"),
            (BASE, "other-client", "good", 403, "403003"),
            (BASE, "nobody", "", 403, "403003"),
            (BASE, CLIENT, "", 401, "401013"),
            (BASE, CLIENT, "nope", 401, "401013"),
            (BASE, CLIENT, "expired", 401, "401013"),
            (BASE, CLIENT, "narrow", 403, "403010"),
            (BASE, CLIENT, "other", 403, "403010"),
            (other_base, "nobody", "good", 403, "403003"),
            (other_base, CLIENT, "good", 404, "404001"),
            (other_base, "other-client", "other", 404, "404001"),
        ];
        for (target, key, token, status, code) in cases {
            assert_eq!(
                error_code(call(&sh, "GET", target, key, token)),
                (status, code.to_owned()),
                "{target} {key} {token}"
            );
        }
        let st = lock(&sh);
        assert_eq!(st.api_calls.list, 11);
        assert!(st.api_log.iter().all(|r| !r.applied));
    }

    #[test]
    fn a_revoked_token_is_not_valid() {
        let sh = setup();
        assert_eq!(sent(call(&sh, "GET", BASE, CLIENT, "good")).status, 200);
        assert_eq!(lock(&sh).revoke("good"), Some(true));
        assert_eq!(
            error_code(call(&sh, "GET", BASE, CLIENT, "good")),
            (401, "401013".to_owned())
        );
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_messages_match() {
        let sh = setup();
        let req = Request::new(
            "GET",
            BASE,
            &[("X-Api-Key", CLIENT), ("authorization", "bearer good")],
            b"",
        );
        let path = parse_path(&[
            "console",
            "organizations",
            ORG,
            "credentials",
            CRED,
            "secrets",
        ])
        .expect("path");
        assert_eq!(sent(route(&sh, &req, &path)).status, 200);
        let r = sent(call(&sh, "GET", BASE, CLIENT, "narrow"));
        assert_eq!(
            body(&r),
            json!({"error_code":"403010","message":"Insufficient scope"})
        );
        let r = sent(call(&sh, "GET", BASE, "", "good"));
        assert_eq!(
            body(&r),
            json!({"error_code":"403003","message":"Api Key is invalid"})
        );
        let r = sent(call(&sh, "GET", BASE, CLIENT, "x"));
        assert_eq!(
            body(&r),
            json!({"error_code":"401013","message":"Oauth token is not valid"})
        );
    }

    #[test]
    fn answers_keep_adobes_key_order() {
        let mut s = ClientSecret {
            uuid: "0123456789abcdef0123456789abcdef".to_owned(),
            value: "p8e-value".to_owned(),
            created_at_ms: 1_682_448_485_000,
            last_used_at_ms: None,
        };
        let add = serde_json::to_string(&add_answer(&s)).expect("add");
        assert_eq!(
            add,
            r#"{"uuid":"0123456789abcdef0123456789abcdef","client_secret":"p8e-value","created_at":"1682448485000","expires_at":"PERMANENT","expires_at_str":"PERMANENT","secret_usages":null}"#
        );
        s.last_used_at_ms = Some(1_682_448_486_000);
        let list = serde_json::to_string(&ListAnswer {
            client_id: "c".to_owned(),
            client_secrets: vec![list_entry(&s)],
        })
        .expect("list");
        assert_eq!(
            list,
            r#"{"client_id":"c","client_secrets":[{"uuid":"0123456789abcdef0123456789abcdef","created_at":"1682448485000","created_at_str":"Tue, Apr 25 2023 18:48:05.000 UTC","expires_at":"PERMANENT","expires_at_str":"PERMANENT","secret_usages":[{"grant_type":"client_credentials","last_used_at":"1682448486000"}]}]}"#
        );
    }

    #[test]
    fn list_add_delete_and_the_limit() {
        let sh = setup();
        let first = lock(&sh).clients[CLIENT].secrets[0].clone();
        lock(&sh).mark_secret_used(CLIENT, &first.uuid, 1_683_162_010_101);

        let r = sent(call(&sh, "GET", BASE, CLIENT, "good"));
        assert_eq!(r.status, 200);
        let text = String::from_utf8(r.body.clone()).expect("utf8");
        assert!(!text.contains("first"), "no secret value in a list");
        assert!(text.starts_with(r#"{"client_id":"e053client","client_secrets":[{"uuid":""#));
        let b = body(&r);
        let entry = &b["client_secrets"][0];
        assert_eq!(entry["uuid"], first.uuid.as_str());
        assert_eq!(entry["created_at"], first.created_at_ms.to_string());
        assert_eq!(entry["created_at_str"], format_time(first.created_at_ms));
        assert_eq!(entry["expires_at"], "PERMANENT");
        assert_eq!(entry["expires_at_str"], "PERMANENT");
        assert_eq!(
            entry["secret_usages"],
            json!([{"last_used_at":"1683162010101","grant_type":"client_credentials"}])
        );

        let r = sent(call(&sh, "POST", BASE, CLIENT, "good"));
        assert_eq!(r.status, 201);
        let added = body(&r);
        let uuid = added["uuid"].as_str().expect("uuid").to_owned();
        let value = added["client_secret"].as_str().expect("value").to_owned();
        assert!(value.starts_with("p8e-"));
        assert_eq!(added["expires_at"], "PERMANENT");
        assert_eq!(added["secret_usages"], Value::Null);
        assert!(added.get("created_at_str").is_none());
        assert_eq!(
            lock(&sh).clients[CLIENT]
                .secret_by_value(&value)
                .map(|s| s.uuid.clone()),
            Some(uuid.clone())
        );

        // A third one is refused.
        let r = sent(call(&sh, "POST", BASE, CLIENT, "good"));
        assert_eq!(
            (r.status, body(&r)),
            (
                400,
                json!({"error_code":"400024","message":"Maximum number of client secrets reached"})
            )
        );
        let listed = body(&sent(call(&sh, "GET", BASE, CLIENT, "good")));
        assert_eq!(listed["client_secrets"].as_array().map(Vec::len), Some(2));
        assert_eq!(listed["client_secrets"][1]["secret_usages"], Value::Null);

        // Delete the old one; deleting it again is a 404.
        let target = format!("{BASE}/{}", first.uuid);
        let r = sent(call(&sh, "DELETE", &target, CLIENT, "good"));
        assert_eq!((r.status, r.body.len()), (204, 0));
        assert_eq!(
            error_code(call(&sh, "DELETE", &target, CLIENT, "good")),
            (404, "404002".to_owned())
        );

        let st = lock(&sh);
        assert_eq!(st.clients[CLIENT].secrets.len(), 1);
        assert_eq!(st.clients[CLIENT].max_secrets_seen, 2);
        assert_eq!(
            (st.api_calls.list, st.api_calls.add, st.api_calls.delete),
            (2, 2, 2)
        );
        let log: Vec<(ApiOp, Option<u16>, bool)> = st
            .api_log
            .iter()
            .map(|r| (r.op, r.status, r.applied))
            .collect();
        assert_eq!(
            log,
            [
                (ApiOp::List, Some(200), false),
                (ApiOp::Add, Some(201), true),
                (ApiOp::Add, Some(400), false),
                (ApiOp::List, Some(200), false),
                (ApiOp::Delete, Some(204), true),
                (ApiOp::Delete, Some(404), false),
            ]
        );
        assert_eq!(st.api_log[1].uuid.as_deref(), Some(uuid.as_str()));
        assert_eq!(st.api_log[4].uuid.as_deref(), Some(first.uuid.as_str()));
        assert_eq!(st.api_log[0].uuid, None);
        assert!(st.known_secrets.contains(&value));
    }

    #[test]
    fn wrong_methods_are_405() {
        let sh = setup();
        let r = sent(call(&sh, "PUT", BASE, CLIENT, "good"));
        assert_eq!((r.status, r.header("allow")), (405, Some("GET, POST")));
        let r = sent(call(&sh, "GET", &format!("{BASE}/abc"), CLIENT, "good"));
        assert_eq!((r.status, r.header("allow")), (405, Some("DELETE")));
        let st = lock(&sh);
        assert_eq!(st.api_calls, Default::default());
        assert!(st.api_log.is_empty());
    }

    fn push(sh: &Shared, op: ApiOp, kind: FaultKind) {
        lock(sh).push_fault(
            FaultTarget::Api(op),
            Fault {
                kind,
                remaining: Some(1),
            },
        );
    }

    #[test]
    fn faults_per_target() {
        let sh = setup();
        push(
            &sh,
            ApiOp::List,
            FaultKind::Status {
                code: 429,
                retry_after: Some(4),
            },
        );
        push(
            &sh,
            ApiOp::Add,
            FaultKind::Status {
                code: 503,
                retry_after: None,
            },
        );
        push(&sh, ApiOp::Add, FaultKind::Garbage);
        push(&sh, ApiOp::Delete, FaultKind::Drop);

        // An add fault does not touch list; list's own fault does.
        let r = sent(call(&sh, "GET", BASE, CLIENT, "good"));
        assert_eq!((r.status, r.header("retry-after")), (429, Some("4")));
        assert_eq!(
            body(&r),
            json!({"error_code":"429000","message":"Too Many Requests"})
        );
        assert_eq!(sent(call(&sh, "GET", BASE, CLIENT, "good")).status, 200);

        // Replacing faults leave Adobe untouched.
        assert_eq!(
            error_code(call(&sh, "POST", BASE, CLIENT, "good")),
            (503, "503000".to_owned())
        );
        let g = sent(call(&sh, "POST", BASE, CLIENT, "good"));
        assert_eq!(
            (g.status, g.header("content-type")),
            (200, Some("text/html"))
        );
        assert_eq!(lock(&sh).clients[CLIENT].secrets.len(), 1);
        let uuid = lock(&sh).clients[CLIENT].secrets[0].uuid.clone();
        let target = format!("{BASE}/{uuid}");
        assert_eq!(call(&sh, "DELETE", &target, CLIENT, "good"), Reply::Drop);
        assert_eq!(lock(&sh).clients[CLIENT].secrets.len(), 1);

        // Even a faulted call with bad credentials consumes the fault (and is counted).
        push(&sh, ApiOp::List, FaultKind::Garbage);
        assert_eq!(sent(call(&sh, "GET", BASE, "", "")).status, 200);

        let st = lock(&sh);
        let faults: Vec<Option<&str>> = st.api_log.iter().map(|r| r.fault.as_deref()).collect();
        assert_eq!(
            faults,
            [
                Some("status429"),
                None,
                Some("status503"),
                Some("garbage"),
                Some("drop"),
                Some("garbage")
            ]
        );
        assert_eq!(st.api_log[4].status, None);
        assert!(!st.api_log[4].applied);
        assert_eq!(st.pending_faults(), 0);
    }

    #[test]
    fn then_drop_faults_take_effect() {
        let sh = setup();
        push(&sh, ApiOp::Add, FaultKind::AddThenDrop);
        assert_eq!(call(&sh, "POST", BASE, CLIENT, "good"), Reply::Drop);
        let (new_uuid, first_uuid, new_value) = {
            let st = lock(&sh);
            let c = &st.clients[CLIENT];
            assert_eq!(c.secrets.len(), 2, "the secret exists at Adobe");
            let rec = st.api_log.last().expect("logged");
            assert_eq!((rec.status, rec.applied), (None, true));
            assert_eq!(rec.uuid.as_deref(), Some(c.secrets[1].uuid.as_str()));
            (
                c.secrets[1].uuid.clone(),
                c.secrets[0].uuid.clone(),
                c.secrets[1].value.clone(),
            )
        };
        assert!(lock(&sh).known_secrets.contains(&new_value));

        // The lost secret shows in the list (without its value) and can be deleted.
        let listed = body(&sent(call(&sh, "GET", BASE, CLIENT, "good")));
        assert_eq!(listed["client_secrets"][1]["uuid"], new_uuid.as_str());

        push(&sh, ApiOp::Delete, FaultKind::DeleteThenDrop);
        let target = format!("{BASE}/{first_uuid}");
        assert_eq!(call(&sh, "DELETE", &target, CLIENT, "good"), Reply::Drop);
        let st = lock(&sh);
        assert_eq!(st.clients[CLIENT].secrets.len(), 1);
        assert_eq!(st.clients[CLIENT].secrets[0].uuid, new_uuid);
        let rec = st.api_log.last().expect("logged");
        assert_eq!(
            (rec.status, rec.applied, rec.fault.as_deref()),
            (None, true, Some("delete_then_drop"))
        );
    }

    #[test]
    fn then_drop_of_a_rejected_call_changes_nothing() {
        let sh = setup();
        push(&sh, ApiOp::Add, FaultKind::AddThenDrop);
        assert_eq!(call(&sh, "POST", BASE, CLIENT, "narrow"), Reply::Drop);
        let st = lock(&sh);
        assert_eq!(st.clients[CLIENT].secrets.len(), 1);
        assert!(!st.api_log[0].applied);
    }

    #[test]
    fn slow_handles_then_sleeps() {
        let sh = setup();
        push(&sh, ApiOp::Add, FaultKind::Slow { ms: 30 });
        let started = std::time::Instant::now();
        assert_eq!(sent(call(&sh, "POST", BASE, CLIENT, "good")).status, 201);
        assert!(started.elapsed() >= Duration::from_millis(30));
        assert_eq!(lock(&sh).api_log[0].fault.as_deref(), Some("slow"));
    }
}
