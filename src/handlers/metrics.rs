//! `GET /v1/metrics` (admin, viewer): the isolate's counters and the recent events of every
//! isolate, as JSON, or the counters in Prometheus text format with `?format=prometheus`.

use crate::api_error::ApiError;
use crate::auth;
use crate::context::Ctx;
use crate::reply::Reply;
use crate::request::Request;
use crate::telemetry;
use serde::Serialize;
use serde_json::value::RawValue;

/// The JSON answer.
#[derive(Serialize)]
struct Answer {
    /// The counters, as `ims_core::metrics` writes them.
    counters: Box<RawValue>,
    /// Newest first.
    events: Vec<Box<RawValue>>,
}

/// Handles `GET /v1/metrics`.
pub async fn metrics(req: &Request, c: &mut Ctx) -> Result<Reply, ApiError> {
    let caller = auth::authenticate(c, auth::bearer_key(req.authorization.as_ref()), None)?;
    if !caller.may_read_operations() {
        return Err(ApiError::OperatorsOnly);
    }
    match req.query("format").as_deref() {
        Some("prometheus") => {
            let text = telemetry::metrics(|m| m.prometheus());
            let content_type = "text/plain; version=0.0.4; charset=utf-8";
            Ok(Reply::with_type(200, content_type, text.into_bytes()).no_store())
        }
        None | Some("json") => {
            let kv = c.isolate.kv(&c.env)?;
            let events = telemetry::recent(&kv).await;
            let counters = RawValue::from_string(telemetry::metrics(|m| m.to_json()))
                .map_err(|e| ApiError::Storage(format!("counters: {e}")))?;
            let events = events
                .iter()
                .filter_map(|e| RawValue::from_string(e.to_json()).ok())
                .collect();
            Ok(Reply::json(200, &Answer { counters, events }).no_store())
        }
        Some(_) => Err(ApiError::InvalidRequest(
            "format must be json or prometheus".into(),
        )),
    }
}
