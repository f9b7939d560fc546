//! What the token cache needs from the platform it runs on: a clock, a sleep, randomness, an
//! HTTP client and a shared key-value store. The Worker implements these with `Date.now`,
//! `setTimeout`, `fetch` and KV; tests implement them with a fake clock and scripted answers.

use crate::http::HttpClient;

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

/// A coordinator that mints on behalf of many instances (the Worker's Durable Object), so that
/// instances missing the same key at once cause one IMS call in all, not one each.
#[allow(async_fn_in_trait)]
pub trait Coordinator {
    /// Mints (or finds) the token of `spec` elsewhere. `None`: no coordinator, or it could not
    /// be reached; the caller then mints itself. The coordinator has written the shared store.
    async fn mint_elsewhere(&self, spec: &crate::cache::TokenSpec) -> Option<crate::cache::Minted> {
        let _ = spec;
        None
    }
}

/// Everything the cache needs, in one bound.
pub trait Platform: Clock + HttpClient + TokenStore + Coordinator {}

impl<T: Clock + HttpClient + TokenStore + Coordinator> Platform for T {}
