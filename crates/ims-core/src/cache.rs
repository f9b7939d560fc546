//! The two-level token cache with single-flight, background refresh, retries and failure
//! cooldown. Pure logic over the [`Platform`] traits: no clock, network or store of its own.
//!
//! One [`TokenCache`] lives per isolate (per process for the npm package). A request:
//! 1. memory hit: fresh → served; stale → served, and the caller is told to start the one
//!    background refresh ([`Served::refresh_due`]);
//! 2. else the shared store (KV), whose value carries its own expiry, checked here;
//! 3. else one IMS call per key at a time (single-flight): concurrent requests wait for it and
//!    share its token or its failure. After a failure the key cools down (for `Retry-After`, else
//!    [`Settings::failure_cooldown_ms`]) and requests get the same failure without calling IMS.
//!
//! Waiters poll (every [`FLIGHT_POLL_MS`], with the platform's own sleep) instead of being woken
//! by the leader: in workerd a request's future woken from another request's context is resumed
//! in that context, and its response is cancelled when the other request ends. Polling keeps
//! every request's wake-ups inside its own context.

use crate::cache_key::{key_for, TokenUse};
use crate::error::ImsError;
use crate::http::HttpClient;
use crate::http::TransportError;
use crate::ims;
use crate::platform::{Clock, TokenStore};
use crate::policy::{CachedToken, Freshness};
use crate::retry::{RetryDecision, RetryPolicy};
use crate::scope::ScopeSet;
use crate::secret::ClientSecret;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

/// Most entries kept in memory; past it expired entries are dropped, then arbitrary ones.
const MAX_MEMORY_ENTRIES: usize = 1024;
/// How often a request waiting for another request's IMS call checks whether it has ended, ms.
pub const FLIGHT_POLL_MS: u64 = 10;

/// What to mint: one credential, one scope set.
#[derive(Debug, Clone)]
pub struct TokenSpec {
    /// The credential's name.
    pub credential: String,
    /// Adobe client id.
    pub client_id: String,
    /// Client secrets to try, the active one first: on `invalid_client` the next one is tried
    /// (a secret deleted behind the broker's back must not stop it while another works).
    pub secrets: Vec<ClientSecret>,
    /// Canonical scopes.
    pub scopes: ScopeSet,
    /// The IMS token endpoint.
    pub token_url: String,
    /// The cache key, derived from the three above.
    pub key: String,
    /// The token endpoint's dialect (default: Adobe IMS); see [`TokenSpec::with_endpoint`].
    pub endpoint: ims::TokenEndpoint,
    /// A token a caller reported refused, which whoever mints must not serve again (see
    /// [`crate::refused`]); see [`TokenSpec::with_refused`].
    pub refused: Option<crate::refused::RefusedToken>,
}

impl TokenSpec {
    /// Builds the spec of a token for callers, and its cache key.
    pub fn new(
        credential: &str,
        client_id: &str,
        secrets: Vec<ClientSecret>,
        scopes: ScopeSet,
        token_url: &str,
    ) -> Self {
        Self::of_use(
            TokenUse::Callers,
            credential,
            client_id,
            secrets,
            scopes,
            token_url,
        )
    }

    /// Builds the spec of a token of `use_` (a broker's own token lives in a cache namespace of
    /// its own, see [`key_for`]), and its cache key.
    pub fn of_use(
        use_: TokenUse,
        credential: &str,
        client_id: &str,
        secrets: Vec<ClientSecret>,
        scopes: ScopeSet,
        token_url: &str,
    ) -> Self {
        Self {
            key: key_for(use_, credential, client_id, &scopes),
            credential: credential.to_owned(),
            client_id: client_id.to_owned(),
            secrets,
            scopes,
            token_url: token_url.to_owned(),
            endpoint: ims::TokenEndpoint::Adobe,
            refused: None,
        }
    }

    /// The same spec, carrying a caller's report that `refused` was refused.
    pub fn with_refused(mut self, refused: Option<crate::refused::RefusedToken>) -> Self {
        self.refused = refused;
        self
    }

    /// The same spec for a token endpoint of another dialect (a generic RFC 6749 server).
    pub fn with_endpoint(mut self, endpoint: ims::TokenEndpoint) -> Self {
        self.endpoint = endpoint;
        self
    }
}

/// Tunables that may come from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Retry policy for IMS calls.
    pub retry: RetryPolicy,
    /// Timeout of each IMS call, ms (default 10 s).
    pub timeout_ms: u64,
    /// How long a key refuses to call IMS again after a failure without `Retry-After`, ms.
    pub failure_cooldown_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            timeout_ms: 10_000,
            failure_cooldown_ms: 1_000,
        }
    }
}

/// Where a served token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// The isolate's memory, fresh.
    Memory,
    /// The shared store, fresh.
    Kv,
    /// Minted by IMS for this request (or a concurrent one it waited for).
    Miss,
    /// Past 23/24 of its usable life: served while a refresh runs.
    Stale,
}

impl CacheOutcome {
    /// `memory`, `kv`, `miss` or `stale`, as logged.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Kv => "kv",
            Self::Miss => "miss",
            Self::Stale => "stale",
        }
    }
}

/// What an IMS exchange looked like, for the log (and for the coordinator's answers).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct UpstreamCall {
    /// Status of the last answer, if any came.
    pub status: Option<u16>,
    /// Milliseconds from the first attempt to the end of the last.
    pub ms: u64,
    /// Attempts made.
    pub attempts: u32,
    /// Adobe's `x-debug-id` of the last answer.
    pub debug_id: Option<String>,
    /// Which of [`TokenSpec::secrets`] was used last (0: the active one; more: a fallback).
    pub secret_index: usize,
}

/// A token handed out.
#[derive(Debug, Clone)]
pub struct Served {
    /// The token.
    pub token: Rc<CachedToken>,
    /// Where it came from.
    pub outcome: CacheOutcome,
    /// True when this request claimed the key's one background refresh: the caller must run
    /// [`TokenCache::refresh`] after answering (`ctx.wait_until`).
    pub refresh_due: bool,
    /// The IMS exchange this request made, if it made one.
    pub upstream: Option<UpstreamCall>,
}

/// A token request that failed.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Why.
    pub error: ImsError,
    /// The IMS exchange this request made, if it made one.
    pub upstream: Option<UpstreamCall>,
}

/// A token from a mint (with the IMS exchange, if one was made here), or why there is none.
pub type Minted = Result<(CachedToken, Option<UpstreamCall>), Failure>;

/// A coordinator that mints on behalf of many instances (the Worker's Durable Object), so that
/// instances missing the same key at once cause one IMS call in all, not one each.
#[allow(async_fn_in_trait)]
pub trait Coordinator {
    /// Mints (or finds) the token of `spec` elsewhere. `None`: no coordinator, or it could not
    /// be reached; the caller then mints itself. The coordinator has written the shared store.
    async fn mint_elsewhere(&self, spec: &TokenSpec) -> Option<Minted> {
        let _ = spec;
        None
    }
}

/// Everything the cache needs, in one bound.
pub trait Platform: Clock + HttpClient + TokenStore + Coordinator {}

impl<T: Clock + HttpClient + TokenStore + Coordinator> Platform for T {}

/// The per-isolate cache state. Not `Sync`: one per single-threaded isolate.
#[derive(Default)]
pub struct TokenCache {
    memory: RefCell<HashMap<String, Rc<CachedToken>>>,
    flights: RefCell<HashSet<String>>,
    cooldowns: RefCell<HashMap<String, (u64, ImsError)>>,
    refreshing: RefCell<HashSet<String>>,
}

/// Removes a key's flight entry when the leader finishes or is dropped (then a waiter takes
/// over).
struct Flight<'a> {
    cache: &'a TokenCache,
    key: &'a str,
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        self.cache.flights.borrow_mut().remove(self.key);
    }
}

/// Releases a background-refresh claim however the refresh ends.
struct RefreshClaim<'a> {
    cache: &'a TokenCache,
    key: &'a str,
}

impl Drop for RefreshClaim<'_> {
    fn drop(&mut self) {
        self.cache.refreshing.borrow_mut().remove(self.key);
    }
}

impl TokenCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// A usable token for `spec`: from memory, the store, or IMS.
    pub async fn get<P: Platform>(
        &self,
        p: &P,
        settings: &Settings,
        spec: &TokenSpec,
    ) -> Result<Served, Failure> {
        if let Some(served) = self.from_memory(&spec.key, p.now_ms()) {
            return Ok(served);
        }
        if let Some(served) = self.from_store(p, &spec.key).await {
            return Ok(served);
        }
        self.mint_for(p, settings, spec).await
    }

    /// A usable token for `key` from this instance's memory, if it holds one at `now`: what a
    /// hit needs, and nothing else (no store, no client secret).
    pub fn from_memory(&self, key: &str, now: u64) -> Option<Served> {
        let token = self.memory.borrow().get(key).cloned()?;
        match token.freshness(now) {
            Freshness::Fresh => Some(self.served(token, CacheOutcome::Memory, false)),
            Freshness::Stale => {
                let due = self.claim_refresh(key, now);
                Some(self.served(token, CacheOutcome::Stale, due))
            }
            Freshness::Unusable => {
                self.memory.borrow_mut().remove(key);
                None
            }
        }
    }

    /// A usable token for `key` from the shared store (kept in memory from then on), if it
    /// holds one. Needs no client secret.
    pub async fn from_store<P: Platform>(&self, p: &P, key: &str) -> Option<Served> {
        let token = CachedToken::from_stored(&p.get(key).await?)?;
        let now = p.now_ms();
        let token = Rc::new(token);
        match token.freshness(now) {
            Freshness::Fresh => {
                self.remember(key, token.clone(), now);
                Some(self.served(token, CacheOutcome::Kv, false))
            }
            Freshness::Stale => {
                self.remember(key, token.clone(), now);
                let due = self.claim_refresh(key, now);
                Some(self.served(token, CacheOutcome::Stale, due))
            }
            Freshness::Unusable => None,
        }
    }

    /// A token minted for `spec` (through the single flight, the coordinator, or IMS), for a
    /// request that found none in memory or the store.
    pub async fn mint_for<P: Platform>(
        &self,
        p: &P,
        settings: &Settings,
        spec: &TokenSpec,
    ) -> Result<Served, Failure> {
        let (token, upstream) = self.mint_shared(p, settings, spec).await?;
        Ok(Served {
            token,
            outcome: CacheOutcome::Miss,
            refresh_due: false,
            upstream,
        })
    }

    /// The background refresh claimed by a [`Served::refresh_due`]. Adopts a fresher token
    /// another instance already put in the store; else mints through the single flight.
    /// Returns the IMS exchange it made, if any.
    pub async fn refresh<P: Platform>(
        &self,
        p: &P,
        settings: &Settings,
        spec: &TokenSpec,
    ) -> Result<Option<UpstreamCall>, Failure> {
        let _claim = RefreshClaim {
            cache: self,
            key: &spec.key,
        };
        if let Some(token) = p
            .get(&spec.key)
            .await
            .and_then(|t| CachedToken::from_stored(&t))
        {
            let now = p.now_ms();
            if token.freshness(now) == Freshness::Fresh {
                self.remember(&spec.key, Rc::new(token), now);
                return Ok(None);
            }
        }
        self.mint_shared(p, settings, spec)
            .await
            .map(|(_, upstream)| upstream)
    }

    /// Forgets a key's failure cooldown: the caller learnt something that may cure it (e.g.
    /// another instance rotated the client secret).
    pub fn clear_cooldown(&self, key: &str) {
        self.cooldowns.borrow_mut().remove(key);
    }

    /// Drops the token in memory for `key`: the resource server refused it (revoked, or issued
    /// by an IMS that no longer knows it), so the next request mints instead of serving it.
    pub fn forget(&self, key: &str) {
        self.memory.borrow_mut().remove(key);
    }

    /// The token in memory for `key`, whatever its freshness (for inspection).
    pub fn peek(&self, key: &str) -> Option<Rc<CachedToken>> {
        self.memory.borrow().get(key).cloned()
    }

    fn served(&self, token: Rc<CachedToken>, outcome: CacheOutcome, refresh_due: bool) -> Served {
        Served {
            token,
            outcome,
            refresh_due,
            upstream: None,
        }
    }

    fn claim_refresh(&self, key: &str, now: u64) -> bool {
        if self.cooldown(key, now).is_some() {
            return false;
        }
        self.refreshing.borrow_mut().insert(key.to_owned())
    }

    fn remember(&self, key: &str, token: Rc<CachedToken>, now: u64) {
        let mut memory = self.memory.borrow_mut();
        if memory.len() >= MAX_MEMORY_ENTRIES && !memory.contains_key(key) {
            memory.retain(|_, t| t.freshness(now) != Freshness::Unusable);
            if memory.len() >= MAX_MEMORY_ENTRIES {
                // The oldest mint goes: recent scope sets are the likeliest to be asked again.
                let victim = memory
                    .iter()
                    .min_by_key(|(_, t)| t.sent_at_ms)
                    .map(|(k, _)| k.clone());
                if let Some(victim) = victim {
                    memory.remove(&victim);
                }
            }
        }
        memory.insert(key.to_owned(), token);
    }

    /// The failure a key is cooling down from, with `Retry-After` set to the time left.
    fn cooldown(&self, key: &str, now: u64) -> Option<ImsError> {
        let mut cooldowns = self.cooldowns.borrow_mut();
        let (until, error) = cooldowns.get(key)?;
        if now >= *until {
            cooldowns.remove(key);
            return None;
        }
        let mut error = error.clone();
        if let ImsError::Unavailable { retry_after_s, .. } = &mut error {
            *retry_after_s = Some((*until - now).div_ceil(1000));
        }
        Some(error)
    }

    fn cool_down(&self, key: &str, now: u64, error: &ImsError, settings: &Settings) {
        let wait = error
            .retry_after_s()
            .map_or(settings.failure_cooldown_ms, |s| s * 1000);
        let mut cooldowns = self.cooldowns.borrow_mut();
        cooldowns.retain(|_, (until, _)| *until > now);
        cooldowns.insert(key.to_owned(), (now + wait, error.clone()));
    }

    /// One IMS exchange per key at a time; everyone else waits for it and shares its result:
    /// the token it left in memory, or the failure it left in the cooldowns.
    async fn mint_shared<P: Platform>(
        &self,
        p: &P,
        settings: &Settings,
        spec: &TokenSpec,
    ) -> Result<(Rc<CachedToken>, Option<UpstreamCall>), Failure> {
        loop {
            let now = p.now_ms();
            if let Some(error) = self.cooldown(&spec.key, now) {
                return Err(Failure {
                    error,
                    upstream: None,
                });
            }
            if !self.flights.borrow().contains(&spec.key) {
                // A flight that ended while this request read KV (or waited) left a fresh token
                // in memory: take it rather than lead a second mint. (A stale one is what a
                // background refresh is here to replace.)
                let cached = self.memory.borrow().get(&spec.key).cloned();
                if let Some(token) = cached.filter(|t| t.freshness(now) == Freshness::Fresh) {
                    return Ok((token, None));
                }
                self.flights.borrow_mut().insert(spec.key.clone());
                return self.lead(p, settings, spec).await;
            }
            p.sleep(FLIGHT_POLL_MS).await;
        }
    }

    async fn lead<P: Platform>(
        &self,
        p: &P,
        settings: &Settings,
        spec: &TokenSpec,
    ) -> Result<(Rc<CachedToken>, Option<UpstreamCall>), Failure> {
        let flight = Flight {
            cache: self,
            key: &spec.key,
        };
        let (result, stored_elsewhere) = match p.mint_elsewhere(spec).await {
            Some(remote) => (remote, true),
            None => (
                mint(p, settings, spec)
                    .await
                    .map(|(token, call)| (token, Some(call))),
                false,
            ),
        };
        let now = p.now_ms();
        match result {
            Ok((token, upstream)) => {
                let token = Rc::new(token);
                self.cooldowns.borrow_mut().remove(&spec.key);
                self.remember(&spec.key, token.clone(), now);
                // The coordinator already wrote the shared store (KV takes one write per second
                // per key: every instance writing the same entry again would exceed it).
                if !stored_elsewhere {
                    p.put(
                        &spec.key,
                        token.to_stored(&spec.credential),
                        token.kv_ttl_s(now),
                    )
                    .await;
                }
                // Only now: until the store holds the token, a request that finds the memory
                // entry evicted must wait for this flight rather than start a second mint.
                drop(flight);
                Ok((token, upstream))
            }
            Err(failure) => {
                // A cooldown keeps a failing credential from hammering IMS. A credential whose
                // secrets could not be had made no IMS call: the next request asks again.
                if !matches!(failure.error, ImsError::CredentialUnavailable { .. }) {
                    self.cool_down(&spec.key, now, &failure.error, settings);
                }
                drop(flight);
                Err(failure)
            }
        }
    }
}

/// Calls IMS with retries, bypassing every cache, trying the spec's secrets in order while IMS
/// answers `invalid_client`.
pub async fn mint<P: Platform>(
    p: &P,
    settings: &Settings,
    spec: &TokenSpec,
) -> Result<(CachedToken, UpstreamCall), Failure> {
    let mut last = None;
    for (index, secret) in spec.secrets.iter().enumerate() {
        match mint_with(p, settings, spec, secret).await {
            Ok((token, mut call)) => {
                call.secret_index = index;
                return Ok((token, call));
            }
            Err(mut failure) => {
                if let Some(call) = failure.upstream.as_mut() {
                    call.secret_index = index;
                }
                let again = matches!(failure.error, ImsError::InvalidClient { .. });
                last = Some(failure);
                if !again {
                    break;
                }
            }
        }
    }
    Err(last.unwrap_or(Failure {
        error: ImsError::InvalidClient {
            description: "no client secret is configured".into(),
            debug_id: None,
        },
        upstream: None,
    }))
}

/// Calls IMS with one given secret, with retries, bypassing every cache: the rotation's test
/// step uses this to try a pending secret.
pub async fn mint_with<P: Platform>(
    p: &P,
    settings: &Settings,
    spec: &TokenSpec,
    secret: &ClientSecret,
) -> Result<(CachedToken, UpstreamCall), Failure> {
    let request = ims::endpoint_request(
        spec.endpoint,
        &spec.token_url,
        &spec.client_id,
        secret,
        &spec.scopes,
    );
    let started = p.now_ms();
    let mut call = UpstreamCall::default();
    let mut bad_bodies = 0;
    loop {
        call.attempts += 1;
        let sent_at = p.now_ms();
        let result = match p.send(&request, settings.timeout_ms).await {
            Ok(response) => {
                call.status = Some(response.status);
                call.debug_id = response.header("x-debug-id").map(str::to_owned);
                ims::parse_token_response(&response, sent_at)
            }
            Err(TransportError::Timeout(ms)) => {
                call.status = None;
                call.debug_id = None;
                Err(ImsError::Timeout(ms))
            }
            Err(TransportError::Network(msg)) => {
                call.status = None;
                call.debug_id = None;
                Err(ImsError::Network(msg))
            }
        };
        call.ms = p.now_ms().saturating_sub(started);
        let error = match result {
            Ok(issued) => {
                let token = CachedToken {
                    access_token: issued.access_token,
                    scope: spec.scopes.to_comma(),
                    sent_at_ms: sent_at,
                    expires_at_ms: issued.expires_at_ms,
                };
                return Ok((token, call));
            }
            Err(error) => error,
        };
        if matches!(error, ImsError::BadResponse { .. }) {
            bad_bodies += 1;
        }
        match settings
            .retry
            .decide(call.attempts, &error, bad_bodies, p.random())
        {
            RetryDecision::RetryAfter(ms) => p.sleep(ms).await,
            RetryDecision::GiveUp => {
                return Err(Failure {
                    error,
                    upstream: Some(call),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Coordinator;
    use super::*;
    use crate::http::{HttpClient, HttpRequest, HttpResponse};
    use crate::platform::{Clock, TokenStore};
    use futures_executor::block_on;
    use std::cell::Cell;
    use std::collections::VecDeque;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// Returns `Pending` once, so other futures in a `join_all` get polled meanwhile.
    struct YieldNow(bool);
    impl Future for YieldNow {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                Poll::Ready(())
            } else {
                self.0 = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }

    type Answer = Result<HttpResponse, TransportError>;

    /// A fake platform: a manual clock, scripted IMS answers (default: a fresh day-long token),
    /// an in-memory store.
    #[derive(Default)]
    struct Fake {
        now: Cell<u64>,
        calls: Cell<u32>,
        slept: Cell<u64>,
        answers: RefCell<VecDeque<Answer>>,
        store: RefCell<HashMap<String, (String, u64)>>,
        lifetime_s: Cell<u64>,
    }

    impl Fake {
        fn new() -> Self {
            let f = Self::default();
            f.now.set(1_000_000);
            f.lifetime_s.set(86_399);
            f
        }
        fn script(&self, answers: impl IntoIterator<Item = Answer>) {
            self.answers.borrow_mut().extend(answers);
        }
        fn advance(&self, ms: u64) {
            self.now.set(self.now.get() + ms);
        }
    }

    fn status(code: u16, body: &str, headers: &[(&str, &str)]) -> Answer {
        Ok(HttpResponse {
            status: code,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            body: body.as_bytes().to_vec(),
        })
    }

    impl Clock for Fake {
        fn now_ms(&self) -> u64 {
            self.now.get()
        }
        fn random(&self) -> f64 {
            0.5
        }
        async fn sleep(&self, ms: u64) {
            self.slept.set(self.slept.get() + ms);
            self.advance(ms);
            YieldNow(false).await;
        }
    }

    impl HttpClient for Fake {
        async fn send(
            &self,
            _req: &HttpRequest,
            _timeout_ms: u64,
        ) -> Result<HttpResponse, TransportError> {
            self.calls.set(self.calls.get() + 1);
            YieldNow(false).await;
            let n = self.calls.get();
            self.answers.borrow_mut().pop_front().unwrap_or_else(|| {
                status(
                    200,
                    &format!(
                        r#"{{"access_token":"tok-{n}","token_type":"bearer","expires_in":{}}}"#,
                        self.lifetime_s.get()
                    ),
                    &[("x-debug-id", "dbg")],
                )
            })
        }
    }

    impl Coordinator for Fake {}

    impl TokenStore for Fake {
        async fn get(&self, key: &str) -> Option<String> {
            self.store.borrow().get(key).map(|(v, _)| v.clone())
        }
        async fn put(&self, key: &str, value: String, ttl_s: u64) {
            self.store
                .borrow_mut()
                .insert(key.to_owned(), (value, ttl_s));
        }
    }

    fn spec(scopes: &str) -> TokenSpec {
        TokenSpec::new(
            "default",
            "cid",
            vec![ClientSecret::new("secret")],
            ScopeSet::from_comma(scopes).unwrap(),
            "http://ims/token",
        )
    }

    fn token_of(r: &Result<Served, Failure>) -> String {
        r.as_ref().unwrap().token.access_token.secret().to_owned()
    }

    #[test]
    fn first_request_mints_then_memory_serves() {
        let (p, cache, s) = (Fake::new(), TokenCache::new(), Settings::default());
        let first = block_on(cache.get(&p, &s, &spec("openid")));
        assert_eq!(first.as_ref().unwrap().outcome, CacheOutcome::Miss);
        assert_eq!(
            first
                .as_ref()
                .unwrap()
                .upstream
                .as_ref()
                .unwrap()
                .debug_id
                .as_deref(),
            Some("dbg")
        );
        for _ in 0..50 {
            let r = block_on(cache.get(&p, &s, &spec("openid")));
            assert_eq!(r.as_ref().unwrap().outcome, CacheOutcome::Memory);
            assert_eq!(token_of(&r), "tok-1");
        }
        assert_eq!(p.calls.get(), 1);
        // KV written with TTL = usable life left.
        let (_, ttl) = p.store.borrow().get(&spec("openid").key).cloned().unwrap();
        assert_eq!(ttl, 86_339);
    }

    #[test]
    fn a_new_isolate_serves_from_the_store() {
        let (p, s) = (Fake::new(), Settings::default());
        block_on(TokenCache::new().get(&p, &s, &spec("openid"))).unwrap();
        let other = TokenCache::new();
        let r = block_on(other.get(&p, &s, &spec("openid")));
        assert_eq!(r.as_ref().unwrap().outcome, CacheOutcome::Kv);
        assert_eq!(token_of(&r), "tok-1");
        assert_eq!(p.calls.get(), 1);
    }

    #[test]
    fn stale_token_is_served_and_exactly_one_refresh_is_claimed() {
        let (p, cache, s) = (Fake::new(), TokenCache::new(), Settings::default());
        p.lifetime_s.set(6);
        block_on(cache.get(&p, &s, &spec("openid"))).unwrap();
        p.advance(5_175);
        let a = block_on(cache.get(&p, &s, &spec("openid"))).unwrap();
        let b = block_on(cache.get(&p, &s, &spec("openid"))).unwrap();
        assert_eq!((a.outcome, a.refresh_due), (CacheOutcome::Stale, true));
        assert_eq!((b.outcome, b.refresh_due), (CacheOutcome::Stale, false));
        assert_eq!(p.calls.get(), 1, "no caller waits for IMS");
        block_on(cache.refresh(&p, &s, &spec("openid"))).unwrap();
        assert_eq!(p.calls.get(), 2);
        let c = block_on(cache.get(&p, &s, &spec("openid")));
        assert_eq!(c.as_ref().unwrap().outcome, CacheOutcome::Memory);
        assert_eq!(token_of(&c), "tok-2");
    }

    #[test]
    fn never_handed_out_past_usable_end() {
        let (p, cache, s) = (Fake::new(), TokenCache::new(), Settings::default());
        p.lifetime_s.set(6);
        block_on(cache.get(&p, &s, &spec("openid"))).unwrap();
        p.advance(5_400); // usable end = 6 s - 0.6 s skew
        p.script([status(500, "", &[])].into_iter().cycle().take(3));
        let r = block_on(cache.get(&p, &s, &spec("openid")));
        assert_eq!(r.unwrap_err().error.code(), "upstream_unavailable");
    }

    #[test]
    fn refresh_adopts_a_fresher_token_from_the_store() {
        let (p, s) = (Fake::new(), Settings::default());
        p.lifetime_s.set(6);
        let a = TokenCache::new();
        let b = TokenCache::new();
        block_on(a.get(&p, &s, &spec("openid"))).unwrap();
        block_on(b.get(&p, &s, &spec("openid"))).unwrap();
        p.advance(5_200);
        assert!(
            block_on(a.get(&p, &s, &spec("openid")))
                .unwrap()
                .refresh_due
        );
        block_on(a.refresh(&p, &s, &spec("openid"))).unwrap();
        assert!(
            block_on(b.get(&p, &s, &spec("openid")))
                .unwrap()
                .refresh_due
        );
        assert_eq!(block_on(b.refresh(&p, &s, &spec("openid"))).unwrap(), None);
        assert_eq!(p.calls.get(), 2, "b adopted a's refreshed token");
    }

    #[test]
    fn concurrent_misses_share_one_call() {
        let (p, cache, s) = (Fake::new(), TokenCache::new(), Settings::default());
        let sp = spec("openid");
        let all = block_on(futures_util::future::join_all(
            (0..100).map(|_| cache.get(&p, &s, &sp)),
        ));
        assert_eq!(p.calls.get(), 1);
        assert!(all.iter().all(|r| token_of(r) == "tok-1"));
    }

    #[test]
    fn concurrent_misses_share_one_failure_and_cool_down() {
        let (p, cache, s) = (Fake::new(), TokenCache::new(), Settings::default());
        p.script([status(
            400,
            r#"{"error":"invalid_client","error_description":"invalid client_secret parameter"}"#,
            &[],
        )]);
        let sp = spec("openid");
        let all = block_on(futures_util::future::join_all(
            (0..10).map(|_| cache.get(&p, &s, &sp)),
        ));
        assert_eq!(p.calls.get(), 1);
        assert!(all
            .iter()
            .all(|r| r.as_ref().unwrap_err().error.code() == "upstream_invalid_client"));
        // Within the cooldown: same failure, no call.
        assert!(block_on(cache.get(&p, &s, &sp)).is_err());
        assert_eq!(p.calls.get(), 1);
        p.advance(1_000);
        assert!(block_on(cache.get(&p, &s, &sp)).is_ok());
        assert_eq!(p.calls.get(), 2);
    }

    #[test]
    fn retries_5xx_then_succeeds() {
        let (p, cache, s) = (Fake::new(), TokenCache::new(), Settings::default());
        p.script([status(500, "", &[])]);
        let r = block_on(cache.get(&p, &s, &spec("openid"))).unwrap();
        assert_eq!(r.upstream.unwrap().attempts, 2);
        assert_eq!(p.calls.get(), 2);
        assert_eq!(
            p.slept.get(),
            250,
            "full jitter of the 500 ms first backoff"
        );
    }

    #[test]
    fn honours_retry_after_or_answers_at_once() {
        let (p, cache, s) = (Fake::new(), TokenCache::new(), Settings::default());
        p.script([status(429, "", &[("Retry-After", "2")])]);
        assert!(block_on(cache.get(&p, &s, &spec("openid"))).is_ok());
        assert_eq!(p.slept.get(), 2_000);
        p.script([status(429, "", &[("Retry-After", "30")])]);
        let e = block_on(cache.get(&p, &s, &spec("AdobeID"))).unwrap_err();
        assert_eq!(e.error.retry_after_s(), Some(30));
        assert_eq!(p.calls.get(), 3);
        // The cooldown honours Retry-After: no call, the time left is reported.
        p.advance(10_000);
        let e = block_on(cache.get(&p, &s, &spec("AdobeID"))).unwrap_err();
        assert_eq!((e.error.retry_after_s(), p.calls.get()), (Some(20), 3));
    }

    #[test]
    fn three_attempts_at_most_and_garbage_once() {
        let (p, cache, s) = (Fake::new(), TokenCache::new(), Settings::default());
        p.script([
            Err(TransportError::Network("reset".into())),
            Err(TransportError::Timeout(10_000)),
            status(503, "", &[]),
        ]);
        let e = block_on(cache.get(&p, &s, &spec("openid"))).unwrap_err();
        assert_eq!((e.error.code(), p.calls.get()), ("upstream_unavailable", 3));
        let (p, cache) = (Fake::new(), TokenCache::new());
        p.script([status(200, "<html>", &[]), status(200, "<html>", &[])]);
        let e = block_on(cache.get(&p, &s, &spec("openid"))).unwrap_err();
        assert_eq!(
            (e.error.code(), p.calls.get()),
            ("upstream_bad_response", 2)
        );
    }

    #[test]
    fn failed_background_refresh_keeps_serving_the_cached_token() {
        let (p, cache, s) = (Fake::new(), TokenCache::new(), Settings::default());
        p.lifetime_s.set(60);
        block_on(cache.get(&p, &s, &spec("openid"))).unwrap();
        p.advance(52_000);
        p.script([status(400, r#"{"error":"invalid_client"}"#, &[])]);
        assert!(
            block_on(cache.get(&p, &s, &spec("openid")))
                .unwrap()
                .refresh_due
        );
        assert!(block_on(cache.refresh(&p, &s, &spec("openid"))).is_err());
        let r = block_on(cache.get(&p, &s, &spec("openid")));
        assert_eq!(token_of(&r), "tok-1");
        assert!(!r.unwrap().refresh_due, "cooling down: no new refresh yet");
    }

    #[test]
    fn a_dropped_leader_hands_the_flight_to_the_next_request() {
        let (p, cache, s) = (Fake::new(), TokenCache::new(), Settings::default());
        let sp = spec("openid");
        {
            let mut leader = Box::pin(cache.get(&p, &s, &sp));
            let waker = futures_util::task::noop_waker();
            let mut cx = Context::from_waker(&waker);
            assert!(
                leader.as_mut().poll(&mut cx).is_pending(),
                "leader is inside its IMS call"
            );
        }
        let r = block_on(cache.get(&p, &s, &sp));
        assert_eq!(r.unwrap().outcome, CacheOutcome::Miss);
        assert_eq!(p.calls.get(), 2);
    }

    #[test]
    fn an_rfc6749_spec_follows_the_same_rules() {
        let (p, cache, s) = (Fake::new(), TokenCache::new(), Settings::default());
        let sp = spec("openid").with_endpoint(ims::TokenEndpoint::Rfc6749 {
            auth: ims::ClientAuth::Post,
        });
        let all = block_on(futures_util::future::join_all(
            (0..10).map(|_| cache.get(&p, &s, &sp)),
        ));
        assert!(all.iter().all(|r| token_of(r) == "tok-1"));
        assert_eq!(p.calls.get(), 1);
        assert_eq!(sp.key, spec("openid").key);
    }

    #[test]
    fn invalid_client_falls_back_to_the_next_secret() {
        let (p, cache, s) = (Fake::new(), TokenCache::new(), Settings::default());
        let mut sp = spec("openid");
        sp.secrets.push(ClientSecret::new("other"));
        p.script([status(400, r#"{"error":"invalid_client"}"#, &[])]);
        let r = block_on(cache.get(&p, &s, &sp)).unwrap();
        assert_eq!(r.upstream.unwrap().secret_index, 1);
        assert_eq!(p.calls.get(), 2);
        // Other final errors do not try other secrets.
        p.script([status(400, r#"{"error":"invalid_scope"}"#, &[])]);
        assert!(block_on(cache.get(&p, &s, &spec("AdobeID"))).is_err());
        assert_eq!(p.calls.get(), 3);
    }

    /// A platform whose coordinator answers every ask with `answer`, counting the asks.
    struct Coordinated {
        fake: Fake,
        answer: fn(&Fake) -> Minted,
        asked: Cell<u32>,
    }
    impl Coordinated {
        fn new(answer: fn(&Fake) -> Minted) -> Self {
            Self {
                fake: Fake::new(),
                answer,
                asked: Cell::new(0),
            }
        }
    }
    impl Clock for Coordinated {
        fn now_ms(&self) -> u64 {
            self.fake.now_ms()
        }
        fn random(&self) -> f64 {
            0.5
        }
        async fn sleep(&self, ms: u64) {
            self.fake.sleep(ms).await;
        }
    }
    impl HttpClient for Coordinated {
        async fn send(
            &self,
            req: &HttpRequest,
            timeout_ms: u64,
        ) -> Result<HttpResponse, TransportError> {
            self.fake.send(req, timeout_ms).await
        }
    }
    impl TokenStore for Coordinated {
        async fn get(&self, key: &str) -> Option<String> {
            self.fake.get(key).await
        }
        async fn put(&self, key: &str, value: String, ttl_s: u64) {
            self.fake.put(key, value, ttl_s).await;
        }
    }
    impl Coordinator for Coordinated {
        async fn mint_elsewhere(&self, _spec: &TokenSpec) -> Option<Minted> {
            self.asked.set(self.asked.get() + 1);
            Some((self.answer)(&self.fake))
        }
    }

    /// The coordinator's token.
    fn from_coordinator(fake: &Fake) -> Minted {
        let now = fake.now_ms();
        Ok((
            CachedToken {
                access_token: crate::AccessToken::new("from-coordinator"),
                scope: "openid".into(),
                sent_at_ms: now,
                expires_at_ms: now + 86_399_000,
            },
            None,
        ))
    }

    #[test]
    fn a_coordinator_mints_instead_and_the_store_is_left_to_it() {
        let (p, cache, s) = (
            Coordinated::new(from_coordinator),
            TokenCache::new(),
            Settings::default(),
        );
        let r = block_on(cache.get(&p, &s, &spec("openid")));
        assert_eq!(token_of(&r), "from-coordinator");
        assert_eq!(p.fake.calls.get(), 0, "no IMS call of its own");
        assert!(p.fake.store.borrow().is_empty(), "no second KV write");
        assert_eq!(
            block_on(cache.get(&p, &s, &spec("openid")))
                .unwrap()
                .outcome,
            CacheOutcome::Memory
        );
    }

    /// The coordinator's answer when it cannot give the credential's secrets.
    fn unavailable(_fake: &Fake) -> Minted {
        Err(Failure {
            error: ImsError::CredentialUnavailable {
                retry_after_s: Some(5),
            },
            upstream: None,
        })
    }

    #[test]
    fn unavailable_secrets_do_not_cool_the_key_down() {
        let (p, cache, s) = (
            Coordinated::new(unavailable),
            TokenCache::new(),
            Settings::default(),
        );
        for asked in 1..=3 {
            let r = block_on(cache.get(&p, &s, &spec("openid")));
            let code = r.err().map(|f| f.error.code());
            assert_eq!(code, Some("credential_unavailable"));
            assert_eq!(p.asked.get(), asked, "every request asks again");
        }
        assert_eq!(p.fake.calls.get(), 0, "no IMS call");
    }

    #[test]
    fn a_full_memory_evicts_the_oldest_mint() {
        let (p, cache, s) = (Fake::new(), TokenCache::new(), Settings::default());
        for i in 0..MAX_MEMORY_ENTRIES {
            block_on(cache.get(&p, &s, &spec(&format!("s{i}")))).unwrap();
            p.advance(1);
        }
        block_on(cache.get(&p, &s, &spec("newest"))).unwrap();
        assert!(
            cache.peek(&spec("s0").key).is_none(),
            "the oldest is evicted"
        );
        assert!(cache.peek(&spec("s1").key).is_some());
        assert!(cache.peek(&spec("newest").key).is_some());
        // The evicted one comes back from the store, not from IMS.
        let calls = p.calls.get();
        let r = block_on(cache.get(&p, &s, &spec("s0"))).unwrap();
        assert_eq!((r.outcome, p.calls.get()), (CacheOutcome::Kv, calls));
    }
}
