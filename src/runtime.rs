//! `ims-core`'s platform traits implemented with the Workers runtime for the token cache: the
//! clock, `fetch`, the refresh coordinator (the `REFRESHER` Durable Object), and KV, where every
//! value is sealed with the store key (reading KV alone yields no token) and a failed or
//! unreadable entry is logged and treated as a miss.

use crate::isolate::Isolate;
use crate::log::Fields;
use crate::platform::kv::Kv;
use ims_core::cache::Coordinator;
use ims_core::cache::{Minted, TokenSpec};
use ims_core::envelope::StoreKeys;
use ims_core::http::{HttpClient, HttpRequest, HttpResponse, TransportError};
use ims_core::platform::{Clock, TokenStore};
use ims_core::ConfigError;
use std::rc::Rc;
use std::time::Duration;
use worker::{Delay, Env, ObjectNamespace};

/// The Workers runtime, as seen by the token cache.
#[derive(Clone)]
pub struct WorkerPlatform {
    kv: Kv,
    keys: Rc<StoreKeys>,
    coordinator: Option<ObjectNamespace>,
}

impl WorkerPlatform {
    /// Wraps the `TOKENS` KV namespace, the store keys, and the refresh coordinator (the
    /// `REFRESHER` Durable Object namespace, when bound).
    pub fn new(kv: Kv, keys: Rc<StoreKeys>, coordinator: Option<ObjectNamespace>) -> Self {
        Self {
            kv,
            keys,
            coordinator,
        }
    }

    /// The platform of this isolate: the `TOKENS` namespace, the store keys and the refresh
    /// coordinator (when bound).
    pub fn of(isolate: &Isolate, env: &Env) -> Result<Self, ConfigError> {
        Ok(Self::new(
            isolate.kv(env)?,
            isolate.keys(env)?,
            env.durable_object(crate::coordinator::BINDING).ok(),
        ))
    }

    /// The same platform minting by itself: what the coordinator itself uses.
    pub fn local(self) -> Self {
        Self {
            coordinator: None,
            ..self
        }
    }

    /// The KV namespace.
    pub fn kv(&self) -> &Kv {
        &self.kv
    }

    /// The store keys.
    pub fn keys(&self) -> &StoreKeys {
        &self.keys
    }
}

impl Clock for WorkerPlatform {
    fn now_ms(&self) -> u64 {
        crate::platform::now_ms()
    }

    fn random(&self) -> f64 {
        worker::js_sys::Math::random()
    }

    async fn sleep(&self, ms: u64) {
        Delay::from(Duration::from_millis(ms)).await;
    }
}

impl HttpClient for WorkerPlatform {
    async fn send(
        &self,
        request: &HttpRequest,
        timeout_ms: u64,
    ) -> Result<HttpResponse, TransportError> {
        crate::platform::send(request, timeout_ms).await
    }
}

impl Coordinator for WorkerPlatform {
    async fn mint_elsewhere(&self, spec: &TokenSpec) -> Option<Minted> {
        crate::coordinator::ask(self.coordinator.as_ref()?, spec).await
    }
}

impl WorkerPlatform {
    /// Writes a token entry that a key of `STORE_KEY_PREVIOUS` sealed again under `STORE_KEY`,
    /// for the time it has left (so the previous key can be dropped; logged
    /// `store_key_resealed`).
    async fn reseal(&self, key: &str, text: &str) {
        let now = crate::platform::now_ms();
        let Some(token) = ims_core::policy::CachedToken::from_stored(text) else {
            return;
        };
        if token.freshness(now) == ims_core::policy::Freshness::Unusable {
            return;
        }
        TokenStore::put(self, key, text.to_owned(), token.kv_ttl_s(now)).await;
        crate::log::event(
            "store_key_resealed",
            Fields::new().str("kind", "token").str("key", key),
            None,
        );
    }
}

impl TokenStore for WorkerPlatform {
    async fn get(&self, key: &str) -> Option<String> {
        let sealed = match self.kv.get(key).await {
            Ok(value) => value?,
            Err(e) => {
                let fields = Fields::new()
                    .str("level", "warn")
                    .str("error", &e.to_string());
                crate::log::event("kv_read_failed", fields, None);
                return None;
            }
        };
        match self.keys.open(key, &sealed) {
            Ok(opened) => {
                let text = String::from_utf8(opened.plaintext).ok()?;
                if opened.stale_key {
                    self.reseal(key, &text).await;
                }
                Some(text)
            }
            Err(e) => {
                // A wrong STORE_KEY must never yield a garbled token: the entry is a miss.
                let fields = Fields::new()
                    .str("level", "error")
                    .str("key", key)
                    .str("error", &e.to_string());
                crate::log::event("kv_entry_unreadable", fields, None);
                None
            }
        }
    }

    async fn put(&self, key: &str, value: String, ttl_s: u64) {
        let sealed = self
            .keys
            .seal(key, value.as_bytes(), crate::random::bytes());
        if let Err(e) = self.kv.put(key, &sealed, Some(ttl_s)).await {
            let fields = Fields::new()
                .str("level", "warn")
                .str("error", &e.to_string());
            crate::log::event("kv_write_failed", fields, None);
        }
    }
}
