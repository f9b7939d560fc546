//! The route table: which handler serves which route and method. Unknown paths get a JSON 404
//! and known paths with another method a JSON 405 with `Allow`. Errors become HTTP answers here
//! (`ApiError::into_response`), and every request's log line is written here.

use crate::api_error::ApiError;
use crate::context::Ctx;
use crate::handlers::{health, identity, metrics, oauth, secrets, token};
use crate::isolate::Isolate;
use crate::log::RequestLog;
use crate::platform::startup::boxed;
use crate::reply::Reply;
use crate::request::{Request, Route};
use crate::telemetry;
use ims_core::hit_summary::LogMode;
use worker::{Context, Env};

/// Methods HTTP defines ([RFC 9110 §9](https://www.rfc-editor.org/rfc/rfc9110#section-9)) and
/// PATCH: a route that does not take one answers 405; any other method is answered 404.
const KNOWN_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "CONNECT", "PATCH", "TRACE",
];

/// Routes a request, answers errors as JSON, and writes the request's log line.
pub async fn dispatch(mut req: Request, env: Env, ctx: Context) -> Reply {
    let started = crate::platform::now_ms();
    let isolate = Isolate::current();
    let mut c = Ctx {
        env,
        ctx,
        isolate,
        log: RequestLog {
            ray: req.ray.take(),
            route: req.route.label(),
            ..RequestLog::default()
        },
        caller: None,
    };
    let method = req.method.clone();
    let known_method = KNOWN_METHODS.contains(&method.as_str());
    let route = req.route.clone();
    let result = match (&route, method.as_str()) {
        (Route::NotFound, _) if !known_method => Err(ApiError::NotFound),
        (route, _) if !known_method => Err(ApiError::MethodNotAllowed(route.allow())),
        (Route::Healthz, "GET" | "HEAD") => Ok(health::healthz()),
        (Route::ServerMetadata, "GET" | "HEAD") => Ok(identity::server_metadata(&req)),
        _ if req.cross_origin() => Err(ApiError::CrossOrigin),
        // Not boxed: the cache-hit path (see `crate::platform::startup`).
        (Route::Token, "POST") => token::issue(req, &mut c).await,
        (Route::OAuthToken, "POST") => boxed(oauth::token(req, &mut c)).await,
        (Route::Credentials, "GET") => boxed(secrets::credentials(&req, &mut c)).await,
        (Route::Tokens(name), "GET") => boxed(secrets::tokens(&req, &mut c, name)).await,
        (Route::Metrics, "GET") => boxed(metrics::metrics(&req, &mut c)).await,
        (Route::Identity, "GET") => boxed(identity::identity(&req, &mut c)).await,
        (Route::Secrets(name), "GET") => boxed(secrets::list(&req, &mut c, name)).await,
        (Route::Rotate(name), "POST") => boxed(secrets::rotate(&req, &mut c, name)).await,
        (Route::Rotation(name), "GET") => boxed(secrets::status(&req, &mut c, name)).await,
        (Route::Secret(name, uuid), "DELETE") => {
            boxed(secrets::delete(&req, &mut c, name, uuid)).await
        }
        (Route::NotFound, _) => Err(ApiError::NotFound),
        (route, _) => Err(ApiError::MethodNotAllowed(route.allow())),
    };
    let response = match result {
        Ok(r) => r,
        Err(e) => {
            c.log.error = Some(e.code());
            c.log.detail = e.log_detail();
            e.into_response(c.admin())
        }
    };
    let now = crate::platform::now_ms();
    let mode = c
        .isolate
        .config(&c.env)
        .map_or(LogMode::All, |cfg| cfg.log_mode);
    let status = response.status();
    c.log
        .emit(mode, &method, status, now.saturating_sub(started), now);
    record(&c, status, now);
    response
}

/// Feeds the request's outcome to the counters and events, and writes the isolate's event batch
/// after an authenticated request's answer when one is due.
fn record(c: &Ctx, status: u16, now: u64) {
    telemetry::metrics(&c.isolate, |m| {
        m.request(c.log.route, status);
        if let Some(outcome) = c.log.cache {
            m.cache_outcome(outcome.as_str());
        }
    });
    if let Some(call) = &c.log.upstream {
        let credential = c.log.credential.as_deref().unwrap_or("default");
        telemetry::upstream(
            &c.isolate,
            credential,
            c.log.scope.as_deref(),
            call,
            c.log.error,
        );
    }
    // Only after an authenticated request: one nobody may make never writes to KV, not even
    // the events of earlier ones.
    if c.caller.is_none() {
        return;
    }
    if let Some(write) = telemetry::flush_due(&c.isolate, &c.env, now) {
        c.ctx.wait_until(write);
    }
}
