//! The request log's treatment of plain cache hits (`LOG_REQUESTS`).
//!
//! A plain cache hit (a token answered from memory or the store, no IMS exchange, no error) is
//! the bulk of a broker's traffic and, under workerd, a log line costs more than the rest of such
//! a request. In [`LogMode::Summary`] (the default) hits are not written one by one but counted
//! per route, caller, credential, scope set and cache level in a [`HitSummary`], which the
//! platform writes as one line before its next other line, or once it is [`SUMMARY_MS`] old or
//! holds [`SUMMARY_MAX`] rows. [`LogMode::All`] writes a line for every request.

use crate::ConfigError;

/// Longest time a summary collects before it is due, ms.
pub const SUMMARY_MS: u64 = 60_000;
/// Most rows in one summary.
pub const SUMMARY_MAX: usize = 64;

/// Which requests get a log line of their own (`LOG_REQUESTS`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LogMode {
    /// Every request.
    All,
    /// Every request but plain cache hits, which are counted in a [`HitSummary`].
    Summary,
}

impl LogMode {
    /// Parses `LOG_REQUESTS` (`all` | `summary`; unset: `summary`).
    pub fn parse(raw: Option<&str>) -> Result<Self, ConfigError> {
        match raw.map(str::trim) {
            None | Some("summary") => Ok(Self::Summary),
            Some("all") => Ok(Self::All),
            Some(_) => Err(ConfigError::Invalid {
                setting: "LOG_REQUESTS".into(),
                reason: "must be \"all\" or \"summary\"".into(),
            }),
        }
    }
}

/// What a summary row counts: one route, caller, credential, scope set and cache level.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct HitKey {
    /// The route, e.g. `POST /v1/token`.
    pub route: &'static str,
    /// The caller's id.
    pub caller: String,
    /// The credential's name.
    pub credential: String,
    /// The canonical scope set (comma form).
    pub scope: String,
    /// Where the token came from (`memory`, `kv`).
    pub cache: &'static str,
}

/// One row: its key, how many hits and the slowest, ms.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct HitRow {
    /// What was counted.
    pub key: HitKey,
    /// How many hits.
    pub count: u64,
    /// The slowest, ms.
    pub max_ms: u64,
}

/// The hits counted since [`HitSummary::since_ms`].
#[derive(Default, Debug)]
pub struct HitSummary {
    /// When the first hit of this summary was counted, epoch ms.
    pub since_ms: u64,
    /// The rows, in first-seen order.
    pub rows: Vec<HitRow>,
}

impl HitSummary {
    /// Counts one hit that took `ms` at `now` (epoch ms). True when the summary is due to be
    /// written: it holds [`SUMMARY_MAX`] rows or began [`SUMMARY_MS`] ago.
    pub fn count(&mut self, key: HitKey, ms: u64, now: u64) -> bool {
        if self.rows.is_empty() {
            self.since_ms = now;
        }
        match self.rows.iter_mut().find(|r| r.key == key) {
            Some(row) => {
                row.count += 1;
                row.max_ms = row.max_ms.max(ms);
            }
            None => self.rows.push(HitRow {
                key,
                count: 1,
                max_ms: ms,
            }),
        }
        self.rows.len() >= SUMMARY_MAX || now.saturating_sub(self.since_ms) >= SUMMARY_MS
    }

    /// The summary so far, if it counted anything, leaving this one empty.
    pub fn take(&mut self) -> Option<HitSummary> {
        (!self.rows.is_empty()).then(|| std::mem::take(self))
    }

    /// How many hits the summary counts.
    pub fn requests(&self) -> u64 {
        self.rows.iter().map(|r| r.count).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(caller: &str, cache: &'static str) -> HitKey {
        HitKey {
            route: "POST /v1/token",
            caller: caller.into(),
            credential: "default".into(),
            scope: "AdobeID,openid".into(),
            cache,
        }
    }

    #[test]
    fn mode_defaults_to_summary_and_refuses_other_values() {
        assert_eq!(LogMode::parse(None).unwrap(), LogMode::Summary);
        assert_eq!(LogMode::parse(Some(" all ")).unwrap(), LogMode::All);
        assert_eq!(LogMode::parse(Some("summary")).unwrap(), LogMode::Summary);
        let e = LogMode::parse(Some("verbose")).unwrap_err().to_string();
        assert!(e.contains("LOG_REQUESTS") && !e.contains("verbose"), "{e}");
    }

    #[test]
    fn counts_per_key_keeps_the_slowest_and_empties_on_take() {
        let mut s = HitSummary::default();
        assert!(s.take().is_none());
        assert!(!s.count(key("a", "memory"), 3, 1_000));
        assert!(!s.count(key("a", "memory"), 9, 1_010));
        assert!(!s.count(key("a", "kv"), 1, 1_020));
        assert!(!s.count(key("b", "memory"), 2, 1_030));
        let taken = s.take().unwrap();
        assert_eq!(taken.since_ms, 1_000);
        assert_eq!(taken.requests(), 4);
        let counts: Vec<_> = taken
            .rows
            .iter()
            .map(|r| (r.key.caller.as_str(), r.key.cache, r.count, r.max_ms))
            .collect();
        assert_eq!(
            counts,
            [
                ("a", "memory", 2, 9),
                ("a", "kv", 1, 1),
                ("b", "memory", 1, 2)
            ]
        );
        assert!(s.take().is_none());
        // A new summary starts at its first hit.
        s.count(key("a", "memory"), 1, 5_000);
        assert_eq!(s.take().unwrap().since_ms, 5_000);
    }

    #[test]
    fn due_when_full_or_old() {
        let mut s = HitSummary::default();
        for i in 0..SUMMARY_MAX - 1 {
            assert!(!s.count(key(&format!("c{i}"), "memory"), 1, 0));
        }
        assert!(
            s.count(key("last", "memory"), 1, 0),
            "full at SUMMARY_MAX rows"
        );
        let mut s = HitSummary::default();
        assert!(!s.count(key("a", "memory"), 1, 10));
        assert!(!s.count(key("a", "memory"), 1, 10 + SUMMARY_MS - 1));
        assert!(
            s.count(key("a", "memory"), 1, 10 + SUMMARY_MS),
            "due at SUMMARY_MS"
        );
    }
}
