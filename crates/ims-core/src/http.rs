//! Plain HTTP request and response values, and the small trait through which the core sends them.
//!
//! The core never performs I/O itself: [`crate::ims`] builds an [`HttpRequest`] and parses an
//! [`HttpResponse`]; whoever embeds the core (the Worker, the npm package, a test) implements
//! [`HttpClient`] with its platform's `fetch`.

/// An outgoing request.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// `GET`, `POST`, `DELETE`.
    pub method: &'static str,
    /// Absolute URL.
    pub url: String,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// The body; for IMS a form that contains the client secret.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for HttpRequest {
    /// Leaves the body and `Authorization` out: they carry secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// A received response.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header names (any case) and values.
    pub headers: Vec<(String, String)>,
    /// The body; for IMS it may hold an access token.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of a header, matched case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl std::fmt::Debug for HttpResponse {
    /// Leaves the body out: it may carry a token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// A request that got no HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// No answer within the time allowed.
    #[error("no answer within {0} ms")]
    Timeout(u64),
    /// The connection failed or broke (refused, reset, closed without a response).
    #[error("network error: {0}")]
    Network(String),
}

/// Sends one HTTP request. Implementations must honour `timeout_ms` (abort and return
/// [`TransportError::Timeout`]) and must not retry: retries are the core's decision.
#[allow(async_fn_in_trait)]
pub trait HttpClient {
    /// Sends `request` and returns whatever HTTP answer came back, of any status.
    async fn send(
        &self,
        request: &HttpRequest,
        timeout_ms: u64,
    ) -> Result<HttpResponse, TransportError>;
}
