//! `GET /v1/metrics` (admin, viewer): the isolate's counters (with the isolate's id) and the
//! recent events of every isolate, as JSON, or the counters in Prometheus text format with
//! `?format=prometheus`, each sample labelled with the isolate's id.

use crate::api_error::ApiError;
use crate::auth;
use crate::context::Ctx;
use crate::reply::Reply;
use crate::request::Request;
use crate::telemetry;
use ims_core::events::Event;
use ims_core::metrics::Metrics;
use serde::Serialize;

/// The JSON answer.
#[derive(Serialize)]
struct Answer<'a> {
    /// The counters.
    counters: Metrics,
    /// The isolate that counted them: each isolate counts from its own start, so counters of
    /// two answers compare only when this is the same.
    isolate: &'a str,
    /// Newest first.
    events: Vec<Event>,
}

/// Handles `GET /v1/metrics`.
pub async fn metrics(req: &Request, c: &mut Ctx) -> Result<Reply, ApiError> {
    auth::operator_reader(c, req).await?;
    match req.query("format").as_deref() {
        Some("prometheus") => {
            let text = telemetry::metrics(&c.isolate, |m| m.prometheus(&c.isolate.id));
            let content_type = "text/plain; version=0.0.4; charset=utf-8";
            Ok(Reply::with_type(200, content_type, text.into_bytes()).no_store())
        }
        None | Some("json") => {
            let kv = c.isolate.kv(&c.env)?;
            let events = telemetry::recent(&c.isolate, &kv).await;
            let counters = telemetry::metrics(&c.isolate, |m| m.clone());
            let answer = Answer {
                counters,
                isolate: &c.isolate.id,
                events,
            };
            Ok(Reply::json(200, &answer).no_store())
        }
        Some(_) => Err(ApiError::InvalidRequest(
            "format must be json or prometheus".into(),
        )),
    }
}
