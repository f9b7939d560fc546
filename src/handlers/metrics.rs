//! `GET /v1/metrics` (admin): the isolate's counters and the recent events of every isolate, as
//! JSON, or the counters in Prometheus text format with `?format=prometheus`.

use crate::api_error::ApiError;
use crate::auth;
use crate::reply::Reply;
use crate::routes::Ctx;
use crate::telemetry;
use crate::tokens;
use ims_core::events::Event;
use ims_core::json::{self, Obj};
use worker::Request;

/// Handles `GET /v1/metrics`.
pub async fn metrics(req: Request, c: &mut Ctx) -> Result<Reply, ApiError> {
    let caller = auth::authenticate(&c.env, auth::bearer_key(&req))?;
    c.log.caller = Some(caller.id.clone());
    c.caller = Some(caller.clone());
    if !caller.may_read_operations() {
        return Err(ApiError::OperatorsOnly);
    }
    // From the runtime's serialized URL: `req.url()` would parse it again with the `url` crate.
    let format = ims_core::request_url::query_param(&req.inner().url(), "format");
    match format.as_deref() {
        Some("prometheus") => {
            let text = telemetry::metrics(|m| m.prometheus());
            let content_type = "text/plain; version=0.0.4; charset=utf-8";
            Ok(Reply::with_type(200, content_type, text.into_bytes()).no_store())
        }
        None | Some("json") => {
            let platform = tokens::platform(&c.env)?;
            let events = telemetry::recent(platform.kv()).await;
            let counters = telemetry::metrics(|m| m.to_json());
            let body = Obj::new()
                .raw("counters", &counters)
                .raw("events", &json::array(events.iter().map(Event::to_json)))
                .end();
            Ok(Reply::json(200, body).no_store())
        }
        Some(_) => Err(ApiError::InvalidRequest(
            "format must be json or prometheus".into(),
        )),
    }
}
