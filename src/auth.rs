//! Caller authentication: finds the presented key and checks it against `CALLER_KEYS`.
//! The key is wrapped in [`CallerKey`] the moment it is read from the header.

use crate::api_error::ApiError;
use crate::config;
use crate::incoming::Headers;
use ims_core::callers::{Caller, CallerRegistry, KnownKeys};
use ims_core::CallerKey;
use std::cell::RefCell;
use std::rc::Rc;
use worker::Env;

/// The key of an `Authorization: Bearer <key>` header, if there is one.
pub fn bearer_key(req: &impl Headers) -> Option<CallerKey> {
    let value = req.header("authorization")?;
    let (scheme, key) = value.trim().split_once(' ')?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty()).then(|| CallerKey::new(key))
}

thread_local! {
    /// The keys this isolate has seen accepted, for the registry that accepted them.
    static KNOWN: RefCell<(Option<Rc<CallerRegistry>>, KnownKeys)> =
        RefCell::new((None, KnownKeys::default()));
}

/// The caller holding `key`, or 401. A missing or unreadable `CALLER_KEYS` is a 500 naming it.
pub fn authenticate(env: &Env, key: Option<CallerKey>) -> Result<Rc<Caller>, ApiError> {
    let registry = config::callers(env)?;
    let key = key.ok_or(ApiError::Unauthenticated)?;
    KNOWN.with_borrow_mut(|(of, known)| {
        if !of.as_ref().is_some_and(|r| Rc::ptr_eq(r, &registry)) {
            *of = Some(Rc::clone(&registry));
            *known = KnownKeys::default();
        }
        known
            .authenticate(&registry, &key)
            .ok_or(ApiError::Unauthenticated)
    })
}
