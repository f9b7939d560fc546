//! A request as the route table sees it: built by workers-rs, or, for a `POST` to a token route
//! whose body the entry point read in JS, the few header values that route reads, read in the
//! same JS call (see `crate::entry`).
//!
//! `worker::Request::from` reads the method, the URL, the headers and `cf` from the runtime, a
//! call into JS each (and `cf` is a whole object), and every header the handler then reads is one
//! more. A cache hit needs none of that: the route is known, the method is `POST`, and the
//! headers it reads arrive with the body.

use worker::worker_sys::web_sys;
use worker::{Method, Request};

/// Headers a handler reads by name.
pub trait Headers {
    /// The value of header `name` (lower case), if sent.
    fn header(&self, name: &str) -> Option<String>;
}

impl Headers for Request {
    fn header(&self, name: &str) -> Option<String> {
        self.headers().get(name).ok().flatten()
    }
}

/// A header value that holds a secret (the caller's key), kept from the moment it arrives from
/// JS: its `Debug` says `Sensitive([redacted])`. [`Headers::header`] hands the value to the code
/// that wraps what it holds (`auth::bearer_key`, `client_auth`).
#[derive(Clone)]
pub struct Sensitive(String);

impl Sensitive {
    /// Wraps a value.
    pub fn new(value: String) -> Self {
        Self(value)
    }
}

impl std::fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sensitive([redacted])")
    }
}

/// A request on its way to a handler.
pub enum Incoming {
    /// Built by workers-rs.
    Full(Request),
    /// A token route's `POST`, its body already read (see [`PreRead`]).
    PreRead(PreRead),
}

/// A `POST` to a token route, whose body and the headers below were read in JS.
pub struct PreRead {
    /// The runtime's request, for anything else (the URL of a request with an `Origin`, `cf-ray`).
    pub raw: web_sys::Request,
    /// The path, as the entry point routed it.
    pub path: &'static str,
    /// `Authorization`: it holds the caller's key.
    pub authorization: Option<Sensitive>,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `Origin`.
    pub origin: Option<String>,
}

impl Incoming {
    /// The method, as workers-rs names it.
    pub fn method(&self) -> Method {
        match self {
            Self::Full(r) => r.method(),
            Self::PreRead(_) => Method::Post,
        }
    }

    /// The method as sent (workers-rs maps every method it does not know to GET).
    pub fn sent_method(&self) -> String {
        match self {
            Self::Full(r) => r.inner().method(),
            Self::PreRead(_) => "POST".to_owned(),
        }
    }

    /// The path.
    pub fn path(&self) -> String {
        match self {
            Self::Full(r) => r.path(),
            Self::PreRead(p) => p.path.to_owned(),
        }
    }

    /// The URL as the runtime serialized it.
    pub fn url(&self) -> String {
        self.raw().url()
    }

    /// The runtime's request.
    pub fn raw(&self) -> &web_sys::Request {
        match self {
            Self::Full(r) => r.inner(),
            Self::PreRead(p) => &p.raw,
        }
    }

    /// The workers-rs request, for handlers that need more than [`Headers`]. A pre-read request's
    /// body is used up.
    pub fn into_request(self) -> Request {
        match self {
            Self::Full(r) => r,
            Self::PreRead(p) => Request::from(p.raw),
        }
    }
}

impl Headers for Incoming {
    fn header(&self, name: &str) -> Option<String> {
        match self {
            Self::Full(r) => r.header(name),
            Self::PreRead(p) => match name {
                "authorization" => p.authorization.as_ref().map(|a| a.0.clone()),
                "content-type" => p.content_type.clone(),
                "origin" => p.origin.clone(),
                _ => p.raw.headers().get(name).ok().flatten(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sensitive_value_is_not_shown() {
        let key = Sensitive::new("Bearer ibk_secret".into());
        assert_eq!(format!("{key:?}"), "Sensitive([redacted])");
    }
}
