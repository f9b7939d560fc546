//! `ims-core`'s platform traits over the JavaScript runtime: `Date.now`, `Math.random`,
//! `setTimeout`, a `fetch` (the caller's or the global one) aborted on timeout, and an optional
//! caller-provided store with async `get(key)` / `put(key, value, ttlSeconds)`.
//!
//! The JS half lives in `js/host.js`; this half only converts values.

use ims_core::http::{HttpClient, HttpRequest, HttpResponse, TransportError};
use ims_core::platform::{Clock, TokenStore};
use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(module = "/js/host.js")]
extern "C" {
    /// What `host_send` / `response_parts` resolve to.
    pub type Reply;
    #[wasm_bindgen(method, getter)]
    fn status(this: &Reply) -> Option<f64>;
    #[wasm_bindgen(method, getter)]
    fn headers(this: &Reply) -> Option<Vec<String>>;
    #[wasm_bindgen(method, getter)]
    fn body(this: &Reply) -> Option<Vec<u8>>;
    #[wasm_bindgen(method, getter)]
    fn timeout(this: &Reply) -> Option<bool>;
    #[wasm_bindgen(method, getter)]
    fn error(this: &Reply) -> Option<String>;

    fn host_sleep(ms: f64) -> Promise;
    fn host_send(
        fetch: &JsValue,
        method: &str,
        url: &str,
        headers: Vec<String>,
        body: &[u8],
        timeout_ms: f64,
    ) -> Promise;
    fn store_get(store: &JsValue, key: &str, on_error: &JsValue) -> Promise;
    fn store_put(
        store: &JsValue,
        key: &str,
        value: &str,
        ttl_s: f64,
        on_error: &JsValue,
    ) -> Promise;
    /// Sets the class of the package's errors (`ImsError` of `api.mjs`).
    pub fn use_error_class(class: &JsValue);
    /// A new error of that class with `message`.
    pub fn new_error(message: &str) -> JsValue;
    /// The `onError` of a client given none: `console.warn`, once per kind of failure.
    pub fn warn_once() -> JsValue;
    /// Passes a failure of background work to the caller's `onError`.
    pub fn report_error(on_error: &JsValue, error: &JsValue, what: &str);
    /// Builds the object `getToken` resolves to.
    pub fn make_token(
        access_token: &JsValue,
        expires_in: f64,
        expires_at: f64,
        scope: &JsValue,
        source: &JsValue,
    ) -> JsValue;
    /// Normalises a JS response-like object into a [`Reply`].
    pub fn response_parts(response: &JsValue) -> Reply;
}

impl Reply {
    /// The reply as the core's response value; `None` if it carries no status.
    pub fn to_response(&self) -> Option<HttpResponse> {
        let status = self.status()?;
        let flat = self.headers().unwrap_or_default();
        let mut headers = Vec::with_capacity(flat.len() / 2);
        let mut it = flat.into_iter();
        while let (Some(name), Some(value)) = (it.next(), it.next()) {
            headers.push((name, value));
        }
        Some(HttpResponse {
            status: status.clamp(0.0, 999.0) as u16,
            headers,
            body: self.body().unwrap_or_default(),
        })
    }
}

/// Milliseconds from JS (may be NaN, negative or fractional) as the core's `u64`.
pub fn ms(value: f64) -> u64 {
    if value.is_finite() && value > 0.0 {
        value as u64
    } else {
        0
    }
}

/// The JavaScript runtime, as seen by the token cache.
pub struct JsHost {
    /// The caller's `fetch`, or `undefined` for the global one.
    pub fetch: JsValue,
    /// The caller's store, or `undefined` for none (the cache's memory level only).
    pub store: JsValue,
    /// The caller's `onError(error, what)`, or `undefined`.
    pub on_error: JsValue,
}

impl Clock for JsHost {
    fn now_ms(&self) -> u64 {
        ms(js_sys::Date::now())
    }

    fn random(&self) -> f64 {
        js_sys::Math::random()
    }

    async fn sleep(&self, ms: u64) {
        let _ = JsFuture::from(host_sleep(ms as f64)).await;
    }
}

impl HttpClient for JsHost {
    async fn send(
        &self,
        request: &HttpRequest,
        timeout_ms: u64,
    ) -> Result<HttpResponse, TransportError> {
        let mut headers = Vec::with_capacity(request.headers.len() * 2);
        for (name, value) in &request.headers {
            headers.push(name.clone());
            headers.push(value.clone());
        }
        let promise = host_send(
            &self.fetch,
            request.method,
            &request.url,
            headers,
            &request.body,
            timeout_ms as f64,
        );
        let reply: Reply = JsFuture::from(promise)
            .await
            .map_err(|_| TransportError::Network("fetch failed".into()))?
            .unchecked_into();
        if reply.timeout() == Some(true) {
            return Err(TransportError::Timeout(timeout_ms));
        }
        if let Some(error) = reply.error() {
            return Err(TransportError::Network(error));
        }
        reply
            .to_response()
            .ok_or_else(|| TransportError::Network("fetch resolved without a response".into()))
    }
}

impl ims_core::cache::Coordinator for JsHost {}

impl TokenStore for JsHost {
    async fn get(&self, key: &str) -> Option<String> {
        if self.store.is_undefined() {
            return None;
        }
        JsFuture::from(store_get(&self.store, key, &self.on_error))
            .await
            .ok()?
            .as_string()
    }

    async fn put(&self, key: &str, value: String, ttl_s: u64) {
        if self.store.is_undefined() {
            return;
        }
        let promise = store_put(&self.store, key, &value, ttl_s as f64, &self.on_error);
        let _ = JsFuture::from(promise).await;
    }
}
