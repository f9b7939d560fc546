//! Caller authentication: finds the presented key and checks it against `CALLER_KEYS`.
//! The key is wrapped in [`CallerKey`] the moment it is read from the header, and only its
//! SHA-256 digest is compared (`ims_core::callers`): no plain key is kept.

use crate::api_error::ApiError;
use crate::context::Ctx;
use crate::request::Sensitive;
use ims_core::callers::Caller;
use ims_core::CallerKey;
use std::rc::Rc;

/// The key of an `Authorization: Bearer <key>` header, if there is one.
pub fn bearer_key(authorization: Option<&Sensitive>) -> Option<CallerKey> {
    let value = authorization?.expose();
    let (scheme, key) = value.trim().split_once(' ')?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty()).then(|| CallerKey::new(key))
}

/// The caller holding `key`, or 401; remembered in the request's context and log line. With
/// `id`, a caller with another id is refused too (`client_id` of `/oauth/token`). A missing or
/// unreadable `CALLER_KEYS` is a 500 naming it.
pub fn authenticate(
    c: &mut Ctx,
    key: Option<CallerKey>,
    id: Option<&str>,
) -> Result<Rc<Caller>, ApiError> {
    let registry = c.isolate.callers(&c.env)?;
    let key = key.ok_or(ApiError::Unauthenticated)?;
    let caller = registry
        .authenticate(&key)
        .filter(|caller| id.is_none_or(|id| caller.id == id))
        .ok_or(ApiError::Unauthenticated)?;
    c.log.caller = Some(caller.id.clone());
    c.caller = Some(Rc::clone(&caller));
    Ok(caller)
}
