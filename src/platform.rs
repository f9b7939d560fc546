//! `ims-core`'s platform traits implemented with the Workers runtime: `Date.now`,
//! `Math.random`, `setTimeout` (via [`Delay`]), `fetch` with an abort on timeout, and KV, where
//! every value is sealed with the store key (reading KV alone yields no token).

pub mod eager;
pub mod intern;
pub mod kv;

use crate::log::Fields;
use futures_util::future::{select, Either};
use ims_core::cache::{Minted, TokenSpec};
use ims_core::envelope::StoreKeys;
use ims_core::http::{HttpClient, HttpRequest, HttpResponse, TransportError};
use ims_core::platform::{Clock, Coordinator, TokenStore};
use kv::Kv;
use std::rc::Rc;
use std::time::Duration;
use worker::{AbortController, Delay, Fetch, ObjectNamespace, Request};

thread_local! {
    /// The clock read when the current synchronous run of a request began (see [`Turn`]).
    static TURN_NOW: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

/// The clock, ms since the Unix epoch (`Date.now()`: no `Date` object, unlike
/// `worker::Date::now`, which allocates one per call). Within a [`Turn`], the value read when it
/// began.
pub fn now_ms() -> u64 {
    TURN_NOW
        .get()
        .unwrap_or_else(|| worker::js_sys::Date::now() as u64)
}

/// One synchronous run of a request's code: from its start until it returns to the runtime
/// (which is all of a cache hit). The clock is read once for it. Workers' own clock does not
/// advance while code runs (it moves on with I/O), so this reads the same instant the runtime
/// would give each call, without a call into JS per read. Dropping the guard ends the turn: a
/// request's code that runs again after I/O reads the clock anew.
pub struct Turn(());

impl Turn {
    /// Reads the clock and begins a turn.
    pub fn begin() -> Self {
        TURN_NOW.set(Some(worker::js_sys::Date::now() as u64));
        Self(())
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        TURN_NOW.set(None);
    }
}

/// The KV namespace that holds cached tokens.
pub const TOKENS_BINDING: &str = "TOKENS";

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
        now_ms()
    }

    fn random(&self) -> f64 {
        worker::js_sys::Math::random()
    }

    async fn sleep(&self, ms: u64) {
        Delay::from(Duration::from_millis(ms)).await;
    }
}

/// An outgoing request, built with `web_sys` directly: workers-rs's `RequestInit` also converts
/// its Cloudflare options (`cf`, through `serde_wasm_bindgen`) on every request, and this Worker
/// sets none.
pub fn request(
    url: &str,
    method: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> worker::Result<Request> {
    use worker::web_sys;
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    if !headers.is_empty() {
        let h = web_sys::Headers::new()?;
        for (name, value) in headers {
            h.set(name, value)?;
        }
        init.set_headers(&h);
    }
    if !body.is_empty() {
        init.set_body(&worker::js_sys::Uint8Array::from(body));
    }
    Ok(web_sys::Request::new_with_str_and_init(url, &init)?.into())
}

fn to_worker_request(request: &HttpRequest) -> worker::Result<Request> {
    let method = match request.method {
        "GET" | "DELETE" | "PUT" => request.method,
        _ => "POST",
    };
    self::request(&request.url, method, &request.headers, &request.body)
}

impl HttpClient for WorkerPlatform {
    async fn send(
        &self,
        request: &HttpRequest,
        timeout_ms: u64,
    ) -> Result<HttpResponse, TransportError> {
        let controller = AbortController::default();
        let signal = controller.signal();
        let req = to_worker_request(request)
            .map_err(|e| TransportError::Network(format!("could not build request: {e}")))?;
        let exchange = async move {
            let mut resp = Fetch::Request(req).send_with_signal(&signal).await?;
            let body = resp.bytes().await?;
            Ok::<_, worker::Error>((resp, body))
        };
        let timer = Delay::from(Duration::from_millis(timeout_ms));
        match select(Box::pin(exchange), timer).await {
            Either::Left((Ok((resp, body)), _)) => Ok(HttpResponse {
                status: resp.status_code(),
                headers: resp.headers().entries().collect(),
                body,
            }),
            Either::Left((Err(e), _)) => Err(TransportError::Network(e.to_string())),
            Either::Right(((), _)) => {
                controller.abort();
                Err(TransportError::Timeout(timeout_ms))
            }
        }
    }
}

impl Coordinator for WorkerPlatform {
    async fn mint_elsewhere(&self, spec: &TokenSpec) -> Option<Minted> {
        crate::refresher::ask(self.coordinator.as_ref()?, spec).await
    }
}

impl WorkerPlatform {
    /// Writes a token entry that a key of `STORE_KEY_PREVIOUS` sealed again under `STORE_KEY`,
    /// for the time it has left (so the previous key can be dropped; logged
    /// `store_key_resealed`).
    async fn reseal(&self, key: &str, text: &str) {
        let now = now_ms();
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
