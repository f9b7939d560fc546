//! A caller's report that an Adobe API refused the token the broker gave it (a 401, e.g. after
//! Adobe revoked the token early). The broker cannot learn of such a revocation by itself: it
//! would serve the token until its usable end. With the report (`"refused"` in `POST /v1/token`,
//! the token's SHA-256 in hex, so that no token travels in a request body) the broker drops that
//! token and mints a new one, at most once a minute per cache key, so that reports cannot make
//! the broker call IMS at a caller's pace (Adobe throttles integrations that mint too often).
//! A report of a token the broker no longer serves changes nothing: the report is idempotent.

use crate::memo::Bounded;
use crate::policy::CachedToken;
use sha2::{Digest, Sha256};

/// The least time between two replacements of one cache key's token on a report, ms.
pub const REPLACE_INTERVAL_MS: u64 = 60_000;

/// Most cache keys whose last replacement is remembered.
const MAX_KEYS: usize = 1024;

/// The SHA-256 of a refused access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedToken([u8; 32]);

impl RefusedToken {
    /// Reads 64 hex digits (either case); `None` for anything else.
    pub fn from_hex(text: &str) -> Option<Self> {
        crate::hex::decode(text)?.try_into().ok().map(Self)
    }

    /// The 64 lower-case hex digits (as the credential object gets the report).
    pub fn to_hex(&self) -> String {
        crate::hex::encode(&self.0)
    }

    /// The report of `token` (what a caller sends, hex-encoded).
    pub fn of(token: &CachedToken) -> Self {
        Self(Sha256::digest(token.access_token.secret().as_bytes()).into())
    }

    /// True when `token` is the refused one.
    pub fn is(&self, token: &CachedToken) -> bool {
        *self == Self::of(token)
    }
}

/// When each cache key's token was last replaced on a report (bounded).
#[derive(Debug)]
pub struct Replacements(Bounded<String, u64>);

impl Default for Replacements {
    fn default() -> Self {
        Self(Bounded::new(MAX_KEYS))
    }
}

impl Replacements {
    /// True, and remembered, when the token of `key` may be replaced at `now`: its last
    /// replacement was [`REPLACE_INTERVAL_MS`] ago or more, or there was none.
    pub fn allow(&mut self, key: &str, now: u64) -> bool {
        let allowed = self
            .0
            .get(key)
            .is_none_or(|last| now >= last.saturating_add(REPLACE_INTERVAL_MS));
        if allowed {
            self.0.insert(key.to_owned(), now);
        }
        allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AccessToken;

    fn token(value: &str) -> CachedToken {
        CachedToken {
            access_token: AccessToken::new(value),
            scope: "openid".into(),
            sent_at_ms: 0,
            expires_at_ms: 86_399_000,
        }
    }

    #[test]
    fn a_report_names_one_token_by_its_sha256() {
        let t = token("eyJ.one.sig");
        let hex = crate::hex::encode(&Sha256::digest(b"eyJ.one.sig"));
        let report = RefusedToken::from_hex(&hex).unwrap();
        assert!(report.is(&t));
        assert!(!report.is(&token("eyJ.two.sig")));
        assert_eq!(RefusedToken::from_hex(&hex.to_uppercase()), Some(report));
        for bad in ["", "abc", &hex[..62], &format!("{hex}00"), &"g".repeat(64)] {
            assert_eq!(RefusedToken::from_hex(bad), None, "{bad}");
        }
        assert_eq!(RefusedToken::of(&t), RefusedToken::from_hex(&hex).unwrap());
    }

    #[test]
    fn a_key_is_replaced_at_most_once_a_minute() {
        let mut r = Replacements::default();
        assert!(r.allow("k", 1_000));
        assert!(!r.allow("k", 1_000 + REPLACE_INTERVAL_MS - 1));
        assert!(r.allow("other", 1_001), "keys are apart");
        assert!(r.allow("k", 1_000 + REPLACE_INTERVAL_MS));
    }
}
