//! Structured logs: one JSON line per request, plus event lines (background refreshes, store
//! failures). Only ids, names, codes, statuses and timings go in: never a secret, caller key or
//! token, which the redacting types of `ims-core` keep out of `Debug` as well.

use ims_core::cache::{CacheOutcome, UpstreamCall};
use serde_json::{Map, Value};

/// The fields of one request's log line, filled in as the request is handled.
#[derive(Debug, Default)]
pub struct RequestLog {
    /// Request id (`cf-ray` when present).
    pub request_id: String,
    /// The matched route, e.g. `POST /v1/token`.
    pub route: &'static str,
    /// The authenticated caller's id.
    pub caller: Option<String>,
    /// The credential name used.
    pub credential: Option<String>,
    /// The canonical scope set asked for.
    pub scope: Option<String>,
    /// Where the token came from.
    pub cache: Option<CacheOutcome>,
    /// The IMS exchange, if one was made.
    pub upstream: Option<UpstreamCall>,
    /// The stable error code answered, if any.
    pub error: Option<&'static str>,
    /// Internal detail of a 5xx, for operators only (no secrets by construction).
    pub detail: Option<String>,
}

impl RequestLog {
    /// Writes the line for a finished request.
    pub fn emit(&self, method: &str, status: u16, ms: u64) {
        let mut line = Map::new();
        line.insert("msg".into(), "request".into());
        line.insert("request_id".into(), self.request_id.clone().into());
        line.insert("method".into(), method.into());
        line.insert("route".into(), self.route.into());
        line.insert("status".into(), status.into());
        line.insert("ms".into(), ms.into());
        put(&mut line, "caller", self.caller.clone().map(Value::from));
        put(
            &mut line,
            "credential",
            self.credential.clone().map(Value::from),
        );
        put(&mut line, "scope", self.scope.clone().map(Value::from));
        put(&mut line, "cache", self.cache.map(|c| c.as_str().into()));
        put(&mut line, "error", self.error.map(Value::from));
        put(&mut line, "detail", self.detail.clone().map(Value::from));
        if let Some(up) = &self.upstream {
            upstream_fields(&mut line, up);
        }
        worker::console_log!("{}", Value::Object(line));
    }
}

fn put(line: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        line.insert(key.into(), v);
    }
}

fn upstream_fields(line: &mut Map<String, Value>, up: &UpstreamCall) {
    put(line, "upstream_status", up.status.map(Value::from));
    line.insert("upstream_ms".into(), up.ms.into());
    line.insert("upstream_attempts".into(), up.attempts.into());
    put(line, "debug_id", up.debug_id.clone().map(Value::from));
}

/// Writes an event line (not tied to a response), e.g. a background refresh's result.
pub fn event(msg: &str, fields: Value, upstream: Option<&UpstreamCall>) {
    let mut line = Map::new();
    line.insert("msg".into(), msg.into());
    if let Value::Object(extra) = fields {
        line.extend(extra);
    }
    if let Some(up) = upstream {
        upstream_fields(&mut line, up);
    }
    worker::console_log!("{}", Value::Object(line));
}
