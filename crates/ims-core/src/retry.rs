//! When to try IMS again after a failure: up to 3 attempts, exponential backoff with full
//! jitter, `Retry-After` honoured, a garbage body retried once, OAuth errors never.

use crate::error::ImsError;

/// Retry settings. [`RetryPolicy::default`] holds the contract's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Backoff ceiling of the first retry, ms; doubled per retry.
    pub base_delay_ms: u64,
    /// Largest backoff ceiling, ms.
    pub max_delay_ms: u64,
    /// Longest `Retry-After` a request waits for; past it the caller gets 503 at once.
    pub max_retry_wait_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay_ms: 500,
            max_delay_ms: 4_000,
            max_retry_wait_ms: 5_000,
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Sleep this long, then try again.
    RetryAfter(u64),
    /// Stop and report the error.
    GiveUp,
}

impl RetryPolicy {
    /// Decides after attempt number `attempt` (1-based) failed with `error`; `bad_bodies` is how
    /// many attempts so far (this one included) got an unusable body; `random` is uniform in [0, 1).
    pub fn decide(
        &self,
        attempt: u32,
        error: &ImsError,
        bad_bodies: u32,
        random: f64,
    ) -> RetryDecision {
        if !error.is_retryable() || attempt >= self.max_attempts {
            return RetryDecision::GiveUp;
        }
        if matches!(error, ImsError::BadResponse { .. }) && bad_bodies > 1 {
            return RetryDecision::GiveUp;
        }
        let exp = self
            .base_delay_ms
            .saturating_mul(1 << (attempt - 1).min(20))
            .min(self.max_delay_ms);
        let jitter = (exp as f64 * random.clamp(0.0, 1.0)) as u64;
        match error.retry_after_s() {
            Some(s) if s.saturating_mul(1000) > self.max_retry_wait_ms => RetryDecision::GiveUp,
            Some(s) => RetryDecision::RetryAfter(jitter.max(s * 1000)),
            None => RetryDecision::RetryAfter(jitter),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unavailable(retry_after_s: Option<u64>) -> ImsError {
        ImsError::Unavailable {
            status: 503,
            retry_after_s,
            debug_id: None,
        }
    }

    #[test]
    fn three_attempts_with_full_jitter_exponential_backoff() {
        let p = RetryPolicy::default();
        let e = unavailable(None);
        assert_eq!(p.decide(1, &e, 0, 0.999), RetryDecision::RetryAfter(499));
        assert_eq!(p.decide(2, &e, 0, 0.5), RetryDecision::RetryAfter(500));
        assert_eq!(p.decide(1, &e, 0, 0.0), RetryDecision::RetryAfter(0));
        assert_eq!(p.decide(3, &e, 0, 0.5), RetryDecision::GiveUp);
        assert_eq!(
            p.decide(2, &ImsError::Timeout(10), 0, 1.0),
            RetryDecision::RetryAfter(1000)
        );
        assert_eq!(
            p.decide(1, &ImsError::Network("reset".into()), 0, 0.2),
            RetryDecision::RetryAfter(100)
        );
    }

    #[test]
    fn retry_after_is_honoured_or_ends_the_wait() {
        let p = RetryPolicy::default();
        assert_eq!(
            p.decide(1, &unavailable(Some(2)), 0, 0.9),
            RetryDecision::RetryAfter(2000)
        );
        assert_eq!(
            p.decide(1, &unavailable(Some(5)), 0, 0.9),
            RetryDecision::RetryAfter(5000)
        );
        assert_eq!(
            p.decide(1, &unavailable(Some(6)), 0, 0.9),
            RetryDecision::GiveUp
        );
    }

    #[test]
    fn garbage_is_retried_once() {
        let p = RetryPolicy::default();
        let e = ImsError::BadResponse {
            status: 200,
            reason: "x",
            debug_id: None,
        };
        assert!(matches!(
            p.decide(1, &e, 1, 0.5),
            RetryDecision::RetryAfter(_)
        ));
        assert_eq!(p.decide(2, &e, 2, 0.5), RetryDecision::GiveUp);
    }

    #[test]
    fn oauth_errors_are_final() {
        let p = RetryPolicy::default();
        let e = ImsError::InvalidClient {
            description: "invalid client_secret parameter".into(),
            debug_id: None,
        };
        assert_eq!(p.decide(1, &e, 0, 0.5), RetryDecision::GiveUp);
    }
}
