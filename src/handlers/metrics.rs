//! `GET /v1/metrics` (admin): the isolate's counters and the recent events of every isolate, as
//! JSON, or the counters in Prometheus text format with `?format=prometheus`.

use crate::api_error::{json_response, ApiError, NO_STORE};
use crate::auth;
use crate::routes::Ctx;
use crate::telemetry;
use crate::tokens;
use ims_core::events::Event;
use ims_core::json::{self, Obj};
use ims_core::metrics::Metrics;
use std::collections::BTreeMap;
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
            let counters = telemetry::metrics(|m| counters(m));
            let body = Obj::new()
                .raw("counters", &counters)
                .raw("events", &json::array(events.iter().map(event)))
                .end();
            Ok(json_response(200, body, NO_STORE))
        }
        Some(_) => Err(ApiError::InvalidRequest(
            "format must be json or prometheus".into(),
        )),
    }
}

/// The counters as JSON: every object's keys in serde_json's (sorted) order, as the `Serialize`
/// derive through `serde_json::Value` wrote them before.
fn counters(m: &Metrics) -> String {
    let map = |m: &BTreeMap<String, u64>| {
        let mut obj = Obj::new();
        for (k, n) in m {
            obj = obj.u64(k, *n);
        }
        obj.end()
    };
    let buckets = json::array(m.upstream_latency_buckets.iter().map(u64::to_string));
    Obj::new()
        .raw("cache", &map(&m.cache))
        .raw("ims_calls", &map(&m.ims_calls))
        .raw("requests", &map(&m.requests))
        .raw("rotations", &map(&m.rotations))
        .u64("since_ms", m.since_ms)
        .raw("upstream_latency_buckets", &buckets)
        .u64("upstream_latency_sum_ms", m.upstream_latency_sum_ms)
        .end()
}

/// One event as JSON (keys sorted, absent options left out, as before).
fn event(e: &Event) -> String {
    let mut obj = Obj::new()
        .u64("at_ms", e.at_ms)
        .str("credential", &e.credential);
    if let Some(id) = &e.debug_id {
        obj = obj.str("debug_id", id);
    }
    obj = obj.str("detail", &e.detail).str("kind", &e.kind);
    if let Some(scope) = &e.scope {
        obj = obj.str("scope", scope);
    }
    if let Some(status) = e.status {
        obj = obj.u64("status", status.into());
    }
    obj.end()
}
