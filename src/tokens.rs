//! Token issuance shared by `/v1/token` and `/oauth/token`: resolve the credential, check what
//! the caller may ask for, then ask the isolate's [`TokenCache`] and, when it says so, start the
//! one background refresh after the answer (`ctx.wait_until`).

use crate::api_error::ApiError;
use crate::config::BrokerConfig;
use crate::context::Ctx;
use crate::isolate::Isolate;
use crate::log::Fields;
use crate::runtime::WorkerPlatform;
use crate::secrets::log_fallback;
use ims_core::cache::{Served, TokenSpec};
use ims_core::callers::Caller;
use ims_core::credentials::{Credential, DEFAULT_CREDENTIAL};
use ims_core::policy::CachedToken;
use ims_core::refused::RefusedToken;
use ims_core::{ScopeError, ScopeSet};
use std::rc::Rc;

/// A token handed to a caller.
pub struct Grant {
    /// The cached token.
    pub token: Rc<CachedToken>,
    /// The credential it belongs to.
    pub credential: String,
    /// That credential's client id: Adobe APIs want it as `x-api-key` next to the token.
    pub client_id: String,
    /// Seconds the caller may still use it.
    pub expires_in_s: u64,
}

/// Issues a token of `credential` (default: `default`) for `scopes` (default: the credential's
/// configured scopes) to `caller`. `scopes` arrives parsed but unchecked, so that its error is
/// reported only after the credential checks (403, 404 come first).
///
/// Every check (role, credential, scope ceiling, the caller's scopes, its budget of new scope
/// sets) runs before any KV, Durable Object or IMS call. A token in this isolate's memory is
/// served with nothing else read: no KV, and no client secret (a KV outage cannot stop a hit).
/// Only a mint reads the credential's secrets record.
pub async fn grant(
    c: &mut Ctx,
    caller: &Caller,
    credential: Option<&str>,
    scopes: Option<Result<ScopeSet, ScopeError>>,
    refused: Option<&RefusedToken>,
) -> Result<Grant, ApiError> {
    if !caller.may_mint() {
        return Err(ApiError::ReadOnlyCaller);
    }
    let name = credential.unwrap_or(DEFAULT_CREDENTIAL);
    c.log.credential = Some(name.to_owned());
    // Before the credential is looked up: a caller that may not use a name learns nothing about
    // whether it exists.
    if !caller.may_use(name) {
        return Err(ApiError::CredentialForbidden(format!(
            "caller {} may not use credential {name:?}",
            caller.id
        )));
    }
    let cfg = c.isolate.config(&c.env)?;
    let cred = cfg.credential(name)?;
    let client_id = cred.client_id.clone();
    let scopes = scopes
        .transpose()
        .map_err(|e| ApiError::InvalidScope(e.to_string()))?
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| cred.default_scopes.clone());
    if let Some(refusal) = cred.refused_scope(&scopes) {
        return Err(ApiError::ScopeForbidden(refusal.to_string()));
    }
    if let Some(scope) = caller.forbidden_scope(&scopes) {
        return Err(ApiError::ScopeForbidden(format!(
            "caller {} may not request scope {scope:?}",
            caller.id
        )));
    }
    c.log.scope = Some(scopes.to_comma());
    let key = c
        .isolate
        .cache_keys
        .borrow_mut()
        .key(&cred.name, &cred.client_id, &scopes);
    let cache = Rc::clone(&c.isolate.cache);
    let now = crate::platform::now_ms();
    let served = match cache.from_memory(&key, now) {
        Some(served) if !replaces(c, refused, &served.token, &key, now) => served,
        Some(_) => {
            cache.forget(&key);
            let refused = refused.map(|r| (r, true));
            not_in_memory(c, caller, &cfg, cred, &key, &scopes, refused, now).await?
        }
        None => {
            let refused = refused.map(|r| (r, false));
            not_in_memory(c, caller, &cfg, cred, &key, &scopes, refused, now).await?
        }
    };
    c.log.cache = Some(served.outcome);
    crate::telemetry::hit(&c.isolate, &key, served.outcome.as_str());
    c.log.upstream = served.upstream;
    if served.refresh_due {
        let request_id = c.log.request_id();
        let env = c.env.clone();
        let isolate = Rc::clone(&c.isolate);
        let cred = cred.clone();
        c.ctx.wait_until(async move {
            background_refresh(&env, &isolate, &cfg, &cred, scopes, &request_id).await;
        });
    }
    let now = crate::platform::now_ms();
    Ok(Grant {
        expires_in_s: served.token.caller_expires_in_s(now),
        token: served.token,
        credential: name.to_owned(),
        client_id,
    })
}

/// True when `token` is the one a caller reported `refused` and this isolate may replace the
/// token of `key` now (at most once a minute per key: `ims_core::refused`).
fn replaces(
    c: &Ctx,
    refused: Option<&RefusedToken>,
    token: &CachedToken,
    key: &str,
    now: u64,
) -> bool {
    refused.is_some_and(|r| r.is(token)) && c.isolate.replacements.borrow_mut().allow(key, now)
}

/// A token for `key` that this isolate does not hold in memory (or holds only as the token a
/// caller reported refused, when `refused` says it is being replaced): the caller's budget of
/// new scope sets is checked first (before KV), then KV, then a mint, which alone reads the
/// secrets record and spends the budget.
#[allow(clippy::too_many_arguments)]
async fn not_in_memory(
    c: &mut Ctx,
    caller: &Caller,
    cfg: &BrokerConfig,
    cred: &Credential,
    key: &str,
    scopes: &ScopeSet,
    refused: Option<(&RefusedToken, bool)>,
    now: u64,
) -> Result<Served, ApiError> {
    let per_min = cfg.new_scope_sets_per_min;
    c.isolate
        .budget
        .borrow_mut()
        .check(&caller.id, key, per_min, now)
        .map_err(ApiError::TooManyNewScopeSets)?;
    let platform = WorkerPlatform::of(&c.isolate, &c.env)?;
    let cache = &c.isolate.cache;
    if let Some(served) = cache.from_store(&platform, key).await {
        let replacing = match refused {
            Some((r, true)) => r.is(&served.token),
            Some((r, false)) => replaces(c, Some(r), &served.token, key, now),
            None => false,
        };
        if !replacing {
            return Ok(served);
        }
        // KV holds the refused token too: not served, and not kept in memory.
        cache.forget(key);
    }
    c.isolate.budget.borrow_mut().spend(&caller.id, key, now);
    let secrets = crate::secrets::learnt(&c.isolate, &c.env, platform.keys(), cred);
    let spec = TokenSpec::new(
        &cred.name,
        &cred.client_id,
        secrets,
        scopes.clone(),
        &cfg.token_url,
    )
    .with_refused(refused.map(|(r, _)| r.clone()));
    match cache.mint_for(&platform, &cfg.settings, &spec).await {
        Ok(served) => {
            let upstream = served.upstream.as_ref();
            if let Some(up) = upstream.filter(|u| u.secret_index > 0 && platform.minted_here()) {
                log_fallback(&cred.name, up.secret_index);
            }
            Ok(served)
        }
        Err(failure) => {
            if let Some(refusal) = platform.take_refusal() {
                return Err(refusal);
            }
            c.log.upstream = failure.upstream;
            Err(failure.error.into())
        }
    }
}

/// The one background refresh a stale hit claimed: reads the secrets (a hit did not), refreshes,
/// and logs what happened.
async fn background_refresh(
    env: &worker::Env,
    isolate: &Rc<Isolate>,
    cfg: &BrokerConfig,
    cred: &Credential,
    scopes: ScopeSet,
    request_id: &str,
) {
    let fields = Fields::new()
        .str("request_id", request_id)
        .str("credential", &cred.name);
    let cache = &isolate.cache;
    let platform = match WorkerPlatform::of(isolate, env) {
        Ok(p) => p,
        Err(e) => {
            let fields = fields
                .bool("ok", false)
                .str("error", ApiError::from(e).code());
            return crate::log::event("background_refresh", fields, None);
        }
    };
    let secrets = crate::secrets::learnt(isolate, env, platform.keys(), cred);
    let spec = TokenSpec::new(&cred.name, &cred.client_id, secrets, scopes, &cfg.token_url);
    let outcome = cache.refresh(&platform, &cfg.settings, &spec).await;
    if let Some(up) = outcome
        .as_ref()
        .ok()
        .and_then(Option::as_ref)
        .filter(|u| u.secret_index > 0 && platform.minted_here())
    {
        log_fallback(&spec.credential, up.secret_index);
    }
    let (fields, upstream) = match &outcome {
        Ok(up) => (
            fields
                .bool("ok", true)
                .bool("adopted_from_kv", up.is_none()),
            up.as_ref(),
        ),
        Err(f) => (
            fields.bool("ok", false).str("error", f.error.code()),
            f.upstream.as_ref(),
        ),
    };
    crate::log::event("background_refresh", fields, upstream);
    if let Some(call) = upstream {
        let error = outcome.as_ref().err().map(|f| f.error.code());
        let scope = spec.scopes.to_comma();
        crate::telemetry::upstream(isolate, &spec.credential, Some(&scope), call, error);
    }
}
