//! The Cron Trigger: keeps tokens warm without any caller waiting.
//!
//! For every usable credential:
//! - **pre-warm**: its default-scope token is fetched through the cache; if it is past 23/24 of
//!   its usable life (or missing), it is refreshed now, so callers never wait on IMS;
//! - **wake its object**: the credential's Durable Object reads its record (importing it from
//!   KV after an upgrade, sealing it again under `STORE_KEY` when a previous key sealed it) and
//!   sets its alarm if it needs one. Rotations themselves run on the object's alarms, not here.
//!
//! And, while `STORE_KEY_PREVIOUS` is set, a pass over the token entries in KV that seals again
//! under `STORE_KEY` what a previous key sealed, and says in a `store_key_sweep` line (and
//! event) how many entries (token entries, and records whose object could not be woken) still
//! need the previous key: at 0 it can be dropped.

use crate::config::BrokerConfig;
use crate::credential_client::CredentialObjects;
use crate::isolate::Isolate;
use crate::log::Fields;
use crate::runtime::WorkerPlatform;
use crate::secrets;
use ims_core::cache::TokenSpec;
use ims_core::credentials::Credential;
use ims_core::TokenCache;
use std::rc::Rc;
use worker::Env;

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
    let objects = CredentialObjects::of(env);
    let cache = Rc::clone(&isolate.cache);
    let mut records = Vec::new();
    for cred in cfg.credentials.usable() {
        prewarm(env, &isolate, &platform, &cfg, &cache, cred).await;
        records.push(wake(objects.as_ref(), cred).await);
    }
    if platform.keys().has_previous() {
        store_key_sweep(&platform, records).await;
    }
}

/// Wakes the credential's object (see the module's doc).
async fn wake(objects: Option<&CredentialObjects>, cred: &Credential) -> Swept {
    let Some(objects) = objects else {
        return Swept::Current;
    };
    match objects.record(&cred.name).await {
        Ok(_) => Swept::Current,
        Err(e) => {
            log_error(&cred.name, &e.to_string());
            Swept::Remaining
        }
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

/// Seals again under `STORE_KEY` every token entry that a key of `STORE_KEY_PREVIOUS` sealed,
/// and logs how many entries (these, and `records`: the objects woken) still need a previous key.
async fn store_key_sweep(platform: &WorkerPlatform, records: Vec<Swept>) {
    let mut swept = records;
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
    crate::telemetry::store_key(
        platform.isolate(),
        &format!(
        "sweep: {resealed} sealed again under STORE_KEY, {remaining} still need STORE_KEY_PREVIOUS"
    ),
    );
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
    isolate: &Isolate,
    platform: &WorkerPlatform,
    cfg: &BrokerConfig,
    cache: &TokenCache,
    cred: &Credential,
) {
    let secrets = secrets::learnt(isolate, env, platform.keys(), cred);
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
