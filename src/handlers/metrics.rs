//! `GET /v1/metrics` (admin): the isolate's counters and the recent events of every isolate, as
//! JSON, or the counters in Prometheus text format with `?format=prometheus`.

use crate::api_error::{json_response, ApiError};
use crate::auth;
use crate::routes::Ctx;
use crate::telemetry;
use crate::tokens;
use serde_json::json;
use worker::{Request, Response};

/// Handles `GET /v1/metrics`.
pub async fn metrics(req: Request, c: &mut Ctx) -> Result<Response, ApiError> {
    let caller = auth::authenticate(&c.env, auth::bearer_key(&req))?;
    c.log.caller = Some(caller.id.clone());
    if !caller.admin {
        return Err(ApiError::AdminOnly);
    }
    let format = req.url().ok().and_then(|u| {
        u.query_pairs()
            .find(|(k, _)| k == "format")
            .map(|(_, v)| v.into_owned())
    });
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
            let counters = telemetry::metrics(|m| serde_json::to_value(&*m).unwrap_or_default());
            let body = json!({"counters": counters, "events": events});
            Ok(json_response(
                200,
                &body,
                &[("cache-control", "no-store".into())],
            ))
        }
        Some(_) => Err(ApiError::InvalidRequest(
            "format must be json or prometheus".into(),
        )),
    }
}
