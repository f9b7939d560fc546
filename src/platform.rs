//! The Workers runtime's own calls, with nothing of the broker in them: the clock, outgoing
//! `fetch` with an abort on timeout, KV ([`kv`]), WebCrypto ([`webcrypto`]), and running a request's future without a
//! `Promise` when it need not wait ([`eager`]), and keeping code off a new isolate's first
//! request ([`startup`]).

pub mod eager;
pub mod kv;
pub mod memo;
pub mod startup;
pub mod webcrypto;

use futures_util::future::{select, Either};
use ims_core::http::{HttpRequest, HttpResponse, TransportError};
use std::time::Duration;
use worker::{AbortController, Delay, Fetch, Request};

/// The clock, ms since the Unix epoch (`Date.now()`: no `Date` object, unlike
/// `worker::Date::now`, which allocates one per call).
pub fn now_ms() -> u64 {
    worker::js_sys::Date::now() as u64
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

/// Sends `request`; a transport error once `timeout_ms` has passed (the request is aborted).
pub async fn send(request: &HttpRequest, timeout_ms: u64) -> Result<HttpResponse, TransportError> {
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
