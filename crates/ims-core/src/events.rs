//! A bounded log of recent events (token refreshes, upstream failures, rotation steps) that
//! survives isolates.
//!
//! Each isolate keeps its newest events in memory and writes them, as one KV value under a key of
//! its own, at most once per [`FLUSH_INTERVAL_MS`]: KV accepts one write per second per key, and
//! per-isolate keys never contend. Readers merge every isolate's batch, newest first.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Events one isolate keeps (and writes).
pub const MAX_EVENTS: usize = 100;
/// Events a reader returns after merging.
pub const MAX_MERGED: usize = 200;
/// Least time between two writes of one isolate's batch, ms.
pub const FLUSH_INTERVAL_MS: u64 = 5_000;
/// Prefix of the KV keys of event batches.
pub const EVENTS_KEY_PREFIX: &str = "events:";

/// One event. Holds names, codes, statuses and ids only: never a secret or token.
///
/// Its JSON (in KV batches and in `GET /v1/metrics`): the fields in this order, absent options
/// left out; read back with absent or `null` options as `None`, unknown fields skipped and a
/// field given twice refused.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Event {
    /// When, epoch ms.
    pub at_ms: u64,
    /// `refresh`, `upstream_failure`, `rotation`.
    pub kind: String,
    /// The credential concerned.
    pub credential: String,
    /// What happened, e.g. the cache outcome, the error code or the rotation step.
    pub detail: String,
    /// IMS's (or the management API's) HTTP status, if it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Adobe's `x-debug-id`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debug_id: Option<String>,
    /// The canonical scope set, for token events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl Event {
    /// The event as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A batch: a JSON array of events.
fn read_batch(text: &str) -> Option<Vec<Event>> {
    serde_json::from_str(text).ok()
}

/// One isolate's recent events and its flush schedule.
#[derive(Debug, Default)]
pub struct EventLog {
    events: VecDeque<Event>,
    dirty: bool,
    last_flush_ms: u64,
}

impl EventLog {
    /// Records an event, dropping the oldest past [`MAX_EVENTS`].
    pub fn push(&mut self, event: Event) {
        if self.events.len() == MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(event);
        self.dirty = true;
    }

    /// The batch to write now, if there is news and the last write is old enough; marks it
    /// written.
    pub fn flush_due(&mut self, now_ms: u64) -> Option<String> {
        if !self.dirty || now_ms.saturating_sub(self.last_flush_ms) < FLUSH_INTERVAL_MS {
            return None;
        }
        self.dirty = false;
        self.last_flush_ms = now_ms;
        serde_json::to_string(&self.events).ok()
    }

    /// This isolate's events, oldest first.
    pub fn local(&self) -> Vec<Event> {
        self.events.iter().cloned().collect()
    }
}

/// Merges batches (JSON arrays written by [`EventLog::flush_due`]) and local events: newest
/// first, duplicates dropped, at most [`MAX_MERGED`]. Unreadable batches are skipped.
pub fn merge<'a>(batches: impl IntoIterator<Item = &'a str>, local: Vec<Event>) -> Vec<Event> {
    let mut all = local;
    for batch in batches {
        if let Some(events) = read_batch(batch) {
            all.extend(events);
        }
    }
    // Ordered by time first (the first field), then by the rest, so duplicates are adjacent.
    all.sort();
    all.dedup();
    all.reverse();
    all.truncate(MAX_MERGED);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(at: u64, detail: &str) -> Event {
        Event {
            at_ms: at,
            kind: "refresh".into(),
            credential: "default".into(),
            detail: detail.into(),
            status: Some(200),
            debug_id: None,
            scope: None,
        }
    }

    #[test]
    fn bounded_and_flushed_at_most_every_interval() {
        let mut log = EventLog::default();
        assert_eq!(log.flush_due(10_000), None, "nothing to write");
        for i in 0..150 {
            log.push(ev(i, "miss"));
        }
        assert_eq!(log.local().len(), MAX_EVENTS);
        assert_eq!(log.local()[0].at_ms, 50);
        assert!(log.flush_due(10_000).is_some());
        log.push(ev(200, "miss"));
        assert_eq!(log.flush_due(14_999), None, "within 5 s of the last write");
        assert!(log.flush_due(15_000).is_some());
        assert_eq!(log.flush_due(30_000), None, "no news");
    }

    /// A batch is a JSON array of events, each with its options left out when absent.
    #[test]
    fn batches_are_arrays_of_events() {
        let full = Event {
            status: None,
            debug_id: Some("d\"1".into()),
            scope: Some("openid".into()),
            ..ev(7, "x")
        };
        let mut log = EventLog::default();
        log.push(ev(1, "a"));
        log.push(full.clone());
        let text = log.flush_due(FLUSH_INTERVAL_MS).unwrap();
        assert_eq!(
            text,
            r#"[{"at_ms":1,"kind":"refresh","credential":"default","detail":"a","status":200},{"at_ms":7,"kind":"refresh","credential":"default","detail":"x","debug_id":"d\"1","scope":"openid"}]"#
        );
        assert_eq!(read_batch(&text), Some(vec![ev(1, "a"), full]));
        assert_eq!(read_batch("[]"), Some(vec![]));
        let lax =
            r#"[{"at_ms":1,"kind":"k","credential":"c","detail":"d","status":null,"x":[{}]}]"#;
        let read = read_batch(lax).unwrap();
        assert_eq!((read[0].status, read[0].detail.as_str()), (None, "d"));
        for bad in [
            r#"[{"at_ms":1,"kind":"k","credential":"c","detail":"d"}"#,
            r#"[{"at_ms":1,"kind":"k","credential":"c"}]"#,
            r#"[{"at_ms":1,"at_ms":2,"kind":"k","credential":"c","detail":"d"}]"#,
            r#"[{"at_ms":1,"kind":"k","credential":"c","detail":"d","status":70000}]"#,
            r#"[{"at_ms":-1,"kind":"k","credential":"c","detail":"d"}]"#,
            r#"{"at_ms":1}"#,
            "garbage",
        ] {
            assert_eq!(read_batch(bad), None, "{bad}");
        }
    }

    #[test]
    fn merge_is_newest_first_without_duplicates() {
        let a = serde_json::to_string(&vec![ev(1, "a"), ev(3, "c")]).unwrap();
        let b = serde_json::to_string(&vec![ev(2, "b")]).unwrap();
        let merged = merge(
            [a.as_str(), b.as_str(), "garbage"],
            vec![ev(3, "c"), ev(4, "d")],
        );
        let order: Vec<u64> = merged.iter().map(|e| e.at_ms).collect();
        assert_eq!(order, [4, 3, 2, 1]);
    }
}
