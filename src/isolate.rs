//! Everything one isolate keeps between requests, in one value built on its first event.
//!
//! Bindings cannot change under a running isolate (a deployment or `wrangler secret put` starts
//! new isolates with the new values), so settings are parsed once and kept: while the isolate
//! starts (off the first request's path, see `crate::platform::startup`), else on first use. A
//! setting that fails to parse is not kept, so every request that needs it reports the error. Beside the settings, the isolate keeps what
//! the broker's rules need across requests: the token cache (memory level, single flights,
//! cooldowns), each caller's budget of new scope sets, the last secrets record learnt per
//! credential from its Durable Object, the counters and recent events, the log's hit
//! summary, and the identity tokens verified lately and their issuers' keys. There are no other per-isolate statics.

use crate::config::{self, BrokerConfig};
use crate::platform::kv::Kv;
use crate::platform::memo::{CacheKeys, Parsed, QuotedTokens};
use ims_core::budget::MissBudget;
use ims_core::callers::{Caller, CallerRegistry};
use ims_core::envelope::StoreKeys;
use ims_core::events::EventLog;
use ims_core::hit_summary::HitSummary;
use ims_core::memo::Bounded;
use ims_core::metrics::Metrics;
use ims_core::refused::Replacements;
use ims_core::rotation::CredentialState;
use ims_core::token_body::TokenBody;
use ims_core::workload_identity::CachedKeys;
use ims_core::{ConfigError, TokenCache};
use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use worker::Env;

/// The KV namespace that holds cached tokens and event batches.
pub const TOKENS_BINDING: &str = "TOKENS";

/// Most cache keys whose last hit is remembered (`GET /v1/credentials/{name}/tokens`).
const MAX_HITS: usize = 256;

/// Most identity tokens remembered as verified.
const MAX_VERIFIED: usize = 1024;

/// An identity token verified in this isolate: who it is, until when.
pub struct Verified {
    /// The caller it is.
    pub caller: Rc<Caller>,
    /// Its `exp`, ms: it is not remembered past it.
    pub exp_ms: u64,
    /// Its issuer's name.
    pub issuer: String,
    /// Its `sub`, for the log.
    pub sub: Option<String>,
    /// Its `jti`, for the log.
    pub jti: Option<String>,
}

/// An issuer's keys as this isolate knows them.
#[derive(Default)]
pub struct IssuerKeys {
    /// The key set, once read from KV or fetched.
    pub set: Option<CachedKeys>,
    /// True once KV was asked for them.
    pub kv_read: bool,
    /// True while a request of this isolate fetches them: others wait for it.
    pub fetching: bool,
    /// When a token's unknown `kid` last made this isolate fetch them, ms.
    pub last_refetch_ms: Option<u64>,
    /// When a fetch of them last failed, ms.
    pub last_failure_ms: Option<u64>,
}

/// The isolate's state.
pub struct Isolate {
    /// A random id, naming this isolate's event batch in KV.
    pub id: String,
    config: OnceCell<Rc<BrokerConfig>>,
    callers: OnceCell<Rc<CallerRegistry>>,
    keys: OnceCell<Rc<StoreKeys>>,
    kv: OnceCell<Kv>,
    /// The token cache: memory level, single flights, cooldowns.
    pub cache: Rc<TokenCache>,
    /// `POST /v1/token` bodies parsed lately (speed only, see `crate::platform::memo`).
    pub token_bodies: RefCell<Parsed<TokenBody>>,
    /// Cache keys asked for lately (speed only, see `crate::platform::memo`).
    pub cache_keys: RefCell<CacheKeys>,
    /// Tokens' values as JSON strings (speed only, see `crate::platform::memo`).
    pub quoted_tokens: RefCell<QuotedTokens>,
    /// The credentials' objects' own token cache. Objects may share an isolate with ordinary
    /// requests, so they must not share those requests' single flights: a request's flight
    /// waits for the object.
    pub object_cache: Rc<TokenCache>,
    /// Each caller's budget of new scope sets.
    pub budget: RefCell<MissBudget>,
    /// The last secrets record learnt per credential from its object, and when (ms): what a miss
    /// mints with when the object cannot be reached.
    pub records: RefCell<HashMap<String, (u64, Rc<CredentialState>)>>,
    /// Request, cache and IMS counters.
    pub metrics: RefCell<Metrics>,
    /// Recent events, and which of them are written to KV yet.
    pub events: RefCell<EventLog>,
    /// Where the last hit on each cache key was served from, and when (ms).
    pub hits: RefCell<Bounded<String, (&'static str, u64)>>,
    /// Plain cache hits counted for the next `requests_summary` log line.
    pub summary: RefCell<HitSummary>,
    /// The status and headers of every answer with fixed headers sent so far; the index is its
    /// number for `crate::edge` (speed only: `shim.js` then makes its init once).
    pub fixed_answers: RefCell<Vec<(u16, String)>>,
    /// The entry point's continuation as a JS function, made once (see `crate::edge`).
    pub entry_next: OnceCell<worker::js_sys::Function>,
    /// Identity tokens verified lately, by their SHA-256: a caller that presents the same token
    /// again pays for no signature check.
    pub verified: RefCell<Bounded<[u8; 32], Rc<Verified>>>,
    /// Each trusted issuer's keys, by issuer name.
    pub issuer_keys: RefCell<HashMap<String, IssuerKeys>>,
    /// When this isolate last replaced each cache key's token on a caller's report that an API
    /// refused it (`ims_core::refused`).
    pub replacements: RefCell<Replacements>,
    /// The same for the credentials' objects that run in this isolate (they keep their own
    /// limit: a request of this isolate may have just used its own).
    pub object_replacements: RefCell<Replacements>,
}

thread_local! {
    static ISOLATE: Rc<Isolate> = Rc::new(Isolate::new());
    static PARSED_AT_START: RefCell<ParsedAtStart> = RefCell::default();
}

/// The settings parsed while the isolate started, until the isolate's state takes them. The
/// isolate's state itself cannot be built then: its id is random and its counters start at the
/// clock, and neither is available at global scope.
#[derive(Default)]
struct ParsedAtStart {
    config: Option<BrokerConfig>,
    callers: Option<CallerRegistry>,
    keys: Option<StoreKeys>,
}

/// Parses the settings while the isolate starts, before its first request, so that the first
/// request does not run (and so compile) the parsers: see `crate::platform::startup`. Only
/// what parsed is kept; a setting that fails here is parsed again, and reported, by the first
/// request that needs it.
#[wasm_bindgen::prelude::wasm_bindgen(start)]
fn parse_at_start() {
    let Some(env) = crate::platform::startup::env() else {
        return;
    };
    let parsed = ParsedAtStart {
        config: config::broker(&env).ok(),
        callers: config::callers(&env).ok(),
        keys: config::store_keys(&env).ok(),
    };
    PARSED_AT_START.with(|p| *p.borrow_mut() = parsed);
}

/// What [`parse_at_start`] left of one setting, taken once.
fn at_start<V>(take: impl FnOnce(&mut ParsedAtStart) -> Option<V>) -> Option<V> {
    PARSED_AT_START.with(|p| take(&mut p.borrow_mut()))
}

impl Isolate {
    fn new() -> Self {
        Self {
            id: crate::random::id(),
            config: OnceCell::new(),
            callers: OnceCell::new(),
            keys: OnceCell::new(),
            kv: OnceCell::new(),
            cache: Rc::new(TokenCache::new()),
            token_bodies: RefCell::new(Parsed::new()),
            cache_keys: RefCell::new(CacheKeys::new()),
            quoted_tokens: RefCell::new(QuotedTokens::new()),
            object_cache: Rc::new(TokenCache::new()),
            budget: RefCell::new(MissBudget::new()),
            records: RefCell::new(HashMap::new()),
            metrics: RefCell::new(Metrics::new(crate::platform::now_ms())),
            events: RefCell::new(EventLog::default()),
            hits: RefCell::new(Bounded::new(MAX_HITS)),
            summary: RefCell::new(HitSummary::default()),
            fixed_answers: RefCell::new(Vec::new()),
            entry_next: OnceCell::new(),
            verified: RefCell::new(Bounded::new(MAX_VERIFIED)),
            issuer_keys: RefCell::new(HashMap::new()),
            replacements: RefCell::default(),
            object_replacements: RefCell::default(),
        }
    }

    /// This isolate's state. Taken once per event by the entry points (`crate::edge`,
    /// `crate::routes`, `crate::scheduled`, the credential object) and passed down from there
    /// (the request context, `crate::runtime::WorkerPlatform`); the one other reader is
    /// `crate::log`, which must write the hit summary before any other line, from anywhere.
    pub fn current() -> Rc<Isolate> {
        ISOLATE.with(Rc::clone)
    }

    /// The broker configuration (vars), parsed at the isolate's start or on first use.
    pub fn config(&self, env: &Env) -> Result<Rc<BrokerConfig>, ConfigError> {
        once(&self.config, || {
            at_start(|p| p.config.take()).map_or_else(|| config::broker(env), Ok)
        })
    }

    /// The caller registry (`CALLER_KEYS`, which holds digests, not keys, and
    /// `TRUSTED_ISSUERS`), parsed at the isolate's start or on first use.
    pub fn callers(&self, env: &Env) -> Result<Rc<CallerRegistry>, ConfigError> {
        once(&self.callers, || {
            at_start(|p| p.callers.take()).map_or_else(|| config::callers(env), Ok)
        })
    }

    /// The store keys (`STORE_KEY`, `STORE_KEY_PREVIOUS`), read at the isolate's start or on
    /// first use.
    pub fn keys(&self, env: &Env) -> Result<Rc<StoreKeys>, ConfigError> {
        once(&self.keys, || {
            at_start(|p| p.keys.take()).map_or_else(|| config::store_keys(env), Ok)
        })
    }

    /// The `TOKENS` KV namespace, with the configured timeout per call.
    pub fn kv(&self, env: &Env) -> Result<Kv, ConfigError> {
        if let Some(kv) = self.kv.get() {
            return Ok(kv.clone());
        }
        let timeout_ms = self.config(env)?.kv_timeout_ms;
        let kv =
            Kv::from_env(env, TOKENS_BINDING, timeout_ms).ok_or_else(|| ConfigError::Missing {
                setting: format!("KV binding {TOKENS_BINDING}"),
            })?;
        Ok(self.kv.get_or_init(|| kv).clone())
    }
}

/// The value in `cell`, else `parse()`'s, kept when it parsed.
fn once<V>(
    cell: &OnceCell<Rc<V>>,
    parse: impl FnOnce() -> Result<V, ConfigError>,
) -> Result<Rc<V>, ConfigError> {
    if let Some(kept) = cell.get() {
        return Ok(Rc::clone(kept));
    }
    let parsed = Rc::new(parse()?);
    Ok(Rc::clone(cell.get_or_init(|| parsed)))
}
