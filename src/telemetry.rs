//! The isolate's counters and recent-event log (both from `ims-core`), fed by the request
//! dispatcher, the token path and rotations, and written to KV at most every 5 s per isolate
//! (`events:<isolate id>`, an hour's TTL) so that `GET /v1/metrics` can show events of every
//! isolate.

use crate::isolate::Isolate;
use crate::platform::kv::Kv;
use ims_core::cache::UpstreamCall;
use ims_core::events::{self, Event, EVENTS_KEY_PREFIX};
use ims_core::metrics::Metrics;

/// How long event batches stay in KV, s.
const EVENTS_TTL_S: u64 = 3_600;

/// Runs `f` on the isolate's counters.
pub fn metrics<R>(isolate: &Isolate, f: impl FnOnce(&mut Metrics) -> R) -> R {
    f(&mut isolate.metrics.borrow_mut())
}

/// Remembers where the last hit on a cache key was served from.
pub fn hit(isolate: &Isolate, key: &str, outcome: &'static str) {
    let now = crate::platform::now_ms();
    let mut hits = isolate.hits.borrow_mut();
    match hits.get_mut(key) {
        Some(last) => *last = (outcome, now),
        None => {
            hits.insert(key.to_owned(), (outcome, now));
        }
    }
}

/// The last hit on a cache key in this isolate: outcome and when.
pub fn last_hit(isolate: &Isolate, key: &str) -> Option<(&'static str, u64)> {
    isolate.hits.borrow().get(key).copied()
}

/// Records an IMS exchange: counters, latency, and a `refresh` or `upstream_failure` event.
pub fn upstream(
    isolate: &Isolate,
    credential: &str,
    scope: Option<&str>,
    call: &UpstreamCall,
    error: Option<&str>,
) {
    metrics(isolate, |m| m.ims_call(error.unwrap_or("ok"), call.ms));
    push(
        isolate,
        Event {
            at_ms: crate::platform::now_ms(),
            kind: if error.is_some() {
                "upstream_failure"
            } else {
                "refresh"
            }
            .into(),
            credential: credential.to_owned(),
            detail: error.unwrap_or("minted").to_owned(),
            status: call.status,
            debug_id: call.debug_id.clone(),
            scope: scope.map(str::to_owned),
        },
    );
}

/// Records a rotation step or outcome.
pub fn rotation(isolate: &Isolate, credential: &str, detail: &str) {
    push(
        isolate,
        Event {
            at_ms: crate::platform::now_ms(),
            kind: "rotation".into(),
            credential: credential.to_owned(),
            detail: detail.to_owned(),
            status: None,
            debug_id: None,
            scope: None,
        },
    );
}

/// Records a pass of the store-key sweep.
pub fn store_key(isolate: &Isolate, detail: &str) {
    push(
        isolate,
        Event {
            at_ms: crate::platform::now_ms(),
            kind: "store_key".into(),
            credential: String::new(),
            detail: detail.to_owned(),
            status: None,
            debug_id: None,
            scope: None,
        },
    );
}

fn push(isolate: &Isolate, event: Event) {
    isolate.events.borrow_mut().push(event);
}

/// The write of this isolate's batch, if one is due at `now` (ms).
pub fn flush_due(
    isolate: &Isolate,
    env: &worker::Env,
    now: u64,
) -> Option<impl std::future::Future<Output = ()>> {
    let batch = isolate.events.borrow_mut().flush_due(now)?;
    let kv = isolate.kv(env).ok()?;
    let key = format!("{EVENTS_KEY_PREFIX}{}", isolate.id);
    Some(async move {
        let _ = kv.put(&key, &batch, Some(EVENTS_TTL_S)).await;
    })
}

/// Recent events of every isolate, newest first.
pub async fn recent(isolate: &Isolate, kv: &Kv) -> Vec<Event> {
    let local = isolate.events.borrow().local();
    let mut batches = Vec::new();
    if let Ok(keys) = kv.list(EVENTS_KEY_PREFIX, 50).await {
        for key in keys {
            if let Ok(Some(text)) = kv.get(&key).await {
                batches.push(text);
            }
        }
    }
    events::merge(batches.iter().map(String::as_str), local)
}
