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
use serde_json::{Map, Value};
use std::cell::RefCell;

/// Longest time a summary collects before it is written, ms.
pub const SUMMARY_MS: u64 = 60_000;
/// Most rows in one summary.
pub const SUMMARY_MAX: usize = 64;

/// Which requests get a line of their own (`LOG_REQUESTS`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// Every request.
    All,
    /// Every request but plain cache hits, which are counted in a summary.
    Summary,
}

impl Mode {
    /// Parses `LOG_REQUESTS` (`all` | `summary`; unset: `summary`).
    pub fn parse(raw: Option<&str>) -> Result<Self, ims_core::ConfigError> {
        match raw.map(str::trim) {
            None | Some("summary") => Ok(Self::Summary),
            Some("all") => Ok(Self::All),
            Some(_) => Err(ims_core::ConfigError::Invalid {
                setting: "LOG_REQUESTS".into(),
                reason: "must be \"all\" or \"summary\"".into(),
            }),
        }
    }
}

/// One summary row's identity: route, caller, credential, scope set, cache level.
type RowKey = (&'static str, String, String, String, &'static str);

/// The hits counted since `since`: per row, how many and the slowest, ms.
#[derive(Default)]
struct Summary {
    since: u64,
    rows: Vec<(RowKey, u64, u64)>,
}

thread_local! {
    static SUMMARY: RefCell<Summary> = RefCell::new(Summary::default());
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
    pub fn emit(&mut self, mode: Mode, method: &str, status: u16, ms: u64, now: u64) {
        if mode == Mode::Summary && self.is_plain_hit(status) {
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
        let key: RowKey = (
            self.route,
            self.caller.clone().unwrap_or_default(),
            self.credential.clone().unwrap_or_default(),
            self.scope.clone().unwrap_or_default(),
            self.cache.map_or("", CacheOutcome::as_str),
        );
        let due = SUMMARY.with_borrow_mut(|s| {
            if s.rows.is_empty() {
                s.since = now;
            }
            match s.rows.iter_mut().find(|(k, _, _)| *k == key) {
                Some(row) => {
                    row.1 += 1;
                    row.2 = row.2.max(ms);
                }
                None => s.rows.push((key, 1, ms)),
            }
            s.rows.len() >= SUMMARY_MAX || now.saturating_sub(s.since) >= SUMMARY_MS
        });
        if due {
            flush_summary(now);
        }
    }
}

/// Writes the summary of counted hits, if there is one.
fn flush_summary(now: u64) {
    let Some(summary) =
        SUMMARY.with_borrow_mut(|s| (!s.rows.is_empty()).then(|| std::mem::take(s)))
    else {
        return;
    };
    let total: u64 = summary.rows.iter().map(|r| r.1).sum();
    let rows: Vec<Value> = summary
        .rows
        .into_iter()
        .map(
            |((route, caller, credential, scope, cache), count, max_ms)| {
                serde_json::json!({
                    "route": route, "caller": caller, "credential": credential, "scope": scope,
                    "cache": cache, "count": count, "max_ms": max_ms,
                })
            },
        )
        .collect();
    worker::console_log!(
        "{}",
        serde_json::json!({
            "msg": "requests_summary",
            "since": ims_core::time::rfc3339(summary.since),
            "until": ims_core::time::rfc3339(now),
            "requests": total,
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
