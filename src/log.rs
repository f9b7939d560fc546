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

use crate::isolate::Isolate;
use ims_core::cache::{CacheOutcome, UpstreamCall};
use ims_core::hit_summary::{HitKey, LogMode};
use serde::Serialize;
use serde_json::{Map, Value};

/// The fields of one request's log line, filled in as the request is handled.
#[derive(Debug, Default)]
pub struct RequestLog {
    /// Request id (`cf-ray` when present, else made up when first needed).
    pub request_id: Option<String>,
    /// The request's `cf-ray`, if it had one.
    pub ray: Option<String>,
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
    /// The trusted issuer's name, for a caller authenticated by an identity token.
    pub issuer: Option<String>,
    /// That token's `sub`.
    pub sub: Option<String>,
    /// That token's `jti`.
    pub jti: Option<String>,
    /// True when that token was verified by this request (not remembered from an earlier one):
    /// such a request always gets a line of its own, so every token used shows its `sub` and
    /// `jti` at least once.
    pub identity_verified: bool,
}

impl RequestLog {
    /// The request id: its `cf-ray`, or made up on first use when the request had none.
    pub fn request_id(&mut self) -> String {
        let ray = self.ray.take();
        self.request_id
            .get_or_insert_with(|| ray.unwrap_or_else(crate::random::id))
            .clone()
    }

    /// A plain cache hit: a token answered from memory or KV, no IMS exchange, no error.
    fn is_plain_hit(&self, status: u16) -> bool {
        status == 200
            && !self.identity_verified
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
        let mut line = Fields::new()
            .str("msg", "request")
            .str("request_id", &self.request_id())
            .str("method", method)
            .str("route", self.route)
            .u64("status", status.into())
            .u64("ms", ms);
        for (key, value) in [
            ("caller", self.caller.as_deref()),
            ("issuer", self.issuer.as_deref()),
            ("sub", self.sub.as_deref()),
            ("jti", self.jti.as_deref()),
            ("credential", self.credential.as_deref()),
            ("scope", self.scope.as_deref()),
            ("cache", self.cache.map(CacheOutcome::as_str)),
            ("error", self.error),
            ("detail", self.detail.as_deref()),
        ] {
            if let Some(v) = value {
                line = line.str(key, v);
            }
        }
        if let Some(up) = &self.upstream {
            line = line.upstream(up);
        }
        write(&line.end());
    }

    /// Counts a plain hit. Its caller, credential and scope move into the summary's key: a
    /// plain hit's line is not written, and the rest of the request reads none of them (they
    /// matter after the line only for an IMS exchange, which a plain hit has not made).
    fn count(&mut self, now: u64, ms: u64) {
        let key = HitKey {
            route: self.route,
            caller: self.caller.take().unwrap_or_default(),
            credential: self.credential.take().unwrap_or_default(),
            scope: self.scope.take().unwrap_or_default(),
            cache: self.cache.map_or("", CacheOutcome::as_str),
        };
        let full = Isolate::current().summary.borrow_mut().count(key, ms, now);
        if full {
            flush_summary(now);
        }
    }
}

/// Writes the summary of counted hits, if there is one.
fn flush_summary(now: u64) {
    let Some(summary) = Isolate::current().summary.borrow_mut().take() else {
        return;
    };
    let line = SummaryLine {
        msg: "requests_summary",
        requests: summary.requests(),
        rows: summary.rows.iter().map(SummaryRow::of).collect(),
        since: ims_core::time::rfc3339(summary.since_ms),
        until: ims_core::time::rfc3339(now),
    };
    write(&serde_json::to_string(&line).unwrap_or_default());
}

/// The `requests_summary` line; members in alphabetical order, as every line has them.
#[derive(Serialize)]
struct SummaryLine {
    msg: &'static str,
    requests: u64,
    rows: Vec<SummaryRow<'static>>,
    since: String,
    until: String,
}

/// One row of the summary; members in alphabetical order.
#[derive(Serialize)]
struct SummaryRow<'a> {
    cache: &'a str,
    caller: String,
    count: u64,
    credential: String,
    max_ms: u64,
    route: &'a str,
    scope: String,
}

impl SummaryRow<'static> {
    fn of(r: &ims_core::hit_summary::HitRow) -> Self {
        Self {
            cache: r.key.cache,
            caller: r.key.caller.clone(),
            count: r.count,
            credential: r.key.credential.clone(),
            max_ms: r.max_ms,
            route: r.key.route,
            scope: r.key.scope.clone(),
        }
    }
}

/// Writes one line to the console (what Workers Logs and `wrangler tail` collect).
fn write(line: &str) {
    worker::web_sys::console::log_1(&line.into());
}

/// The fields of a log line: a `serde_json` map, so written in key order (its map is sorted),
/// each key once (a key given again replaces its value).
#[derive(Default)]
pub struct Fields(Map<String, Value>);

impl Fields {
    /// No fields.
    pub fn new() -> Self {
        Self::default()
    }

    /// A field of any JSON value.
    pub fn value(mut self, key: &'static str, value: impl Into<Value>) -> Self {
        self.0.insert(key.to_owned(), value.into());
        self
    }

    /// A string field.
    pub fn str(self, key: &'static str, value: &str) -> Self {
        self.value(key, value)
    }

    /// A string field, `null` when absent.
    pub fn opt_str(self, key: &'static str, value: Option<&str>) -> Self {
        self.value(key, value)
    }

    /// A number field.
    pub fn u64(self, key: &'static str, value: u64) -> Self {
        self.value(key, value)
    }

    /// A `true` or `false` field.
    pub fn bool(self, key: &'static str, value: bool) -> Self {
        self.value(key, value)
    }

    /// The fields of an IMS exchange.
    fn upstream(self, up: &UpstreamCall) -> Self {
        let mut line = self
            .u64("upstream_ms", up.ms)
            .u64("upstream_attempts", up.attempts.into());
        if let Some(status) = up.status {
            line = line.u64("upstream_status", status.into());
        }
        if let Some(id) = &up.debug_id {
            line = line.str("debug_id", id);
        }
        line
    }

    /// The line: a JSON object.
    fn end(self) -> String {
        Value::Object(self.0).to_string()
    }
}

/// Writes an event line (not tied to a response), e.g. a background refresh's result.
pub fn event(msg: &str, fields: Fields, upstream: Option<&UpstreamCall>) {
    let mut line = fields.str("msg", msg);
    if let Some(up) = upstream {
        line = line.upstream(up);
    }
    write(&line.end());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_written_in_key_order_each_once() {
        let up = UpstreamCall {
            status: Some(400),
            ms: 12,
            attempts: 2,
            debug_id: Some("d\"1".into()),
            secret_index: 1,
        };
        let line = Fields::new()
            .str("msg", "x")
            .str("level", "warn")
            .opt_str("uuid", None)
            .bool("ok", true)
            .u64("secret_index", 3)
            .str("level", "error")
            .upstream(&up)
            .end();
        assert_eq!(
            line,
            r#"{"debug_id":"d\"1","level":"error","msg":"x","ok":true,"secret_index":3,"upstream_attempts":2,"upstream_ms":12,"upstream_status":400,"uuid":null}"#
        );
        assert_eq!(Fields::new().end(), "{}");
    }
}
