//! Token issuance shared by `/v1/token` and `/oauth/token`: resolve the credential, check what
//! the caller may ask for, then ask the isolate's [`TokenCache`] and, when it says so, start the
//! one background refresh after the answer (`ctx.wait_until`).

use crate::api_error::ApiError;
use crate::config;
use crate::log::Fields;
use crate::platform::{WorkerPlatform, TOKENS_BINDING};
use crate::routes::Ctx;
use ims_core::cache::TokenSpec;
use ims_core::callers::Caller;
use ims_core::credentials::DEFAULT_CREDENTIAL;
use ims_core::memo::Bounded;
use ims_core::policy::CachedToken;
use ims_core::{ImsError, ScopeError, ScopeSet, TokenCache};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

thread_local! {
    /// The isolate's token cache: memory level, single flights, cooldowns.
    static CACHE: Rc<TokenCache> = Rc::new(TokenCache::new());
    /// The isolate's platform, built by [`platform`] on first use.
    static PLATFORM: std::cell::RefCell<Option<Rc<WorkerPlatform>>> = const { std::cell::RefCell::new(None) };
}

/// A token handed to a caller.
pub struct Grant {
    /// The cached token.
    pub token: Rc<CachedToken>,
    /// The credential it belongs to.
    pub credential: String,
    /// Seconds the caller may still use it.
    pub expires_in_s: u64,
}

/// Issues a token of `credential` (default: `default`) for `scopes` (default: the credential's
/// default scopes) to `caller`. `scopes` arrives parsed but unchecked, so that its error is
/// reported only after the credential checks (404, 403 come first).
pub async fn grant(
    c: &mut Ctx,
    caller: &Caller,
    credential: Option<&str>,
    scopes: Option<Result<ScopeSet, ScopeError>>,
) -> Result<Grant, ApiError> {
    let name = credential.unwrap_or(DEFAULT_CREDENTIAL);
    c.log.credential = Some(name.to_owned());
    let cfg = config::broker(&c.env)?;
    let cred = match cfg.credentials.get(name) {
        None => return Err(ApiError::UnknownCredential(name.to_owned())),
        Some(Err(e)) => return Err(e.clone().into()),
        Some(Ok(cred)) => cred,
    };
    if !caller.may_use(name) {
        return Err(ApiError::CredentialForbidden(format!(
            "caller {} may not use credential {name:?}",
            caller.id
        )));
    }
    let scopes = scopes
        .transpose()
        .map_err(|e| ApiError::InvalidScope(e.to_string()))?
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| cred.default_scopes.clone());
    if let Some(scope) = caller.forbidden_scope(&scopes) {
        return Err(ApiError::ScopeForbidden(format!(
            "caller {} may not request scope {scope:?}",
            caller.id
        )));
    }
    let platform = platform(&c.env)?;
    c.log.scope = Some(scopes.to_comma());
    let cache = cache();
    let settings = cfg.settings;
    let (result, spec) =
        get_with_current_secrets(&c.env, &platform, &cache, &cfg, cred, scopes).await?;
    let served = match result {
        Ok(served) => served,
        Err(failure) => {
            c.log.upstream = failure.upstream;
            return Err(failure.error.into());
        }
    };
    c.log.cache = Some(served.outcome);
    crate::telemetry::hit(&spec.key, served.outcome.as_str());
    if let Some(up) = served.upstream.as_ref().filter(|u| u.secret_index > 0) {
        log_fallback(name, up.secret_index);
    }
    c.log.upstream = served.upstream;
    if served.refresh_due {
        let request_id = c.log.request_id();
        c.ctx.wait_until(async move {
            let outcome = cache.refresh(&*platform, &settings, &spec).await;
            if let Some(up) = outcome
                .as_ref()
                .ok()
                .and_then(Option::as_ref)
                .filter(|u| u.secret_index > 0)
            {
                log_fallback(&spec.credential, up.secret_index);
            }
            let fields = Fields::new()
                .str("request_id", &request_id)
                .str("credential", &spec.credential);
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
                crate::telemetry::upstream(
                    &spec.credential,
                    Some(&spec.scopes.to_comma()),
                    call,
                    error,
                );
            }
        });
    }
    let now = crate::platform::now_ms();
    Ok(Grant {
        expires_in_s: served.token.caller_expires_in_s(now),
        token: served.token,
        credential: name.to_owned(),
    })
}

/// The platform: the `TOKENS` namespace, the store keys and the refresh coordinator. Built on
/// the isolate's first request and kept (bindings are fixed for the life of an isolate; see
/// [`config`]), so the token path makes no binding lookups after that. Shared, not cloned: a
/// clone of its JS handles is a call into JS each.
pub fn platform(env: &worker::Env) -> Result<Rc<WorkerPlatform>, ApiError> {
    if let Some(p) = PLATFORM.with_borrow(Clone::clone) {
        return Ok(p);
    }
    let kv = crate::platform::kv::Kv::from_env(env, TOKENS_BINDING).ok_or_else(|| {
        ims_core::ConfigError::Missing {
            setting: format!("KV binding {TOKENS_BINDING}"),
        }
    })?;
    let coordinator = env.durable_object(crate::refresher::BINDING).ok();
    let p = Rc::new(WorkerPlatform::new(
        kv,
        config::store_keys(env)?,
        coordinator,
    ));
    PLATFORM.set(Some(p.clone()));
    Ok(p)
}

/// Says in the log that the active secret was refused and another known secret worked.
fn log_fallback(credential: &str, index: usize) {
    crate::log::event(
        "secret_fallback",
        Fields::new()
            .str("level", "warn")
            .str("credential", credential)
            .u64("secret_index", index as u64)
            .str(
                "reason",
                "the active secret got invalid_client; another known secret was accepted",
            ),
        None,
    );
}

/// Most specs kept per credential by [`spec_for`]; past it that credential's memo starts again.
const MAX_SPECS: usize = 1024;

/// Specs by credential name (configured ones only) and scope set.
type SpecMemo = HashMap<String, Bounded<ScopeSet, Rc<TokenSpec>>>;

thread_local! {
    /// The specs asked for lately: a spec's cache key is a SHA-256 of its scopes, and a hit
    /// needs no new one.
    static SPECS: RefCell<SpecMemo> = RefCell::new(HashMap::new());
}

/// The spec of `cred` for `scopes` with `secrets`: the one kept from an earlier request while it
/// still says the same, else a new one (kept from then on).
fn spec_for(
    cfg: &crate::config::BrokerConfig,
    cred: &ims_core::credentials::Credential,
    secrets: Vec<ims_core::ClientSecret>,
    scopes: ScopeSet,
) -> Rc<TokenSpec> {
    SPECS.with_borrow_mut(|memo| {
        let kept = memo.get(cred.name.as_str()).and_then(|m| m.get(&scopes));
        if let Some(spec) = kept.filter(|s| {
            s.client_id == cred.client_id && s.token_url == cfg.token_url && s.secrets == secrets
        }) {
            return Rc::clone(spec);
        }
        let spec = Rc::new(TokenSpec::new(
            &cred.name,
            &cred.client_id,
            secrets,
            scopes,
            &cfg.token_url,
        ));
        memo.entry(cred.name.clone())
            .or_insert_with(|| Bounded::new(MAX_SPECS))
            .insert(spec.scopes.clone(), Rc::clone(&spec));
        spec
    })
}

/// The isolate's token cache.
pub fn cache() -> Rc<TokenCache> {
    CACHE.with(Rc::clone)
}

/// Gets a token for `cred` and `scopes` through `cache`. If every secret this isolate knows is
/// refused (`invalid_client` from its own IMS call), another isolate may have rotated since this
/// one read the secrets record: the record is re-read and, if it changed, the get is tried once
/// more. Returns the spec used, for the background refresh.
pub async fn get_with_current_secrets(
    env: &worker::Env,
    platform: &WorkerPlatform,
    cache: &TokenCache,
    cfg: &crate::config::BrokerConfig,
    cred: &ims_core::credentials::Credential,
    scopes: ScopeSet,
) -> Result<
    (
        Result<ims_core::cache::Served, ims_core::cache::Failure>,
        Rc<TokenSpec>,
    ),
    ApiError,
> {
    let secrets = crate::secrets::candidates(env, platform.kv(), platform.keys(), cred).await?;
    let mut spec = spec_for(cfg, cred, secrets, scopes);
    let mut result = cache.get(platform, &cfg.settings, &spec).await;
    if let Err(f) = &result {
        if matches!(f.error, ImsError::InvalidClient { .. }) && f.upstream.is_some() {
            crate::secrets::forget(&cred.name);
            let fresh =
                crate::secrets::candidates(env, platform.kv(), platform.keys(), cred).await?;
            if fresh != spec.secrets {
                Rc::make_mut(&mut spec).secrets = fresh;
                cache.clear_cooldown(&spec.key);
                result = cache.get(platform, &cfg.settings, &spec).await;
            }
        }
    }
    Ok((result, spec))
}
