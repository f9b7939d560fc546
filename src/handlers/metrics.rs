//! `GET /v1/metrics` (admin): the isolate's counters and the recent events of every isolate, as
//! JSON, or the counters in Prometheus text format with `?format=prometheus`.

use crate::api_error::{json_response, ApiError, NO_STORE};
use crate::auth;
use crate::routes::Ctx;
use crate::telemetry;
use crate::tokens;
use ims_core::events::Event;
use ims_core::json::{self, Obj};
use worker::{Request, Response};

/// Handles `GET /v1/metrics`.
pub async fn metrics(req: Request, c: &mut Ctx) -> Result<Response, ApiError> {
    let caller = auth::authenticate(&c.env, auth::bearer_key(&req))?;
    c.log.caller = Some(caller.id.clone());
    if !caller.admin {
        return Err(ApiError::AdminOnly);
    }
    // From the runtime's serialized URL: `req.url()` would parse it again with the `url` crate.
    let format = ims_core::request_url::query_param(&req.inner().url(), "format");
    match format.as_deref() {
        Some("prometheus") => {
            let text = telemetry::metrics(|m| m.prometheus());
            Ok(Response::builder()
                .with_status(200)
                .with_header("content-type", "text/plain; version=0.0.4; charset=utf-8")
                .map_err(|e| ApiError::Storage(e.to_string()))?
                .with_header("cache-control", "no-store")
                .map_err(|e| ApiError::Storage(e.to_string()))?
                .fixed(text.into_bytes()))
        }
        None | Some("json") => {
            let platform = tokens::platform(&c.env)?;
            let events = telemetry::recent(platform.kv()).await;
            let counters = telemetry::metrics(|m| m.to_json());
            let body = Obj::new()
                .raw("counters", &counters)
                .raw("events", &json::array(events.iter().map(Event::to_json)))
                .end();
            Ok(json_response(200, body, NO_STORE))
        }
        Some(_) => Err(ApiError::InvalidRequest(
            "format must be json or prometheus".into(),
        )),
    }
}
