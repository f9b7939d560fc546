//! `GET /api/v1/profile`: a protected, Adobe-shaped API for the broker's callers to spend their
//! tokens on. It stands for any Adobe API behind Adobe's gateway (Analytics, Firefly, …), which
//! all want `Authorization: Bearer <token>` and the token's client id as `x-api-key`.
//!
//! Every call is counted, by outcome, and logged with the token and key it presented (see
//! [`crate::control`]). An injected fault of target `profile` takes over first, as for the
//! I/O Management API: `status429`/`status5xx`, `garbage` and `drop` replace the call; `slow`
//! checks the call when it arrives, then sleeps before answering. Otherwise the gateway checks
//! run in this order (bodies `{"error_code":"…","message":"…"}`, as [`crate::console`]'s):
//!
//! 1. `x-api-key` missing, or not any known client id → 403 `403003` "Api Key is invalid"
//!    (outcome `api_key_invalid`);
//! 2. `Authorization: Bearer <token>` missing (`token_missing`), not issued by this fake
//!    (`token_unknown`), revoked through `POST /__fake/revoke` (`token_revoked`) or expired
//!    (`token_expired`) → 401 `401013` "Oauth token is not valid";
//! 3. the token was issued to another client than the `x-api-key` → 403 `403003`
//!    (`api_key_mismatch`).
//!
//! Success is 200 with the technical account the token stands for (outcome `ok`). The query
//! string is ignored; a method other than `GET` is 405 with `Allow: GET` and is not counted.

use serde::Serialize;

use crate::console::{self, ApiError, API_KEY_INVALID, TOKEN_INVALID};
use crate::http::{Reply, Request, Response};
use crate::state::{
    lock, now_ms, FaultKind, FaultTarget, ProfileCallRecord, Shared, State, TokenCheck,
};

/// The endpoint's path.
pub const PROFILE_PATH: &str = "/api/v1/profile";

/// The 200 answer, fields in this order.
#[derive(Debug, Serialize)]
struct ProfileAnswer<'a> {
    /// The client the token was issued to (also the `x-api-key`).
    client_id: &'a str,
    /// The technical account (`…@techacct.adobe.com`).
    user_id: &'a str,
    account_type: &'static str,
    /// The token's scopes, as requested from IMS (comma-separated).
    scope: &'a str,
}

/// Runs the checks; `Ok` is the 200 answer, `Err` the error and its outcome name.
pub fn check(st: &State, req: &Request, now: u64) -> Result<Response, (ApiError, &'static str)> {
    let api_key = req
        .header("x-api-key")
        .filter(|k| !k.is_empty() && st.clients.contains_key(*k))
        .ok_or((API_KEY_INVALID, "api_key_invalid"))?;
    let token = match bearer_check(st, req, now) {
        Ok(t) => t,
        Err(outcome) => return Err((TOKEN_INVALID, outcome)),
    };
    if token.client_id != api_key {
        return Err((API_KEY_INVALID, "api_key_mismatch"));
    }
    let user_id = st
        .clients
        .get(&token.client_id)
        .map_or("", |c| c.tech_account_id.as_str());
    Ok(Response::json_value(
        200,
        &ProfileAnswer {
            client_id: &token.client_id,
            user_id,
            account_type: "technical_account",
            scope: &token.scope,
        },
    ))
}

/// The presented bearer token if it is valid, else the outcome name of why not.
fn bearer_check<'a>(
    st: &'a State,
    req: &Request,
    now: u64,
) -> Result<&'a crate::state::IssuedToken, &'static str> {
    let token = console::bearer(req).ok_or("token_missing")?;
    match st.check_token(token, now) {
        TokenCheck::Valid(t) => Ok(t),
        TokenCheck::Unknown => Err("token_unknown"),
        TokenCheck::Revoked => Err("token_revoked"),
        TokenCheck::Expired => Err("token_expired"),
    }
}

/// Handles `GET /api/v1/profile`: counts it, applies a fault if one is queued, logs it.
pub fn handle(shared: &Shared, req: &Request) -> Reply {
    let at_ms = now_ms();
    let (reply, sleep_ms) = {
        let mut st = lock(shared);
        st.profile_calls += 1;
        let fault = st.take_fault(FaultTarget::Profile);
        let mut sleep_ms = 0;
        let (reply, outcome) = match &fault {
            None | Some(FaultKind::Slow { .. }) => {
                if let Some(FaultKind::Slow { ms }) = fault {
                    sleep_ms = ms;
                }
                match check(&st, req, at_ms) {
                    Ok(resp) => (Reply::Send(resp), "ok".to_owned()),
                    Err((e, outcome)) => (Reply::Send(e.to_response()), outcome.to_owned()),
                }
            }
            Some(kind) => (console::fault_reply(kind), format!("fault:{}", kind.name())),
        };
        *st.profile_outcomes.entry(outcome.clone()).or_insert(0) += 1;
        let record = ProfileCallRecord {
            at_ms,
            status: match &reply {
                Reply::Send(r) => Some(r.status),
                Reply::Drop => None,
            },
            outcome,
            access_token: console::bearer(req).map(str::to_owned),
            api_key: req.header("x-api-key").map(str::to_owned),
            fault: fault.as_ref().map(FaultKind::name),
        };
        st.profile_log.push(record);
        (reply, sleep_ms)
    };
    reply.after(sleep_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{shared, Fault, IssuedToken};
    use serde_json::{json, Value};
    use std::thread;
    use std::time::Duration;

    const CLIENT: &str = "e053client";

    /// A state with two clients and tokens: `good` and `other` (the other client's), both
    /// valid for a minute, and `expired`.
    fn setup() -> Shared {
        let mut st = State::new();
        st.upsert_client(CLIENT, "first", None);
        st.upsert_client("other-client", "x", None);
        let now = now_ms();
        let tok = |t: &str, client: &str, exp: u64| IssuedToken {
            access_token: t.to_owned(),
            client_id: client.to_owned(),
            scope: "openid,AdobeID".to_owned(),
            created_at_ms: now - 10,
            expires_at_ms: exp,
        };
        st.record_issued(tok("good", CLIENT, now + 60_000));
        st.record_issued(tok("other", "other-client", now + 60_000));
        st.record_issued(tok("expired", CLIENT, now - 1));
        shared(st)
    }

    fn call(sh: &Shared, key: &str, token: &str) -> Reply {
        let auth = format!("Bearer {token}");
        let mut headers = vec![];
        if !key.is_empty() {
            headers.push(("x-api-key", key));
        }
        if !token.is_empty() {
            headers.push(("Authorization", auth.as_str()));
        }
        handle(sh, &Request::new("GET", PROFILE_PATH, &headers, b""))
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

    fn push(sh: &Shared, kind: FaultKind) {
        lock(sh).push_fault(
            FaultTarget::Profile,
            Fault {
                kind,
                remaining: Some(1),
            },
        );
    }

    #[test]
    fn answers_the_tokens_account() {
        let sh = setup();
        let r = sent(call(&sh, CLIENT, "good"));
        assert_eq!(r.status, 200);
        let tech = lock(&sh).clients[CLIENT].tech_account_id.clone();
        assert_eq!(
            String::from_utf8(r.body.clone()).expect("utf8"),
            format!(
                r#"{{"client_id":"{CLIENT}","user_id":"{tech}","account_type":"technical_account","scope":"openid,AdobeID"}}"#
            )
        );
        let st = lock(&sh);
        assert_eq!(st.profile_calls, 1);
        let rec = &st.profile_log[0];
        assert_eq!(
            (
                rec.status,
                rec.outcome.as_str(),
                rec.access_token.as_deref()
            ),
            (Some(200), "ok", Some("good"))
        );
        assert_eq!(rec.api_key.as_deref(), Some(CLIENT));
    }

    #[test]
    fn checks_run_in_order() {
        let sh = setup();
        lock(&sh).revoke("other");
        let cases: [(&str, &str, u16, &str, &str); 8] = [
            ("", "good", 403, "403003", "api_key_invalid"),
            ("nobody", "good", 403, "403003", "api_key_invalid"),
            ("", "", 403, "403003", "api_key_invalid"),
            (CLIENT, "", 401, "401013", "token_missing"),
            (CLIENT, "nope", 401, "401013", "token_unknown"),
            (CLIENT, "expired", 401, "401013", "token_expired"),
            ("other-client", "other", 401, "401013", "token_revoked"),
            ("other-client", "good", 403, "403003", "api_key_mismatch"),
        ];
        for (key, token, status, code, outcome) in cases {
            let r = sent(call(&sh, key, token));
            assert_eq!(
                (r.status, body(&r)["error_code"].as_str()),
                (status, Some(code)),
                "{key} {token}"
            );
            assert_eq!(
                lock(&sh).profile_log.last().map(|r| r.outcome.clone()),
                Some(outcome.to_owned())
            );
        }
        let r = sent(call(&sh, CLIENT, "nope"));
        assert_eq!(
            body(&r),
            json!({"error_code":"401013","message":"Oauth token is not valid"})
        );
        let r = sent(call(&sh, "", "good"));
        assert_eq!(
            body(&r),
            json!({"error_code":"403003","message":"Api Key is invalid"})
        );
        let st = lock(&sh);
        assert_eq!(st.profile_calls, 10);
        assert_eq!(st.profile_outcomes["api_key_invalid"], 4);
        assert_eq!(st.profile_outcomes["token_unknown"], 2);
        assert_eq!(st.profile_outcomes.get("ok"), None);
    }

    #[test]
    fn revocation_turns_a_good_token_away() {
        let sh = setup();
        assert_eq!(sent(call(&sh, CLIENT, "good")).status, 200);
        assert_eq!(lock(&sh).revoke_all(), 3);
        assert_eq!(sent(call(&sh, CLIENT, "good")).status, 401);
        let st = lock(&sh);
        assert_eq!(st.profile_outcomes["ok"], 1);
        assert_eq!(st.profile_outcomes["token_revoked"], 1);
    }

    #[test]
    fn faults_replace_or_delay_the_call() {
        let sh = setup();
        push(
            &sh,
            FaultKind::Status {
                code: 503,
                retry_after: Some(2),
            },
        );
        push(&sh, FaultKind::Drop);
        push(&sh, FaultKind::Slow { ms: 30 });
        let r = sent(call(&sh, CLIENT, "good"));
        assert_eq!((r.status, r.header("retry-after")), (503, Some("2")));
        assert_eq!(call(&sh, CLIENT, "good"), Reply::Drop);

        // A slow call is judged when it arrives: a revocation during the sleep does not matter.
        let sh2 = sh.clone();
        let started = std::time::Instant::now();
        let slow = thread::spawn(move || sent(call(&sh2, CLIENT, "good")).status);
        while lock(&sh).profile_log.len() < 3 {
            thread::sleep(Duration::from_millis(1));
        }
        lock(&sh).revoke("good");
        assert_eq!(slow.join().expect("thread"), 200);
        assert!(started.elapsed() >= Duration::from_millis(30));

        let st = lock(&sh);
        let log: Vec<(Option<u16>, &str, Option<&str>)> = st
            .profile_log
            .iter()
            .map(|r| (r.status, r.outcome.as_str(), r.fault.as_deref()))
            .collect();
        assert_eq!(
            log,
            [
                (Some(503), "fault:status503", Some("status503")),
                (None, "fault:drop", Some("drop")),
                (Some(200), "ok", Some("slow")),
            ]
        );
        assert_eq!(st.pending_faults(), 0);
    }
}
