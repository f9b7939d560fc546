//! How long an issuer's key set is kept and when it may be fetched again: the cache policy the
//! Worker applies in memory and in KV.
//!
//! - A set is *fresh* for the `max-age` of the response that brought it
//!   ([RFC 9111 §5.2.2.1](https://www.rfc-editor.org/rfc/rfc9111#section-5.2.2.1)), held within
//!   [[`MIN_FRESH_S`], [`MAX_FRESH_S`]]; then it is fetched again.
//! - A stale set is still used, up to [`MAX_FRESH_S`] after its fetch, while the issuer cannot
//!   be reached: an issuer's outage does not lock its callers out.
//! - Fetches of one issuer's keys happen at most once per [`REFETCH_INTERVAL_S`] (per isolate),
//!   whatever asks for them: a flood of tokens with made-up `kid`s costs the issuer one request
//!   a minute, not one per token.

use super::*;
use serde::Serialize;

/// The shortest time a fetched key set is kept fresh, in seconds.
pub const MIN_FRESH_S: u64 = 300;
/// The longest time a fetched key set is kept fresh, and the longest it is used at all.
pub const MAX_FRESH_S: u64 = 86_400;
/// The least time between two fetches of one issuer's keys, in seconds.
pub const REFETCH_INTERVAL_S: u64 = 60;

/// How long a key set fetched with this `Cache-Control` header stays fresh, in seconds: its
/// `max-age` held within [[`MIN_FRESH_S`], [`MAX_FRESH_S`]]; [`MIN_FRESH_S`] without one (or
/// with `no-store`/`no-cache`, which the broker cannot honour without fetching per token).
pub fn fresh_for_s(cache_control: Option<&str>) -> u64 {
    let max_age = cache_control.and_then(|header| {
        header.split(',').find_map(|directive| {
            let (name, value) = directive.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("max-age")
                .then(|| value.trim().trim_matches('"').parse::<u64>().ok())
                .flatten()
        })
    });
    max_age
        .unwrap_or(MIN_FRESH_S)
        .clamp(MIN_FRESH_S, MAX_FRESH_S)
}

/// An issuer's key set as the broker keeps it (in memory, and as JSON in KV under
/// `jwks:<issuer name>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CachedKeys {
    /// The JWKS document as the issuer served it.
    pub jwks: String,
    /// When it was fetched, epoch ms.
    pub fetched_at_ms: u64,
    /// Until when it is fresh, epoch ms.
    pub fresh_until_ms: u64,
}

impl CachedKeys {
    /// A set fetched at `now_ms` with this `Cache-Control`; `Err` when `jwks` is not a JWKS.
    pub fn fetched(
        jwks: String,
        cache_control: Option<&str>,
        now_ms: u64,
    ) -> Result<Self, JwtError> {
        parse_jwks(&jwks)?;
        Ok(Self {
            jwks,
            fetched_at_ms: now_ms,
            fresh_until_ms: now_ms + fresh_for_s(cache_control) * 1000,
        })
    }

    /// The keys.
    pub fn keys(&self) -> Result<Vec<Jwk>, JwtError> {
        parse_jwks(&self.jwks)
    }

    /// True while the set is fresh: it is used without asking the issuer.
    pub fn fresh(&self, now_ms: u64) -> bool {
        now_ms < self.fresh_until_ms
    }

    /// True while the set may still be used when the issuer cannot be reached.
    pub fn usable(&self, now_ms: u64) -> bool {
        now_ms < self.expires_at_ms()
    }

    /// When the set may no longer be used at all (its KV entry's expiration), epoch ms.
    pub fn expires_at_ms(&self) -> u64 {
        self.fetched_at_ms + MAX_FRESH_S * 1000
    }
}

/// When the next fetch of an issuer's keys may start, from the last attempt (epoch ms): the
/// first is always allowed.
pub fn next_fetch_at_ms(last_attempt_ms: Option<u64>) -> u64 {
    last_attempt_ms.map_or(0, |t| t + REFETCH_INTERVAL_S * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWKS: &str = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"a","x":"x","y":"y"}]}"#;

    #[test]
    fn max_age_is_honoured_within_five_minutes_and_a_day() {
        assert_eq!(fresh_for_s(Some("public, max-age=3600")), 3600);
        assert_eq!(fresh_for_s(Some("max-age=\"900\", must-revalidate")), 900);
        assert_eq!(fresh_for_s(Some("Max-Age=10")), MIN_FRESH_S);
        assert_eq!(fresh_for_s(Some("max-age=604800")), MAX_FRESH_S);
        assert_eq!(fresh_for_s(Some("no-store")), MIN_FRESH_S);
        assert_eq!(fresh_for_s(Some("max-age=soon")), MIN_FRESH_S);
        assert_eq!(fresh_for_s(None), MIN_FRESH_S);
    }

    #[test]
    fn a_set_is_fresh_then_usable_only_as_a_fallback_then_gone() {
        let now = 1_700_000_000_000;
        let set = CachedKeys::fetched(JWKS.into(), Some("max-age=600"), now).unwrap();
        assert!(set.fresh(now + 599_999));
        assert!(!set.fresh(now + 600_000));
        assert!(set.usable(now + 600_000));
        assert!(!set.usable(now + 86_400_000));
        assert_eq!(set.keys().unwrap()[0].kid.as_deref(), Some("a"));
        let stored = serde_json::to_string(&set).unwrap();
        assert_eq!(serde_json::from_str::<CachedKeys>(&stored).unwrap(), set);
        assert_eq!(
            CachedKeys::fetched("{\"keys\":5}".into(), None, now),
            Err(JwtError::BadKeySet)
        );
    }

    #[test]
    fn fetches_are_a_minute_apart() {
        assert_eq!(next_fetch_at_ms(None), 0);
        assert_eq!(next_fetch_at_ms(Some(1_000)), 61_000);
    }
}
