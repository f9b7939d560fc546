//! `POST /ims/token/v3`: a strict fake of Adobe IMS's OAuth Server-to-Server
//! (`client_credentials`) token endpoint.
//!
//! Every call is counted and recorded. An injected fault (see [`crate::control`]) takes over the
//! answer, except `slow`, which only delays a normal answer. Otherwise checks run in this order,
//! each failure a 400 with an OAuth error body: no query string; form content type; well-formed
//! form with no unknown or duplicate parameter (`invalid_request`); `grant_type`
//! (`unsupported_grant_type`); `client_id`, then `client_secret` (`invalid_client`); `scope`
//! (`invalid_scope`).
//!
//! A client may hold several client secrets (see [`crate::state::Client`]): any CURRENT one is
//! accepted, a deleted one is `invalid_client`, and a success stamps the secret's
//! `last_used_at_ms`. Every issued token is remembered with its client, scope and expiry, which
//! is how the I/O Management API ([`crate::console`]) validates bearer tokens.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};

use crate::form;
use crate::http::{Reply, Request, Response};
use crate::jwt::{self, TokenClaims};
use crate::state::{lock, now_ms, CallRecord, FaultKind, FaultTarget, IssuedToken, Shared, State};

/// The token endpoint's path.
pub const TOKEN_PATH: &str = "/ims/token/v3";

/// The only parameters the endpoint accepts.
pub const KNOWN_PARAMS: [&str; 4] = ["grant_type", "client_id", "client_secret", "scope"];

const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// An OAuth 2.0 error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// HTTP status.
    pub status: u16,
    /// The `error` code, e.g. `invalid_client`.
    pub error: &'static str,
    /// The `error_description`.
    pub description: String,
}

impl OAuthError {
    fn bad_request(error: &'static str, description: impl Into<String>) -> OAuthError {
        OAuthError {
            status: 400,
            error,
            description: description.into(),
        }
    }

    /// The HTTP response for this error.
    pub fn to_response(&self) -> Response {
        oauth_error_response(self.status, self.error, &self.description)
    }
}

/// An OAuth-style JSON error response.
pub fn oauth_error_response(status: u16, error: &str, description: &str) -> Response {
    Response::json_value(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

fn invalid_request(description: impl Into<String>) -> OAuthError {
    OAuthError::bad_request("invalid_request", description)
}

fn invalid_scope() -> OAuthError {
    OAuthError::bad_request("invalid_scope", "invalid scope")
}

/// A request that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The authenticated client.
    pub client_id: String,
    /// The scope string as requested.
    pub scope: String,
    /// The uuid of the client secret that authenticated the request.
    pub secret_uuid: String,
}

/// Whether a `Content-Type` value is `application/x-www-form-urlencoded` (parameters such as
/// `charset` allowed).
pub fn is_form_content_type(value: Option<&str>) -> bool {
    value.is_some_and(|v| {
        v.split(';')
            .next()
            .is_some_and(|media| media.trim().eq_ignore_ascii_case(FORM_CONTENT_TYPE))
    })
}

/// Splits a comma-separated scope string; `None` if it is empty, has an empty item or any
/// whitespace (so a space-separated RFC 6749 scope string is rejected).
pub fn parse_scope(scope: &str) -> Option<Vec<&str>> {
    let items: Vec<&str> = scope.split(',').collect();
    let ok = items
        .iter()
        .all(|s| !s.is_empty() && !s.chars().any(char::is_whitespace));
    ok.then_some(items)
}

fn describe_name(name: &str) -> String {
    if name.len() <= 64 && name.bytes().all(|b| b.is_ascii_graphic()) {
        format!(": {name}")
    } else {
        String::new()
    }
}

/// Parses and checks the body parameters (query string, content type, form syntax, unknown and
/// duplicate names).
pub fn parse_params(req: &Request) -> Result<BTreeMap<String, String>, OAuthError> {
    if req.query.is_some() {
        return Err(invalid_request("parameters must be sent in the body"));
    }
    if !is_form_content_type(req.header("content-type")) {
        return Err(invalid_request(
            "Content-Type must be application/x-www-form-urlencoded",
        ));
    }
    let pairs = form::parse(&req.body)
        .map_err(|e| invalid_request(format!("malformed request body: {e}")))?;
    let mut params = BTreeMap::new();
    for (name, value) in pairs {
        if !KNOWN_PARAMS.contains(&name.as_str()) {
            return Err(invalid_request(format!(
                "unknown parameter{}",
                describe_name(&name)
            )));
        }
        let described = describe_name(&name);
        if params.insert(name, value).is_some() {
            return Err(invalid_request(format!("duplicate parameter{described}")));
        }
    }
    Ok(params)
}

/// Runs every check against the known clients.
pub fn validate(st: &State, req: &Request) -> Result<Grant, OAuthError> {
    let params = parse_params(req)?;
    match params.get("grant_type").map(String::as_str) {
        None => return Err(invalid_request("missing grant_type parameter")),
        Some("client_credentials") => {}
        Some(_) => {
            return Err(OAuthError::bad_request(
                "unsupported_grant_type",
                "unsupported grant_type",
            ))
        }
    }
    let client = params
        .get("client_id")
        .and_then(|id| st.clients.get(id))
        .ok_or_else(|| OAuthError::bad_request("invalid_client", "invalid client_id parameter"))?;
    let secret = params
        .get("client_secret")
        .and_then(|v| client.secret_by_value(v))
        .ok_or_else(|| {
            OAuthError::bad_request("invalid_client", "invalid client_secret parameter")
        })?;
    let scope = params.get("scope").ok_or_else(invalid_scope)?;
    let items = parse_scope(scope).ok_or_else(invalid_scope)?;
    if !items.iter().all(|s| client.allows(s)) {
        return Err(invalid_scope());
    }
    Ok(Grant {
        client_id: client.client_id.clone(),
        scope: scope.clone(),
        secret_uuid: secret.uuid.clone(),
    })
}

/// Best-effort `client_id` and `scope` from the body, for the call record.
fn hints(req: &Request) -> (Option<String>, Option<String>) {
    let pairs = form::parse(&req.body).unwrap_or_default();
    let find = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    (find("client_id"), find("scope"))
}

/// The 200 answer, fields in IMS's order.
#[derive(Serialize)]
struct TokenAnswer<'a> {
    access_token: &'a str,
    token_type: &'static str,
    /// Absent when the config says `omit_expires_in`; any JSON value when it overrides it.
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_in: Option<Value>,
}

/// Issues a token for `grant` and renders the 200 answer.
fn issue(st: &mut State, grant: &Grant, at_ms: u64) -> Response {
    let cfg = &st.config;
    let lifetime_ms = cfg.expires_in.saturating_mul(1000);
    let claim = cfg
        .claims_expires_in_ms
        .clone()
        .unwrap_or_else(|| lifetime_ms.to_string());
    let tech_account_id = st
        .clients
        .get(&grant.client_id)
        .map(|c| c.tech_account_id.clone())
        .unwrap_or_default();
    let token = jwt::mint(&TokenClaims {
        client_id: &grant.client_id,
        tech_account_id: &tech_account_id,
        scope: &grant.scope,
        created_at_ms: at_ms,
        expires_in_claim: &claim,
        lifetime_ms,
    });
    let expires_in = (!cfg.omit_expires_in).then(|| {
        cfg.expires_in_value
            .clone()
            .unwrap_or_else(|| Value::from(cfg.expires_in))
    });
    let body = TokenAnswer {
        access_token: &token,
        token_type: "bearer",
        expires_in,
    };
    let resp = Response::json_value(200, &body)
        .with_header("Cache-Control", "no-store")
        .with_header("Pragma", "no-cache");
    st.record_issued(IssuedToken {
        access_token: token,
        client_id: grant.client_id.clone(),
        scope: grant.scope.clone(),
        created_at_ms: at_ms,
        expires_at_ms: at_ms.saturating_add(lifetime_ms),
    });
    st.mark_secret_used(&grant.client_id, &grant.secret_uuid, at_ms);
    st.token_successes += 1;
    resp
}

/// The answer an injected fault dictates (`slow` is handled by the caller).
pub fn fault_reply(kind: &FaultKind) -> Reply {
    let resp = match kind {
        FaultKind::Status { code, retry_after } => {
            let mut resp = if *code == 429 {
                oauth_error_response(429, "too_many_requests", "throttled")
            } else {
                oauth_error_response(*code, "server_error", "internal error")
            };
            if let Some(secs) = retry_after {
                resp = resp.with_header("Retry-After", secs.to_string());
            }
            resp
        }
        FaultKind::Garbage => Response::new(200).with_body("text/html", "<html>oops"),
        FaultKind::Drop | FaultKind::AddThenDrop | FaultKind::DeleteThenDrop => return Reply::Drop,
        FaultKind::InvalidClient => {
            oauth_error_response(400, "invalid_client", "invalid client_secret parameter")
        }
        FaultKind::InvalidScope => oauth_error_response(400, "invalid_scope", "invalid scope"),
        FaultKind::EmptyToken => Response::json(
            200,
            r#"{"access_token":"","token_type":"bearer","expires_in":86399}"#,
        ),
        FaultKind::Slow { .. } => oauth_error_response(500, "server_error", "internal error"),
    };
    Reply::Send(resp)
}

/// Handles `POST /ims/token/v3`.
pub fn token(shared: &Shared, req: &Request) -> Reply {
    let at_ms = now_ms();
    let (client_id, scope) = hints(req);
    let (reply, sleep_ms) = {
        let mut st = lock(shared);
        st.token_calls += 1;
        let fault = st.take_fault(FaultTarget::Ims);
        let mut record = CallRecord {
            at_ms,
            client_id,
            scope,
            outcome: String::new(),
            fault: fault.as_ref().map(FaultKind::name),
            secret_uuid: None,
        };
        let mut sleep_ms = st.config.delay_ms;
        let reply = match fault {
            Some(kind) if !matches!(kind, FaultKind::Slow { .. }) => {
                record.outcome = format!("fault:{}", kind.name());
                fault_reply(&kind)
            }
            other => {
                if let Some(FaultKind::Slow { ms }) = other {
                    sleep_ms = sleep_ms.saturating_add(ms);
                }
                match validate(&st, req) {
                    Ok(grant) => {
                        record.outcome = "ok".to_owned();
                        record.secret_uuid = Some(grant.secret_uuid.clone());
                        Reply::Send(issue(&mut st, &grant, at_ms))
                    }
                    Err(e) => {
                        record.outcome = format!("error:{}", e.error);
                        Reply::Send(e.to_response())
                    }
                }
            }
        };
        st.calls.push(record);
        (reply, sleep_ms)
    };
    reply.after(sleep_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::shared;

    const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

    fn state() -> State {
        let mut st = State::new();
        st.upsert_client(
            "cid",
            "s3cr3t",
            Some(vec![
                "openid".to_owned(),
                "AdobeID".to_owned(),
                "read_organizations".to_owned(),
            ]),
        );
        st.upsert_client("any", "s2", None);
        st
    }

    fn post(body: &str) -> Request {
        Request::new("POST", TOKEN_PATH, &[FORM], body.as_bytes())
    }

    fn err(st: &State, req: &Request) -> (&'static str, String) {
        match validate(st, req) {
            Err(e) => {
                assert_eq!(e.status, 400);
                (e.error, e.description)
            }
            Ok(g) => panic!("expected an error, got {g:?}"),
        }
    }

    const GOOD: &str =
        "grant_type=client_credentials&client_id=cid&client_secret=s3cr3t&scope=openid%2CAdobeID";

    #[test]
    fn scope_parsing() {
        assert_eq!(parse_scope("openid"), Some(vec!["openid"]));
        assert_eq!(
            parse_scope("openid,AdobeID,additional_info.roles"),
            Some(vec!["openid", "AdobeID", "additional_info.roles"])
        );
        assert_eq!(parse_scope(""), None);
        assert_eq!(parse_scope("openid AdobeID"), None);
        assert_eq!(parse_scope("openid, AdobeID"), None);
        assert_eq!(parse_scope("openid,,AdobeID"), None);
        assert_eq!(parse_scope("openid,"), None);
        assert_eq!(parse_scope(",openid"), None);
        assert_eq!(parse_scope("openid\tAdobeID"), None);
    }

    #[test]
    fn content_type_check() {
        assert!(is_form_content_type(Some(
            "application/x-www-form-urlencoded"
        )));
        assert!(is_form_content_type(Some(
            "Application/X-WWW-Form-Urlencoded; charset=UTF-8"
        )));
        assert!(!is_form_content_type(Some("application/json")));
        assert!(!is_form_content_type(Some("text/plain")));
        assert!(!is_form_content_type(None));
    }

    #[test]
    fn accepts_a_good_request() {
        let st = state();
        assert_eq!(
            validate(&st, &post(GOOD)),
            Ok(Grant {
                client_id: "cid".to_owned(),
                scope: "openid,AdobeID".to_owned(),
                secret_uuid: st.clients["cid"].secrets[0].uuid.clone(),
            })
        );
        let any = "grant_type=client_credentials&client_id=any&client_secret=s2&scope=whatever,x.y";
        assert!(validate(&st, &post(any)).is_ok());
    }

    #[test]
    fn rejects_transport_level_mistakes() {
        let st = state();
        let q = Request::new(
            "POST",
            "/ims/token/v3?client_id=cid",
            &[FORM],
            GOOD.as_bytes(),
        );
        assert_eq!(
            err(&st, &q),
            (
                "invalid_request",
                "parameters must be sent in the body".to_owned()
            )
        );
        let json = Request::new(
            "POST",
            TOKEN_PATH,
            &[("Content-Type", "application/json")],
            GOOD.as_bytes(),
        );
        assert_eq!(err(&st, &json).0, "invalid_request");
        let none = Request::new("POST", TOKEN_PATH, &[], GOOD.as_bytes());
        assert_eq!(err(&st, &none).0, "invalid_request");
        assert_eq!(
            err(&st, &post(&format!("{GOOD}&x=%zz"))).0,
            "invalid_request"
        );
        assert_eq!(
            err(&st, &post(&format!("{GOOD}&client_id=cid"))),
            (
                "invalid_request",
                "duplicate parameter: client_id".to_owned()
            )
        );
        assert_eq!(
            err(&st, &post(&format!("{GOOD}&foo=bar"))),
            ("invalid_request", "unknown parameter: foo".to_owned())
        );
    }

    #[test]
    fn rejects_oauth_level_mistakes() {
        let st = state();
        let with = |from: &str, to: &str| post(&GOOD.replace(from, to));
        assert_eq!(
            err(&st, &with("client_credentials", "password")).0,
            "unsupported_grant_type"
        );
        assert_eq!(
            err(&st, &with("grant_type=client_credentials&", "")).0,
            "invalid_request"
        );
        assert_eq!(
            err(&st, &with("client_id=cid", "client_id=nope")),
            ("invalid_client", "invalid client_id parameter".to_owned())
        );
        assert_eq!(
            err(&st, &with("s3cr3t", "wrong")),
            (
                "invalid_client",
                "invalid client_secret parameter".to_owned()
            )
        );
        assert_eq!(
            err(&st, &with("&client_secret=s3cr3t", "")).1,
            "invalid client_secret parameter"
        );
        for bad in [
            "openid+AdobeID",
            "openid%20AdobeID",
            "",
            "openid%2C",
            "manage_client_secrets",
        ] {
            assert_eq!(
                err(&st, &with("openid%2CAdobeID", bad)),
                ("invalid_scope", "invalid scope".to_owned()),
                "{bad}"
            );
        }
        assert_eq!(
            err(&st, &with("&scope=openid%2CAdobeID", "")).0,
            "invalid_scope"
        );
    }

    #[test]
    fn token_call_issues_and_records() {
        let sh = shared(state());
        let reply = token(&sh, &post(GOOD));
        let Reply::Send(resp) = reply else {
            panic!("dropped")
        };
        assert_eq!(resp.status, 200);
        assert_eq!(
            resp.header("content-type"),
            Some("application/json;charset=utf-8")
        );
        let body: Value = serde_json::from_slice(&resp.body).expect("json");
        assert_eq!(body["token_type"], "bearer");
        assert_eq!(body["expires_in"], 86399);
        let tok = body["access_token"].as_str().expect("token");
        assert_eq!(
            String::from_utf8(resp.body.clone()).expect("utf8"),
            format!(r#"{{"access_token":"{tok}","token_type":"bearer","expires_in":86399}}"#),
            "IMS's key order"
        );
        let claims = jwt::decode_payload(tok).expect("claims");
        assert_eq!(claims["scope"], "openid,AdobeID");
        assert_eq!(claims["expires_in"], "86399000");
        let st = lock(&sh);
        assert_eq!((st.token_calls, st.token_successes), (1, 1));
        assert_eq!(st.calls[0].outcome, "ok");
        assert_eq!(st.calls[0].client_id.as_deref(), Some("cid"));
        assert!(st.token_info(tok).is_some());
    }

    #[test]
    fn config_shapes_the_answer() {
        let sh = shared(state());
        {
            let mut st = lock(&sh);
            st.config.expires_in = 60;
            st.config.expires_in_value = Some(json!("abc"));
            st.config.claims_expires_in_ms = Some("5".to_owned());
        }
        let Reply::Send(resp) = token(&sh, &post(GOOD)) else {
            panic!("dropped")
        };
        let body: Value = serde_json::from_slice(&resp.body).expect("json");
        assert_eq!(body["expires_in"], "abc");
        let claims = jwt::decode_payload(body["access_token"].as_str().expect("t")).expect("c");
        assert_eq!(claims["expires_in"], "5");
        lock(&sh).config.omit_expires_in = true;
        let Reply::Send(resp) = token(&sh, &post(GOOD)) else {
            panic!("dropped")
        };
        let body: Value = serde_json::from_slice(&resp.body).expect("json");
        assert!(body.get("expires_in").is_none());
    }

    #[test]
    fn faults_take_over_the_answer() {
        let sh = shared(state());
        let status = |reply: Reply| match reply {
            Reply::Send(r) => r.status,
            Reply::Drop => 0,
        };
        lock(&sh).push_fault(
            FaultTarget::Ims,
            crate::state::Fault {
                kind: FaultKind::Status {
                    code: 429,
                    retry_after: Some(3),
                },
                remaining: Some(1),
            },
        );
        lock(&sh).push_fault(
            FaultTarget::Ims,
            crate::state::Fault {
                kind: FaultKind::Drop,
                remaining: Some(1),
            },
        );
        // A fault queued for the management API does not touch IMS.
        lock(&sh).push_fault(
            FaultTarget::Api(crate::state::ApiOp::List),
            crate::state::Fault {
                kind: FaultKind::Garbage,
                remaining: None,
            },
        );
        let Reply::Send(r) = token(&sh, &post(GOOD)) else {
            panic!("dropped")
        };
        assert_eq!((r.status, r.header("retry-after")), (429, Some("3")));
        assert_eq!(status(token(&sh, &post(GOOD))), 0);
        assert_eq!(status(token(&sh, &post(GOOD))), 200);
        let st = lock(&sh);
        let outcomes: Vec<&str> = st.calls.iter().map(|c| c.outcome.as_str()).collect();
        assert_eq!(outcomes, ["fault:status429", "fault:drop", "ok"]);
        assert_eq!((st.token_calls, st.token_successes), (3, 1));
    }

    #[test]
    fn any_current_secret_works_and_gets_stamped() {
        let sh = shared(state());
        let second = lock(&sh)
            .add_secret("cid", Some("second-secret"))
            .expect("room for a second secret");
        let body = |secret: &str| GOOD.replace("s3cr3t", secret);
        let status = |reply: Reply| match reply {
            Reply::Send(r) => r.status,
            Reply::Drop => 0,
        };
        assert_eq!(status(token(&sh, &post(&body("second-secret")))), 200);
        let first_uuid = {
            let st = lock(&sh);
            let c = &st.clients["cid"];
            assert_eq!(c.secrets[0].last_used_at_ms, None);
            assert!(c.secrets[1].last_used_at_ms.is_some());
            assert_eq!(
                st.calls[0].secret_uuid.as_deref(),
                Some(second.uuid.as_str())
            );
            c.secrets[0].uuid.clone()
        };
        assert_eq!(status(token(&sh, &post(GOOD))), 200);
        assert!(lock(&sh).clients["cid"].secrets[0]
            .last_used_at_ms
            .is_some());

        // A deleted secret is invalid_client; a failed call stamps nothing.
        lock(&sh).delete_secret("cid", &first_uuid).expect("delete");
        let Reply::Send(r) = token(&sh, &post(GOOD)) else {
            panic!("dropped")
        };
        assert_eq!(r.status, 400);
        let body: Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(
            body,
            json!({"error":"invalid_client","error_description":"invalid client_secret parameter"})
        );
        let st = lock(&sh);
        assert_eq!(st.calls[2].secret_uuid, None);
        assert_eq!(st.calls[2].outcome, "error:invalid_client");
    }
}
