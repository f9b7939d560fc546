//! Caller authentication: finds the presented key and checks it against `CALLER_KEYS`.
//! The key is wrapped in [`CallerKey`] the moment it is read from the header.

use crate::api_error::ApiError;
use crate::config;
use crate::incoming::Headers;
use ims_core::callers::Caller;
use ims_core::CallerKey;
use worker::Env;

/// The key of an `Authorization: Bearer <key>` header, if there is one.
pub fn bearer_key(req: &impl Headers) -> Option<CallerKey> {
    let value = req.header("authorization")?;
    let (scheme, key) = value.trim().split_once(' ')?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty()).then(|| CallerKey::new(key))
}

/// The caller holding `key`, or 401. A missing or unreadable `CALLER_KEYS` is a 500 naming it.
pub fn authenticate(env: &Env, key: Option<CallerKey>) -> Result<Caller, ApiError> {
    let registry = config::callers(env)?;
    key.as_ref()
        .and_then(|k| registry.authenticate(k))
        .cloned()
        .ok_or(ApiError::Unauthenticated)
}
