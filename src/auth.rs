//! Caller authentication: finds what the caller presented and checks it.
//!
//! - A caller key (`Authorization: Bearer <key>`, or the secret of `/oauth/token`) is wrapped in
//!   [`CallerKey`] the moment it is read, and only its SHA-256 digest is compared
//!   (`ims_core::callers`): no plain key is kept.
//! - An identity token (a JWT in `Authorization: Bearer`, told from a key by its shape, or in
//!   `Cf-Access-Jwt-Assertion`, or a `client_assertion`) is wrapped in [`IdentityToken`] and
//!   checked by [`crate::identity`].

use crate::api_error::ApiError;
use crate::context::Ctx;
use crate::identity;
use crate::request::{Request, Sensitive};
use ims_core::callers::Caller;
use ims_core::{CallerKey, IdentityToken};
use std::rc::Rc;

/// What a caller presented to prove who it is.
#[derive(Debug)]
pub enum Presented {
    /// A caller key.
    Key(CallerKey),
    /// An identity token.
    Token(IdentityToken),
}

/// What `Authorization: Bearer <value>` presents, else what `Cf-Access-Jwt-Assertion` does
/// (`Authorization` wins when both are sent: a caller behind Access may still use its key).
pub fn presented(
    authorization: Option<&Sensitive>,
    access_assertion: Option<&Sensitive>,
) -> Option<Presented> {
    let bearer = authorization.and_then(|value| {
        let (scheme, value) = value.expose().trim().split_once(' ')?;
        let value = value.trim();
        (scheme.eq_ignore_ascii_case("bearer") && !value.is_empty()).then_some(value)
    });
    if let Some(value) = bearer {
        return Some(if IdentityToken::looks_like_jwt(value) {
            Presented::Token(IdentityToken::new(value))
        } else {
            Presented::Key(CallerKey::new(value))
        });
    }
    let assertion = access_assertion?.expose().trim();
    (!assertion.is_empty()).then(|| Presented::Token(IdentityToken::new(assertion)))
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

/// The caller of whatever was presented (see [`presented`]), or 401.
pub async fn authenticate_presented(
    c: &mut Ctx,
    presented: Option<Presented>,
) -> Result<Rc<Caller>, ApiError> {
    match presented {
        Some(Presented::Token(token)) => identity::authenticate(c, &token, None).await,
        Some(Presented::Key(key)) => authenticate(c, Some(key), None),
        None => authenticate(c, None, None),
    }
}

/// The caller of `req`, from its `Authorization` or `Cf-Access-Jwt-Assertion` (see
/// [`presented`]), or 401.
pub async fn caller_of(c: &mut Ctx, req: &Request) -> Result<Rc<Caller>, ApiError> {
    let presented = presented(req.authorization.as_ref(), req.access_assertion.as_ref());
    authenticate_presented(c, presented).await
}

/// The caller of `req` to an endpoint operators read: an admin or a viewer, else 403.
pub async fn operator_reader(c: &mut Ctx, req: &Request) -> Result<Rc<Caller>, ApiError> {
    let caller = caller_of(c, req).await?;
    if !caller.may_read_operations() {
        return Err(ApiError::OperatorsOnly);
    }
    Ok(caller)
}
