//! The caching policy: when a cached token is fresh, stale or unusable, what callers are told
//! about its life, and the KV TTL. The numbers here are the broker's contract.
//!
//! - `skew = min(60 s, lifetime / 10)`; a token is never handed out after `expires_at - skew`
//!   (its *usable end*), and callers' `expires_in` counts down to that point.
//! - After 23/24 of the usable life (Adobe: "generate a new token every 23 hours") a token is
//!   *stale*: still served, while exactly one background refresh runs.
//! - KV's `expiration_ttl` is only garbage collection: time left until the usable end, never below
//!   [`MIN_KV_TTL_S`]; the stored value's own `expires_at_ms` is checked on every read.

use crate::record_json::from_object;
use crate::secret::AccessToken;
use serde::{Deserialize, Serialize};

/// Largest safety margin before expiry, milliseconds.
pub const MAX_SKEW_MS: u64 = 60_000;
/// Smallest TTL written to KV: KV rejects under 60 s and checks against its own clock.
pub const MIN_KV_TTL_S: u64 = 65;

/// How usable a cached token is at a given instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Serve it; nothing else to do.
    Fresh,
    /// Serve it, and start one background refresh.
    Stale,
    /// Past its usable end: never hand it out.
    Unusable,
}

/// A token entry as stored: `{"v":1,"credential":…,"scope":…,"access_token":…,
/// "sent_at_ms":…,"expires_at_ms":…}`, members in this order. Read back with other members
/// skipped and each member once.
#[derive(Serialize, Deserialize)]
struct StoredEntry<S> {
    v: u64,
    credential: S,
    scope: S,
    access_token: S,
    sent_at_ms: u64,
    expires_at_ms: u64,
}

/// A token in the cache, with the instants that govern it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedToken {
    /// The access token.
    pub access_token: AccessToken,
    /// The canonical comma-separated scope set it was minted for.
    pub scope: String,
    /// When the request that minted it was sent, epoch ms (the start of its life).
    pub sent_at_ms: u64,
    /// When IMS says it expires, epoch ms.
    pub expires_at_ms: u64,
}

impl CachedToken {
    /// `expires_at - sent_at`.
    pub fn lifetime_ms(&self) -> u64 {
        self.expires_at_ms.saturating_sub(self.sent_at_ms)
    }

    /// `min(60 s, lifetime / 10)`.
    pub fn skew_ms(&self) -> u64 {
        (self.lifetime_ms() / 10).min(MAX_SKEW_MS)
    }

    /// `expires_at - skew`: the last instant the token may be handed out.
    pub fn usable_until_ms(&self) -> u64 {
        self.expires_at_ms - self.skew_ms()
    }

    /// `sent_at + 23/24 × usable life`: from here on a background refresh runs.
    pub fn refresh_at_ms(&self) -> u64 {
        let usable = self.usable_until_ms().saturating_sub(self.sent_at_ms);
        self.sent_at_ms + usable / 24 * 23 + usable % 24 * 23 / 24
    }

    /// Fresh, stale or unusable at `now_ms`.
    pub fn freshness(&self, now_ms: u64) -> Freshness {
        if now_ms >= self.usable_until_ms() {
            Freshness::Unusable
        } else if now_ms >= self.refresh_at_ms() {
            Freshness::Stale
        } else {
            Freshness::Fresh
        }
    }

    /// The `expires_in` told to callers: whole seconds left until the usable end.
    pub fn caller_expires_in_s(&self, now_ms: u64) -> u64 {
        self.usable_until_ms().saturating_sub(now_ms) / 1000
    }

    /// The KV `expiration_ttl`: seconds until the usable end, rounded up, at least 65.
    pub fn kv_ttl_s(&self, now_ms: u64) -> u64 {
        self.usable_until_ms()
            .saturating_sub(now_ms)
            .div_ceil(1000)
            .max(MIN_KV_TTL_S)
    }

    /// Serialises the entry for the shared store: `{"v":1,"credential":…,"scope":…,
    /// "access_token":…,"sent_at_ms":…,"expires_at_ms":…}`.
    pub fn to_stored(&self, credential: &str) -> String {
        let entry = StoredEntry {
            v: 1,
            credential,
            scope: self.scope.as_str(),
            access_token: self.access_token.secret(),
            sent_at_ms: self.sent_at_ms,
            expires_at_ms: self.expires_at_ms,
        };
        serde_json::to_string(&entry).unwrap_or_default()
    }

    /// Reads an entry written by [`CachedToken::to_stored`]; `None` if it is not one (another
    /// version, no token, or no life left between `sent_at_ms` and `expires_at_ms`).
    pub fn from_stored(text: &str) -> Option<Self> {
        let entry: StoredEntry<String> = from_object(text.as_bytes())?;
        (entry.v == 1 && !entry.access_token.is_empty() && entry.expires_at_ms > entry.sent_at_ms)
            .then(|| Self {
                access_token: AccessToken::new(entry.access_token),
                scope: entry.scope,
                sent_at_ms: entry.sent_at_ms,
                expires_at_ms: entry.expires_at_ms,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(sent: u64, lifetime_ms: u64) -> CachedToken {
        CachedToken {
            access_token: AccessToken::new("t"),
            scope: "openid".into(),
            sent_at_ms: sent,
            expires_at_ms: sent + lifetime_ms,
        }
    }

    #[test]
    fn day_long_token_has_60s_skew_and_refreshes_after_23_24() {
        let t = token(0, 86_399_000);
        assert_eq!(t.skew_ms(), 60_000);
        assert_eq!(t.usable_until_ms(), 86_339_000);
        // 23/24 of 86 339 000 ms = 82 741 541.67 ms → refresh from 82 741 541.
        assert_eq!(t.refresh_at_ms(), 82_741_541);
        assert_eq!(t.freshness(82_741_540), Freshness::Fresh);
        assert_eq!(t.freshness(82_741_541), Freshness::Stale);
        assert_eq!(t.freshness(86_338_999), Freshness::Stale);
        assert_eq!(t.freshness(86_339_000), Freshness::Unusable);
    }

    #[test]
    fn short_token_skew_is_a_tenth_of_its_life() {
        let t = token(1_000, 6_000);
        assert_eq!(t.skew_ms(), 600);
        assert_eq!(t.usable_until_ms(), 6_400);
        assert_eq!(t.refresh_at_ms(), 1_000 + 5_175);
        assert_eq!(t.freshness(6_399), Freshness::Stale);
        assert_eq!(t.freshness(6_400), Freshness::Unusable);
    }

    #[test]
    fn caller_expires_in_counts_down_to_usable_end() {
        let t = token(0, 86_399_000);
        assert_eq!(t.caller_expires_in_s(0), 86_339);
        assert_eq!(t.caller_expires_in_s(86_338_500), 0);
        assert_eq!(t.caller_expires_in_s(90_000_000), 0);
    }

    #[test]
    fn kv_ttl_is_time_left_but_at_least_65s() {
        let t = token(0, 86_399_000);
        assert_eq!(t.kv_ttl_s(0), 86_339);
        assert_eq!(t.kv_ttl_s(500), 86_339);
        assert_eq!(t.kv_ttl_s(86_300_000), 65);
        assert_eq!(token(0, 30_000).kv_ttl_s(0), 65);
        assert_eq!(token(0, 30_000).kv_ttl_s(40_000), 65);
    }

    #[test]
    fn stored_form_round_trips_and_rejects_junk() {
        let t = token(5, 10_000);
        let s = t.to_stored("default");
        assert_eq!(CachedToken::from_stored(&s), Some(t));
        assert_eq!(
            s,
            r#"{"v":1,"credential":"default","scope":"openid","access_token":"t","sent_at_ms":5,"expires_at_ms":10005}"#
        );
        assert_eq!(
            CachedToken::from_stored(
                r#"{"expires_at_ms":9,"x":[1],"sent_at_ms":5,"access_token":"x","scope":"","credential":"d","v":1}"#
            )
            .map(|t| t.expires_at_ms),
            Some(9)
        );
        for junk in [
            r#"{"v":1,"credential":"d","scope":"","access_token":"x","sent_at_ms":5,"expires_at_ms":9,"v":1}"#,
            r#"{"v":1,"scope":"","access_token":"x","sent_at_ms":5,"expires_at_ms":9}"#,
            r#"{"v":1,"credential":"d","scope":"","access_token":"x","sent_at_ms":5,"expires_at_ms":9.0}"#,
        ] {
            assert_eq!(CachedToken::from_stored(junk), None, "{junk}");
        }
        assert_eq!(CachedToken::from_stored("{}"), None);
        assert_eq!(CachedToken::from_stored("not json"), None);
        assert_eq!(
            CachedToken::from_stored(
                r#"{"v":1,"credential":"d","scope":"","access_token":"x","sent_at_ms":5,"expires_at_ms":5}"#
            ),
            None
        );
    }
}
