//! The Cron Trigger: keeps tokens warm and secrets rotated without any caller waiting.
//!
//! For every usable credential:
//! - **pre-warm**: its default-scope token is fetched through the cache; if it is past 23/24 of
//!   its usable life (or missing), it is refreshed now, so callers never wait on IMS;
//! - **rotation**: an unfinished rotation is resumed (this is how a retire step runs once its
//!   grace period has passed); with `ROTATE_AFTER_DAYS` set, a rotation starts when the active
//!   secret is older than that.
//!
//! And, while `STORE_KEY_PREVIOUS` is set, a pass over everything sealed in KV (token entries and
//! secrets records) that seals again under `STORE_KEY` what a previous key sealed, and says in a
//! `store_key_sweep` line (and event) how many entries still need the previous key: at 0 it can
//! be dropped.

use crate::config::BrokerConfig;
use crate::isolate::Isolate;
use crate::log::Fields;
use crate::management::Management;
use crate::rotation;
use crate::runtime::WorkerPlatform;
use crate::secrets;
use ims_core::cache::TokenSpec;
use ims_core::credentials::Credential;
use ims_core::TokenCache;
use std::rc::Rc;
use worker::Env;

const DAY_MS: u64 = 86_400_000;

/// Runs the scheduled work for every credential; failures are logged, never thrown.
pub async fn run(env: &Env) {
    let isolate = Isolate::current();
    let cfg = match isolate.config(env) {
        Ok(cfg) => cfg,
        Err(e) => return log_error("config", &e.to_string()),
    };
    let platform = match WorkerPlatform::of(&isolate, env) {
        Ok(p) => p,
        Err(e) => return log_error("config", &e.to_string()),
    };
    let cache = Rc::clone(&isolate.cache);
    for cred in cfg.credentials.usable() {
        prewarm(env, &platform, &cfg, &cache, cred).await;
        rotate_if_due(env, &platform, &cfg, &cache, cred).await;
    }
    if platform.keys().has_previous() {
        store_key_sweep(&platform).await;
    }
}

/// Most token entries one sweep looks at (KV allows 1000 operations per invocation).
const SWEEP_TOKENS: u32 = 400;

/// What the sweep found of one KV entry.
#[derive(PartialEq, Eq)]
enum Swept {
    /// Needs no previous key (or will never be read again: an unusable token entry expires).
    Current,
    /// Was sealed again under `STORE_KEY` now.
    Resealed,
    /// Still needs a previous key (the write failed, or the record is refused).
    Remaining,
}

/// Seals again under `STORE_KEY` every token entry and secrets record that a key of
/// `STORE_KEY_PREVIOUS` sealed, and logs how many still need a previous key.
async fn store_key_sweep(platform: &WorkerPlatform) {
    let mut swept = Vec::new();
    let kv = platform.kv();
    match kv
        .list(ims_core::cache_key::TOKEN_KEY_PREFIX, SWEEP_TOKENS)
        .await
    {
        Ok(keys) => {
            for key in keys {
                swept.push(sweep_token(platform, &key).await);
            }
        }
        Err(_) => swept.push(Swept::Remaining),
    }
    match kv.list("state:", 100).await {
        Ok(keys) => {
            for key in keys {
                swept.push(sweep_record(platform, &key).await);
            }
        }
        Err(_) => swept.push(Swept::Remaining),
    }
    let count = |what: Swept| swept.iter().filter(|s| **s == what).count() as u64;
    let (resealed, remaining) = (count(Swept::Resealed), count(Swept::Remaining));
    crate::log::event(
        "store_key_sweep",
        Fields::new()
            .u64("checked", swept.len() as u64)
            .u64("resealed", resealed)
            .u64("remaining", remaining)
            .bool("complete", remaining == 0),
        None,
    );
    crate::telemetry::store_key(&format!(
        "sweep: {resealed} sealed again under STORE_KEY, {remaining} still need STORE_KEY_PREVIOUS"
    ));
}

/// One token entry: reading it through the platform seals it again when it is still usable.
async fn sweep_token(platform: &WorkerPlatform, key: &str) -> Swept {
    let current = platform.keys().current_id();
    let under_previous = |raw: &Option<String>| {
        raw.as_deref()
            .and_then(ims_core::envelope::key_id)
            .is_some_and(|id| id != current)
    };
    if !under_previous(&platform.kv().get(key).await.ok().flatten()) {
        return Swept::Current;
    }
    let usable = ims_core::platform::TokenStore::get(platform, key)
        .await
        .and_then(|t| ims_core::policy::CachedToken::from_stored(&t))
        .is_some_and(|t| {
            t.freshness(crate::platform::now_ms()) != ims_core::policy::Freshness::Unusable
        });
    if !usable {
        return Swept::Current;
    }
    match platform.kv().get(key).await {
        Ok(raw) if !under_previous(&raw) => Swept::Resealed,
        _ => Swept::Remaining,
    }
}

/// One secrets record: loading it seals it (and its secrets) again.
async fn sweep_record(platform: &WorkerPlatform, key: &str) -> Swept {
    let needs = |raw: &Option<String>| {
        raw.as_deref()
            .is_some_and(|text| ims_core::record::needs_previous_key(platform.keys(), key, text))
    };
    if !needs(&platform.kv().get(key).await.ok().flatten()) {
        return Swept::Current;
    }
    let _ = secrets::load(platform, key.trim_start_matches("state:")).await;
    match platform.kv().get(key).await {
        Ok(raw) if !needs(&raw) => Swept::Resealed,
        _ => Swept::Remaining,
    }
}

fn log_error(credential: &str, error: &str) {
    crate::log::event(
        "scheduled_error",
        Fields::new()
            .str("level", "error")
            .str("credential", credential)
            .str("error", error),
        None,
    );
}

async fn prewarm(
    env: &Env,
    platform: &WorkerPlatform,
    cfg: &BrokerConfig,
    cache: &TokenCache,
    cred: &Credential,
) {
    let secrets = match secrets::candidates(env, platform, cred).await {
        Ok(s) => s,
        Err(e) => return log_error(&cred.name, &e.to_string()),
    };
    let spec = TokenSpec::new(
        &cred.name,
        &cred.client_id,
        secrets,
        cred.default_scopes.clone(),
        &cfg.token_url,
    );
    let outcome = match cache.get(platform, &cfg.settings, &spec).await {
        Ok(served) if served.refresh_due => cache
            .refresh(platform, &cfg.settings, &spec)
            .await
            .map(|up| ("refreshed", up)),
        Ok(served) => Ok((served.outcome.as_str(), served.upstream)),
        Err(f) => Err(f),
    };
    match outcome {
        Ok((what, upstream)) => crate::log::event(
            "prewarm",
            Fields::new()
                .str("credential", &cred.name)
                .str("outcome", what),
            upstream.as_ref(),
        ),
        Err(f) => crate::log::event(
            "prewarm",
            Fields::new()
                .str("level", "error")
                .str("credential", &cred.name)
                .str("outcome", "failed")
                .str("error", f.error.code()),
            f.upstream.as_ref(),
        ),
    }
}

/// The active secret's age in ms, from Adobe's creation time.
async fn active_age(
    env: &Env,
    platform: &WorkerPlatform,
    cfg: &BrokerConfig,
    cache: &TokenCache,
    cred: &Credential,
) -> Option<u64> {
    let state = secrets::load(platform, &cred.name).await.ok()?;
    let created = match state.active.created_at_ms {
        Some(c) => c,
        None => {
            let known = secrets::open_slot(env, platform.keys(), cred, &state.active).ok()?;
            let mgmt = Management::new(platform, cfg, cache, cred, vec![known]).ok()?;
            let adobe = mgmt.list().await.ok()?;
            let uuid = state
                .active
                .uuid
                .clone()
                .or_else(|| match adobe.as_slice() {
                    [only] => Some(only.uuid.clone()),
                    _ => None,
                })?;
            adobe.iter().find(|s| s.uuid == uuid)?.created_at_ms
        }
    };
    Some(crate::platform::now_ms().saturating_sub(created))
}

async fn rotate_if_due(
    env: &Env,
    platform: &WorkerPlatform,
    cfg: &BrokerConfig,
    cache: &TokenCache,
    cred: &Credential,
) {
    if cred.org_id.is_none() || cred.credential_id.is_none() {
        return;
    }
    let rotating = match secrets::load(platform, &cred.name).await {
        Ok(state) => state.rotating(),
        Err(e) => return log_error(&cred.name, &e.to_string()),
    };
    let start = match cfg.rotate_after_days {
        Some(days) if !rotating => active_age(env, platform, cfg, cache, cred)
            .await
            .is_some_and(|age| age > days * DAY_MS),
        _ => false,
    };
    if !rotating && !start {
        return;
    }
    match rotation::run(env, platform, cfg, cache, cred, start).await {
        Ok(outcome) => crate::log::event(
            "scheduled_rotation",
            Fields::new()
                .str("credential", &cred.name)
                .bool("started", start)
                .bool("busy", outcome.busy)
                .opt_str(
                    "step",
                    outcome.state.rotation.as_ref().map(|r| r.step.as_str()),
                ),
            None,
        ),
        Err(e) => log_error(&cred.name, &e.to_string()),
    }
}
