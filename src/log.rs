//! Structured logs: one JSON line per request, plus event lines (background refreshes, store
//! failures). Only ids, names, codes, statuses and timings go in: never a secret, caller key or
//! token, which the redacting types of `ims-core` keep out of `Debug` as well.
//!
//! With `LOG_REQUESTS = "summary"` (the default) a plain cache hit — a token answered from
//! memory or KV with no IMS call — writes no line of its own: it is counted per route, caller,
//! credential, scope set and cache level, and the counts go out as one `requests_summary` line
//! before the isolate's next other line, or with the first hit [`SUMMARY_MS`] after the summary
//! began, or when it holds [`SUMMARY_MAX`] rows. Everything else (misses, stale answers, errors,
//! admin calls) has its own line. A log line costs more than the rest of a cache hit, so this
//! is what keeps the hit path near the cost of an empty Worker. `LOG_REQUESTS = "all"` writes a
//! line for every request (counts of an isolate evicted between summaries are otherwise lost).

use ims_core::cache::{CacheOutcome, UpstreamCall};
use ims_core::hit_summary::{HitKey, HitSummary, LogMode};
use serde_json::{Map, Value};
use std::cell::RefCell;

thread_local! {
    static SUMMARY: RefCell<HitSummary> = RefCell::new(HitSummary::default());
}

/// The fields of one request's log line, filled in as the request is handled.
#[derive(Debug, Default)]
pub struct RequestLog {
    /// Request id (`cf-ray` when present, else made up when first needed).
    pub request_id: Option<String>,
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
    /// The request id, made up on first use when the request had no `cf-ray`.
    pub fn request_id(&mut self) -> String {
        self.request_id
            .get_or_insert_with(crate::random::id)
            .clone()
    }

    /// A plain cache hit: a token answered from memory or KV, no IMS exchange, no error.
    fn is_plain_hit(&self, status: u16) -> bool {
        status == 200
            && self.error.is_none()
            && self.upstream.is_none()
            && matches!(self.cache, Some(CacheOutcome::Memory | CacheOutcome::Kv))
    }

    /// Writes the line for a finished request, or counts it in the summary (see the module
    /// doc). `now` is the clock, ms.
    pub fn emit(&mut self, mode: LogMode, method: &str, status: u16, ms: u64, now: u64) {
        if mode == LogMode::Summary && self.is_plain_hit(status) {
            self.count(now, ms);
            return;
        }
        flush_summary(now);
        let mut line = Map::new();
        line.insert("msg".into(), "request".into());
        line.insert("request_id".into(), self.request_id().into());
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

    fn count(&self, now: u64, ms: u64) {
        let key = HitKey {
            route: self.route,
            caller: self.caller.clone().unwrap_or_default(),
            credential: self.credential.clone().unwrap_or_default(),
            scope: self.scope.clone().unwrap_or_default(),
            cache: self.cache.map_or("", CacheOutcome::as_str),
        };
        if SUMMARY.with_borrow_mut(|s| s.count(key, ms, now)) {
            flush_summary(now);
        }
    }
}

/// Writes the summary of counted hits, if there is one.
fn flush_summary(now: u64) {
    let Some(summary) = SUMMARY.with_borrow_mut(HitSummary::take) else {
        return;
    };
    let rows: Vec<Value> = summary
        .rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "route": r.key.route, "caller": r.key.caller, "credential": r.key.credential,
                "scope": r.key.scope, "cache": r.key.cache, "count": r.count, "max_ms": r.max_ms,
            })
        })
        .collect();
    worker::console_log!(
        "{}",
        serde_json::json!({
            "msg": "requests_summary",
            "since": ims_core::time::rfc3339(summary.since_ms),
            "until": ims_core::time::rfc3339(now),
            "requests": summary.requests(),
            "rows": rows,
        })
    );
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
