//! `ims-core`'s platform traits implemented with the Workers runtime: `Date.now`,
//! `Math.random`, `setTimeout` (via [`Delay`]), `fetch` with an abort on timeout, and KV.

use futures_util::future::{select, Either};
use ims_core::http::{HttpClient, HttpRequest, HttpResponse, TransportError};
use ims_core::platform::{Clock, TokenStore};
use serde_json::json;
use std::time::Duration;
use worker::{AbortController, Date, Delay, Fetch, Headers, KvStore, Method, Request, RequestInit};

/// The KV namespace that holds cached tokens.
pub const TOKENS_BINDING: &str = "TOKENS";

/// The Workers runtime, as seen by the token cache.
#[derive(Clone)]
pub struct WorkerPlatform {
    kv: KvStore,
}

impl WorkerPlatform {
    /// Wraps the `TOKENS` KV namespace.
    pub fn new(kv: KvStore) -> Self {
        Self { kv }
    }
}

impl Clock for WorkerPlatform {
    fn now_ms(&self) -> u64 {
        Date::now().as_millis()
    }

    fn random(&self) -> f64 {
        worker::js_sys::Math::random()
    }

    async fn sleep(&self, ms: u64) {
        Delay::from(Duration::from_millis(ms)).await;
    }
}

fn to_worker_request(request: &HttpRequest) -> worker::Result<Request> {
    let headers = Headers::new();
    for (name, value) in &request.headers {
        headers.set(name, value)?;
    }
    let method = match request.method {
        "GET" => Method::Get,
        "DELETE" => Method::Delete,
        "PUT" => Method::Put,
        _ => Method::Post,
    };
    let mut init = RequestInit::new();
    init.with_method(method).with_headers(headers);
    if !request.body.is_empty() {
        let body = worker::js_sys::Uint8Array::from(request.body.as_slice());
        init.with_body(Some(body.into()));
    }
    Request::new_with_init(&request.url, &init)
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

impl TokenStore for WorkerPlatform {
    async fn get(&self, key: &str) -> Option<String> {
        match self.kv.get(key).text().await {
            Ok(value) => value,
            Err(e) => {
                crate::log::event(
                    "kv_read_failed",
                    json!({"level": "warn", "error": e.to_string()}),
                    None,
                );
                None
            }
        }
    }

    async fn put(&self, key: &str, value: String, ttl_s: u64) {
        let result = match self.kv.put(key, value) {
            Ok(builder) => builder.expiration_ttl(ttl_s).execute().await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            crate::log::event(
                "kv_write_failed",
                json!({"level": "warn", "error": e.to_string()}),
                None,
            );
        }
    }
}
