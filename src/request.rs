//! A request as every handler sees it: the method as sent, the route (decided once, by the
//! adapter in `crate::edge`), the few headers handlers read, and the body, read with a cap
//! before any handler runs. Nothing here touches the runtime's `Request` object.

use crate::api_error::ApiError;

/// Largest body any endpoint reads. The adapter stops reading one byte past it.
pub const MAX_BODY: usize = 16 * 1024;

/// A request on its way to a handler.
#[derive(Debug)]
pub struct Request {
    /// The method as sent (upper case for the methods the Fetch standard normalizes).
    pub method: String,
    /// The route its path matched.
    pub route: Route,
    /// The URL as the runtime serialized it.
    pub url: String,
    /// `Authorization`: it holds the caller's key, so it is kept [`Sensitive`].
    pub authorization: Option<Sensitive>,
    /// `Cf-Access-Jwt-Assertion`, the identity token Cloudflare Access adds to a request it let
    /// through: [`Sensitive`] too.
    pub access_assertion: Option<Sensitive>,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `Origin` (sent by browsers).
    pub origin: Option<String>,
    /// `cf-ray`, Cloudflare's id of the request.
    pub ray: Option<String>,
    /// What the adapter read of the body.
    pub body: Body,
}

/// A request's body as the adapter left it. Its `Debug` shows only the length: an
/// `/oauth/token` form holds the caller's key.
#[derive(PartialEq, Eq)]
pub enum Body {
    /// Read whole: at most [`MAX_BODY`] bytes (empty when there was none).
    Read(Vec<u8>),
    /// Over [`MAX_BODY`]: refused by `Content-Length` unread, or read no further than one byte
    /// past the cap.
    TooLarge,
    /// The read failed (the client went away or sent a broken body).
    Unreadable,
    /// Already handed to the handler by [`Request::take_body`].
    Taken,
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Read(bytes) => write!(f, "Read([{} bytes, redacted])", bytes.len()),
            Self::TooLarge => f.write_str("TooLarge"),
            Self::Unreadable => f.write_str("Unreadable"),
            Self::Taken => f.write_str("Taken"),
        }
    }
}

impl Request {
    /// The media type of the request, lower-cased, without parameters (`application/json`).
    pub fn media_type(&self) -> Option<String> {
        let essence = self
            .content_type
            .as_deref()?
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        (!essence.is_empty()).then_some(essence)
    }

    /// The body, refused with 413 past [`MAX_BODY`] and 400 when it could not be read.
    pub fn take_body(&mut self) -> Result<Vec<u8>, ApiError> {
        match std::mem::replace(&mut self.body, Body::Taken) {
            Body::Read(bytes) if bytes.len() <= MAX_BODY => Ok(bytes),
            Body::Read(_) | Body::TooLarge => Err(ApiError::PayloadTooLarge(MAX_BODY)),
            Body::Unreadable | Body::Taken => Err(ApiError::InvalidRequest(
                "the request body could not be read".into(),
            )),
        }
    }

    /// The value of the first query parameter called `name`, form-decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        ims_core::request_url::query_param(&self.url, name)
    }

    /// True for a browser request from another origin: its `Origin` is not this Worker's own.
    pub fn cross_origin(&self) -> bool {
        self.origin
            .as_deref()
            .is_some_and(|origin| !ims_core::request_url::same_origin(&self.url, origin))
    }
}

/// A header value that holds a secret (the caller's key), kept from the moment it arrives from
/// JS: its `Debug` says `Sensitive([redacted])`. `crate::auth` and `ims_core::client_auth` read it
/// and wrap what they take out of it in their own redacting types.
#[derive(Clone)]
pub struct Sensitive(String);

impl Sensitive {
    /// Wraps a value.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The value.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sensitive([redacted])")
    }
}

/// The routes, with their path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /healthz`.
    Healthz,
    /// `GET /v1/credentials`.
    Credentials,
    /// `GET /v1/credentials/{name}/tokens`.
    Tokens(String),
    /// `POST /v1/token`.
    Token,
    /// `POST /oauth/token`.
    OAuthToken,
    /// `GET /v1/metrics`.
    Metrics,
    /// `GET /v1/credentials/{name}/secrets`.
    Secrets(String),
    /// `POST /v1/credentials/{name}/secrets/rotate`.
    Rotate(String),
    /// `GET /v1/credentials/{name}/rotation`.
    Rotation(String),
    /// `DELETE /v1/credentials/{name}/secrets/{uuid}`.
    Secret(String, String),
    /// `GET /.well-known/oauth-authorization-server`.
    ServerMetadata,
    /// `GET /v1/identity`.
    Identity,
    /// No route has this path.
    NotFound,
}

impl Route {
    /// The route of a URL path.
    pub fn of(path: &str) -> Self {
        // At most six segments matter (one more than the longest route).
        let mut segments = [""; 6];
        let mut n = 0;
        for segment in path.trim_start_matches('/').split('/') {
            if n == segments.len() {
                return Self::NotFound;
            }
            segments[n] = segment;
            n += 1;
        }
        match &segments[..n] {
            ["healthz"] => Self::Healthz,
            [".well-known", "oauth-authorization-server"] => Self::ServerMetadata,
            ["v1", "identity"] => Self::Identity,
            ["v1", "credentials"] => Self::Credentials,
            ["v1", "credentials", name, "tokens"] => Self::Tokens((*name).to_owned()),
            ["v1", "token"] => Self::Token,
            ["oauth", "token"] => Self::OAuthToken,
            ["v1", "metrics"] => Self::Metrics,
            ["v1", "credentials", name, "secrets"] => Self::Secrets((*name).to_owned()),
            ["v1", "credentials", name, "secrets", "rotate"] => Self::Rotate((*name).to_owned()),
            ["v1", "credentials", name, "rotation"] => Self::Rotation((*name).to_owned()),
            ["v1", "credentials", name, "secrets", uuid] => {
                Self::Secret((*name).to_owned(), (*uuid).to_owned())
            }
            _ => Self::NotFound,
        }
    }

    /// The route as logged (parameters left out).
    pub fn label(&self) -> &'static str {
        match self {
            Self::Healthz => "GET /healthz",
            Self::ServerMetadata => "GET /.well-known/oauth-authorization-server",
            Self::Identity => "GET /v1/identity",
            Self::Credentials => "GET /v1/credentials",
            Self::Tokens(_) => "GET /v1/credentials/{name}/tokens",
            Self::Token => "POST /v1/token",
            Self::OAuthToken => "POST /oauth/token",
            Self::Metrics => "GET /v1/metrics",
            Self::Secrets(_) => "GET /v1/credentials/{name}/secrets",
            Self::Rotate(_) => "POST /v1/credentials/{name}/secrets/rotate",
            Self::Rotation(_) => "GET /v1/credentials/{name}/rotation",
            Self::Secret(..) => "DELETE /v1/credentials/{name}/secrets/{uuid}",
            Self::NotFound => "unmatched",
        }
    }

    /// The methods the route answers, for `Allow`.
    pub fn allow(&self) -> &'static str {
        match self {
            Self::Healthz | Self::ServerMetadata => "GET, HEAD",
            Self::Credentials | Self::Tokens(_) => "GET",
            Self::Token | Self::OAuthToken | Self::Rotate(_) => "POST",
            Self::Secrets(_) | Self::Rotation(_) | Self::Metrics | Self::Identity => "GET",
            Self::Secret(..) => "DELETE",
            Self::NotFound => "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: Body, content_type: Option<&str>) -> Request {
        Request {
            method: "POST".into(),
            route: Route::Token,
            url: "https://b.example/v1/token?format=prometheus".into(),
            authorization: Some(Sensitive::new("Bearer ibk_secret".into())),
            access_assertion: None,
            content_type: content_type.map(str::to_owned),
            origin: None,
            ray: None,
            body,
        }
    }

    #[test]
    fn paths_are_routed_by_their_segments() {
        assert_eq!(Route::of("/v1/token"), Route::Token);
        assert_eq!(Route::of("//oauth/token"), Route::OAuthToken);
        assert_eq!(
            Route::of("/.well-known/oauth-authorization-server"),
            Route::ServerMetadata
        );
        assert_eq!(Route::of("/v1/identity"), Route::Identity);
        assert_eq!(
            Route::of("/v1/credentials/a/secrets/u-1"),
            Route::Secret("a".into(), "u-1".into())
        );
        assert_eq!(
            Route::of("/v1/credentials/a/secrets/rotate"),
            Route::Rotate("a".into())
        );
        // Longer than any route, or a trailing slash: no route.
        assert_eq!(
            Route::of("/v1/credentials/a/secrets/u-1/x"),
            Route::NotFound
        );
        assert_eq!(Route::of("/v1/token/"), Route::NotFound);
        assert_eq!(Route::of("/a/b/c/d/e/f/g/h"), Route::NotFound);
    }

    #[test]
    fn the_body_is_handed_over_once_and_never_past_the_cap() {
        let mut r = request(Body::Read(b"{}".to_vec()), None);
        assert_eq!(r.take_body().expect("read"), b"{}");
        assert!(matches!(r.take_body(), Err(ApiError::InvalidRequest(_))));
        let mut big = request(Body::Read(vec![b' '; MAX_BODY + 1]), None);
        assert!(matches!(
            big.take_body(),
            Err(ApiError::PayloadTooLarge(MAX_BODY))
        ));
        let mut over = request(Body::TooLarge, None);
        assert!(matches!(
            over.take_body(),
            Err(ApiError::PayloadTooLarge(_))
        ));
    }

    #[test]
    fn media_type_and_query_are_read_from_what_the_adapter_kept() {
        let r = request(Body::Taken, Some("Application/JSON; charset=utf-8"));
        assert_eq!(r.media_type().as_deref(), Some("application/json"));
        assert_eq!(r.query("format").as_deref(), Some("prometheus"));
        assert_eq!(request(Body::Taken, Some(" ; x")).media_type(), None);
    }

    #[test]
    fn the_key_never_shows_in_debug() {
        let form = b"grant_type=client_credentials&client_id=a&client_secret=ibk_form".to_vec();
        let shown = format!("{:?}", request(Body::Read(form), None));
        assert!(
            !shown.contains("ibk_secret") && !shown.contains("ibk_form"),
            "{shown}"
        );
        assert!(shown.contains("Sensitive([redacted])"), "{shown}");
    }

    #[test]
    fn a_foreign_origin_is_cross_origin() {
        let mut r = request(Body::Taken, None);
        assert!(!r.cross_origin(), "no Origin: a server");
        r.origin = Some("https://b.example".into());
        assert!(!r.cross_origin());
        r.origin = Some("https://evil.example".into());
        assert!(r.cross_origin());
    }
}
