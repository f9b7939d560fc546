//! `ims-core`'s platform traits implemented with the Workers runtime for the token cache: the
//! clock, `fetch`, the coordinator (the credential's Durable Object, which mints for every
//! isolate and teaches each the current secrets), and KV, where every value is sealed with the
//! store key (reading KV alone yields no token) and a failed or unreadable entry is logged and
//! treated as a miss.

use crate::api_error::ApiError;
use crate::credential_client::{Asked, CredentialObjects, UNAVAILABLE_RETRY_S};
use crate::isolate::Isolate;
use crate::log::Fields;
use crate::platform::kv::Kv;
use ims_core::cache::Coordinator;
use ims_core::cache::{Failure, Minted, TokenSpec};
use ims_core::envelope::StoreKeys;
use ims_core::http::{HttpClient, HttpRequest, HttpResponse, TransportError};
use ims_core::platform::{Clock, TokenStore};
use ims_core::{ConfigError, ImsError};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;
use worker::{Delay, Env};

/// The Workers runtime, as seen by the token cache.
#[derive(Clone)]
pub struct WorkerPlatform {
    kv: Kv,
    keys: Rc<StoreKeys>,
    /// The isolate's state (its counters and events, the secrets it learnt).
    isolate: Rc<Isolate>,
    /// The credentials' objects; `None` inside an object.
    coordinator: Option<Rc<CredentialObjects>>,
    /// Why the credential's object refused the last ask, for the caller's answer.
    refusal: Rc<RefCell<Option<ApiError>>>,
    /// True once this platform minted by itself because the object could not be reached.
    minted_here: Rc<Cell<bool>>,
}

impl WorkerPlatform {
    /// The platform of this isolate: the `TOKENS` namespace, the store keys and the credentials'
    /// objects (a binding every deployment needs: only the objects know the secrets).
    pub fn of(isolate: &Rc<Isolate>, env: &Env) -> Result<Self, ConfigError> {
        let objects = CredentialObjects::of(env).ok_or_else(|| ConfigError::Missing {
            setting: format!(
                "Durable Object binding {}",
                crate::credential_client::BINDING
            ),
        })?;
        Ok(Self {
            kv: isolate.kv(env)?,
            keys: isolate.keys(env)?,
            isolate: Rc::clone(isolate),
            coordinator: Some(Rc::new(objects)),
            refusal: Rc::default(),
            minted_here: Rc::default(),
        })
    }

    /// The same platform minting by itself: what a credential's object uses.
    pub fn local(self) -> Self {
        Self {
            coordinator: None,
            ..self
        }
    }

    /// The isolate's state.
    pub fn isolate(&self) -> &Isolate {
        &self.isolate
    }

    /// True when a mint through this platform was made here, not by the credential's object
    /// (which logs its own fallbacks).
    pub fn minted_here(&self) -> bool {
        self.minted_here.get()
    }

    /// The error the credential's object answered instead of a token, if it did (taken).
    pub fn take_refusal(&self) -> Option<ApiError> {
        self.refusal.borrow_mut().take()
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
    /// Asks the credential's object, and learns the record it answers with. When the object
    /// cannot be reached: `None` (mint here with the secrets learnt last) or, when none were
    /// learnt, `credential_unavailable`.
    async fn mint_elsewhere(&self, spec: &TokenSpec) -> Option<Minted> {
        let objects = self.coordinator.as_ref()?;
        let isolate = &self.isolate;
        let unavailable = || {
            Err(Failure {
                error: ImsError::CredentialUnavailable {
                    retry_after_s: Some(UNAVAILABLE_RETRY_S),
                },
                upstream: None,
            })
        };
        match objects.token(spec).await {
            Ok(Asked::Answered(minted, record)) => {
                if let Some(record) = record {
                    crate::secrets::learn(isolate, &spec.credential, *record);
                }
                Some(minted)
            }
            Ok(Asked::Refused(e)) => {
                self.refusal.replace(Some(e));
                Some(unavailable())
            }
            Err(()) if spec.secrets.is_empty() => Some(unavailable()),
            Err(()) => {
                self.minted_here.set(true);
                None
            }
        }
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
