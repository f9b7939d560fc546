//! The route table: which handler serves which path and method. Unknown paths get a JSON 404 and
//! known paths with another method a JSON 405 with `Allow` (workers-rs's `Router` answers those
//! in plain text without `Allow`, so the table is our own).

use crate::api_error::ApiError;
use crate::handlers::body::Body;
use crate::handlers::{health, metrics, oauth, secrets, token};
use crate::incoming::{Headers, Incoming};
use crate::log::{RaySource, RequestLog};
use crate::reply::Reply;
use crate::telemetry;
use ims_core::hit_summary::LogMode;
use worker::{Context, Env, Method};

/// Everything a handler gets besides the request.
pub struct Ctx {
    /// Bindings.
    pub env: Env,
    /// For `wait_until` (background refresh).
    pub ctx: Context,
    /// The request's log line, filled in by the handler.
    pub log: RequestLog,
    /// The request body, if the entry point read it already.
    pub body: Body,
    /// The authenticated caller, once a handler knows it: an admin's errors say which setting is
    /// misconfigured.
    pub caller: Option<std::rc::Rc<ims_core::callers::Caller>>,
}

impl Ctx {
    /// True when the authenticated caller is an admin.
    pub fn admin(&self) -> bool {
        self.caller
            .as_ref()
            .is_some_and(|caller| caller.may_manage_secrets())
    }
}

/// The paths whose `POST` handler reads the body: the entry point reads it first, in JS, with
/// the headers these handlers read (see `crate::entry`).
pub const BODY_ROUTES: [&str; 2] = ["/v1/token", "/oauth/token"];

/// For a path whose `POST` handler reads the body, its index in [`BODY_ROUTES`].
pub fn body_route(path: &str) -> Option<u32> {
    match Route::of(path) {
        Route::Token => Some(0),
        Route::OAuthToken => Some(1),
        _ => None,
    }
}

/// Routes a request, answers errors as JSON, and writes the request's log line. `body` is the
/// body if the entry point read it already ([`body_route`]).
pub async fn dispatch(req: Incoming, env: Env, ctx: Context, body: Body) -> Reply {
    let started = crate::platform::now_ms();
    let method = req.method();
    // The method as sent. workers-rs's `Method` maps every method it does not know (`QUERY`,
    // `PROPFIND`, …) to GET, so without this `QUERY /v1/credentials` would be served (and logged)
    // as a GET. Such a method is answered like any other method a route does not take: 405 with
    // `Allow`, or 404 for no route. The Fetch standard upper-cases DELETE, HEAD, OPTIONS, POST
    // and PUT in any spelling, so for those the name is known without the call into JS.
    let sent_method = match method {
        Method::Delete | Method::Head | Method::Options | Method::Post | Method::Put => {
            method.as_ref().to_owned()
        }
        _ => req.sent_method(),
    };
    let known_method = sent_method == method.as_ref();
    let path = req.path();
    let mut c = Ctx {
        env,
        ctx,
        log: RequestLog {
            // `Clone::clone`: the inherent `clone` is JS `Request.clone()`, which tees the body.
            ray_from: Some(RaySource(Clone::clone(req.raw()))),
            ..RequestLog::default()
        },
        body,
        caller: None,
    };
    let route = Route::of(&path);
    c.log.route = route.label();
    let result = match (&route, &method) {
        (Route::NotFound, _) if !known_method => Err(ApiError::NotFound),
        (route, _) if !known_method => Err(ApiError::MethodNotAllowed(route.allow())),
        (Route::Healthz, Method::Get | Method::Head) => Ok(health::healthz()),
        (_, _) if cross_origin(&req) => Err(ApiError::CrossOrigin),
        (Route::Token, Method::Post) => token::issue(req, &mut c).await,
        (Route::OAuthToken, Method::Post) => oauth::token(req, &mut c).await,
        (Route::Credentials, Method::Get) => secrets::credentials(req.into_request(), &mut c).await,
        (Route::Tokens(name), Method::Get) => {
            secrets::tokens(req.into_request(), &mut c, name).await
        }
        (Route::Metrics, Method::Get) => metrics::metrics(req.into_request(), &mut c).await,
        (Route::Secrets(name), Method::Get) => {
            secrets::list(req.into_request(), &mut c, name).await
        }
        (Route::Rotate(name), Method::Post) => {
            secrets::rotate(req.into_request(), &mut c, name).await
        }
        (Route::Rotation(name), Method::Get) => {
            secrets::status(req.into_request(), &mut c, name).await
        }
        (Route::Secret(name, uuid), Method::Delete) => {
            secrets::delete(req.into_request(), &mut c, name, uuid).await
        }
        (Route::NotFound, _) => Err(ApiError::NotFound),
        (route, _) => Err(ApiError::MethodNotAllowed(route.allow())),
    };
    let response = match result {
        Ok(r) => r,
        Err(e) => {
            c.log.error = Some(e.code());
            if e.status() >= 500 {
                c.log.detail = Some(e.to_string());
            }
            e.into_response(c.admin())
        }
    };
    let now = crate::platform::now_ms();
    let mode = crate::config::broker(&c.env).map_or(LogMode::All, |cfg| cfg.log_mode);
    let status = response.status();
    c.log
        .emit(mode, &sent_method, status, now.saturating_sub(started), now);
    record(&c, status, now);
    response
}

/// Feeds the request's outcome to the counters and events, and writes the isolate's event batch
/// after the answer when one is due.
fn record(c: &Ctx, status: u16, now: u64) {
    telemetry::metrics(|m| {
        m.request(c.log.route, status);
        if let Some(outcome) = c.log.cache {
            m.cache_outcome(outcome.as_str());
        }
    });
    if let Some(call) = &c.log.upstream {
        let credential = c.log.credential.as_deref().unwrap_or("default");
        telemetry::upstream(credential, c.log.scope.as_deref(), call, c.log.error);
    }
    if let Some(write) = telemetry::flush_due(&c.env, now) {
        c.ctx.wait_until(write);
    }
}

/// True for a browser request from another origin: its `Origin` is not this Worker's own. The
/// API is for servers and for the console served from this origin; other pages may not call it
/// with a visitor's browser.
fn cross_origin(req: &Incoming) -> bool {
    let Some(origin) = req.header("origin") else {
        return false;
    };
    !ims_core::request_url::same_origin(&req.url(), &origin)
}

/// The routes, with their path parameters.
enum Route {
    Healthz,
    Credentials,
    Tokens(String),
    Token,
    OAuthToken,
    Metrics,
    Secrets(String),
    Rotate(String),
    Rotation(String),
    Secret(String, String),
    NotFound,
}

impl Route {
    fn of(path: &str) -> Self {
        // At most six segments matter (one more than the longest route): no allocation.
        let mut segments = [""; 6];
        let mut n = 0;
        for segment in path.trim_start_matches('/').split('/') {
            if n == segments.len() {
                return Self::NotFound;
            }
            segments[n] = segment;
            n += 1;
        }
        match &segments[..n] {
            ["healthz"] => Self::Healthz,
            ["v1", "credentials"] => Self::Credentials,
            ["v1", "credentials", name, "tokens"] => Self::Tokens((*name).to_owned()),
            ["v1", "token"] => Self::Token,
            ["oauth", "token"] => Self::OAuthToken,
            ["v1", "metrics"] => Self::Metrics,
            ["v1", "credentials", name, "secrets"] => Self::Secrets((*name).to_owned()),
            ["v1", "credentials", name, "secrets", "rotate"] => Self::Rotate((*name).to_owned()),
            ["v1", "credentials", name, "rotation"] => Self::Rotation((*name).to_owned()),
            ["v1", "credentials", name, "secrets", uuid] => {
                Self::Secret((*name).to_owned(), (*uuid).to_owned())
            }
            _ => Self::NotFound,
        }
    }

    /// The route as logged (parameters left out).
    fn label(&self) -> &'static str {
        match self {
            Self::Healthz => "GET /healthz",
            Self::Credentials => "GET /v1/credentials",
            Self::Tokens(_) => "GET /v1/credentials/{name}/tokens",
            Self::Token => "POST /v1/token",
            Self::OAuthToken => "POST /oauth/token",
            Self::Metrics => "GET /v1/metrics",
            Self::Secrets(_) => "GET /v1/credentials/{name}/secrets",
            Self::Rotate(_) => "POST /v1/credentials/{name}/secrets/rotate",
            Self::Rotation(_) => "GET /v1/credentials/{name}/rotation",
            Self::Secret(..) => "DELETE /v1/credentials/{name}/secrets/{uuid}",
            Self::NotFound => "unmatched",
        }
    }

    /// The methods the route answers, for `Allow`.
    fn allow(&self) -> &'static str {
        match self {
            Self::Healthz => "GET, HEAD",
            Self::Credentials | Self::Tokens(_) => "GET",
            Self::Token | Self::OAuthToken | Self::Rotate(_) => "POST",
            Self::Secrets(_) | Self::Rotation(_) | Self::Metrics => "GET",
            Self::Secret(..) => "DELETE",
            Self::NotFound => "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_routed_by_their_segments() {
        assert!(matches!(Route::of("/v1/token"), Route::Token));
        assert!(matches!(Route::of("//oauth/token"), Route::OAuthToken));
        assert!(matches!(
            Route::of("/v1/credentials/a/secrets/u-1"),
            Route::Secret(n, u) if n == "a" && u == "u-1"
        ));
        assert!(matches!(
            Route::of("/v1/credentials/a/secrets/rotate"),
            Route::Rotate(n) if n == "a"
        ));
        // Longer than any route, or a trailing slash: no route.
        assert!(matches!(
            Route::of("/v1/credentials/a/secrets/u-1/x"),
            Route::NotFound
        ));
        assert!(matches!(Route::of("/v1/token/"), Route::NotFound));
        assert!(matches!(Route::of("/a/b/c/d/e/f/g/h"), Route::NotFound));
        assert_eq!(body_route("/oauth/token"), Some(1));
        assert_eq!(body_route("/healthz"), None);
    }
}
