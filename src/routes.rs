//! The route table: which handler serves which path and method. Unknown paths get a JSON 404 and
//! known paths with another method a JSON 405 with `Allow` (workers-rs's `Router` answers those
//! in plain text without `Allow`, so the table is our own).

use crate::api_error::ApiError;
use crate::handlers::{health, oauth, token};
use crate::log::RequestLog;
use worker::{Context, Date, Env, Method, Request, Response};

/// Everything a handler gets besides the request.
pub struct Ctx {
    /// Bindings.
    pub env: Env,
    /// For `wait_until` (background refresh).
    pub ctx: Context,
    /// The request's log line, filled in by the handler.
    pub log: RequestLog,
}

/// Routes a request, answers errors as JSON, and writes the request's log line.
pub async fn dispatch(req: Request, env: Env, ctx: Context) -> Response {
    let started = Date::now().as_millis();
    let method = req.method();
    let path = req.path();
    let request_id = req
        .headers()
        .get("cf-ray")
        .ok()
        .flatten()
        .unwrap_or_else(random_id);
    let mut c = Ctx {
        env,
        ctx,
        log: RequestLog {
            request_id,
            ..RequestLog::default()
        },
    };
    let result = match (path.as_str(), &method) {
        ("/healthz", Method::Get | Method::Head) => {
            c.log.route = "GET /healthz";
            Ok(health::healthz())
        }
        ("/v1/token", Method::Post) => {
            c.log.route = "POST /v1/token";
            token::issue(req, &mut c).await
        }
        ("/oauth/token", Method::Post) => {
            c.log.route = "POST /oauth/token";
            oauth::token(req, &mut c).await
        }
        ("/healthz", _) => {
            c.log.route = "GET /healthz";
            Err(ApiError::MethodNotAllowed("GET, HEAD"))
        }
        ("/v1/token", _) => {
            c.log.route = "POST /v1/token";
            Err(ApiError::MethodNotAllowed("POST"))
        }
        ("/oauth/token", _) => {
            c.log.route = "POST /oauth/token";
            Err(ApiError::MethodNotAllowed("POST"))
        }
        _ => {
            c.log.route = "unmatched";
            Err(ApiError::NotFound)
        }
    };
    let response = match result {
        Ok(r) => r,
        Err(e) => {
            c.log.error = Some(e.code());
            if e.status() >= 500 {
                c.log.detail = Some(e.to_string());
            }
            e.into_response()
        }
    };
    let elapsed = Date::now().as_millis().saturating_sub(started);
    c.log.emit(method.as_ref(), response.status_code(), elapsed);
    response
}

fn random_id() -> String {
    let a = (worker::js_sys::Math::random() * 4_294_967_296.0) as u64;
    let b = (worker::js_sys::Math::random() * 4_294_967_296.0) as u64;
    format!("{a:08x}{b:08x}")
}
