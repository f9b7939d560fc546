//! What the token cache needs from the platform it runs on: a clock, a sleep, randomness, an
//! HTTP client and a shared key-value store (the coordinator and the one bound that joins them
//! all, `Platform`, are in [`crate::cache`], next to the specs they take). The Worker implements these with `Date.now`,
//! `setTimeout`, `fetch` and KV; tests implement them with a fake clock and scripted answers.

/// Time and randomness.
#[allow(async_fn_in_trait)]
pub trait Clock {
    /// Now, epoch milliseconds.
    fn now_ms(&self) -> u64;
    /// A uniform random number in [0, 1), for backoff jitter.
    fn random(&self) -> f64;
    /// Waits `ms` milliseconds.
    async fn sleep(&self, ms: u64);
}

/// The store shared by every instance (Workers KV). Errors are the implementation's to log: a
/// failed read counts as a miss and a failed write only loses sharing, never a token.
#[allow(async_fn_in_trait)]
pub trait TokenStore {
    /// The value under `key`, if any.
    async fn get(&self, key: &str) -> Option<String>;
    /// Stores `value` under `key`, to be dropped by the store after `ttl_s` seconds.
    async fn put(&self, key: &str, value: String, ttl_s: u64);
}
