//! Reads the broker's configuration from Worker vars and secrets.
//!
//! Parsing is done by `ims-core`; this module only fetches the strings by name and wraps secrets
//! in redacting types the moment they are read. `crate::isolate` keeps what parsed for the life
//! of the isolate.

use crate::api_error::ApiError;
use ims_core::callers::CallerRegistry;
use ims_core::credentials::{Credential, Credentials};
use ims_core::envelope::{StoreKey, StoreKeys};
use ims_core::ims::DEFAULT_TOKEN_URL;
use ims_core::io_api::DEFAULT_IO_API_BASE_URL;
use ims_core::retry::RetryPolicy;
use ims_core::{ClientSecret, ConfigError, Settings};
use worker::Env;

/// The parsed configuration.
#[derive(Debug)]
pub struct BrokerConfig {
    /// IMS token endpoint (`IMS_TOKEN_URL`).
    pub token_url: String,
    /// Every credential.
    pub credentials: Credentials,
    /// Timeouts and retries.
    pub settings: Settings,
    /// I/O Management API base URL (`IO_API_BASE_URL`).
    pub io_api_base_url: String,
    /// Wait between promote and retire (`ROTATION_GRACE_S`, default 600 s), ms.
    pub rotation_grace_ms: u64,
    /// How long after a rotation run starts its object's alarm resumes it, should the object
    /// have stopped mid-step (`ROTATION_RESUME_S`, default 60 s), ms.
    pub rotation_resume_ms: u64,
    /// Rotate a secret older than this many days (`ROTATE_AFTER_DAYS`); `None`: never.
    pub rotate_after_days: Option<u64>,
    /// Which requests get a log line of their own (`LOG_REQUESTS`).
    pub log_mode: ims_core::hit_summary::LogMode,
    /// How long one KV call may take before it counts as failed (`KV_TIMEOUT_MS`), ms.
    pub kv_timeout_ms: u64,
    /// Mints of new scope sets one caller may cause per minute in one isolate
    /// (`MAX_NEW_SCOPE_SETS_PER_MIN`, see [`ims_core::budget`]).
    pub new_scope_sets_per_min: u32,
}

impl BrokerConfig {
    /// The credential called `name`: 404 `unknown_credential` when none is configured, 500
    /// `misconfigured` naming the setting when it is configured wrongly. Every route looks a
    /// credential up here.
    pub fn credential(&self, name: &str) -> Result<&Credential, ApiError> {
        match self.credentials.get(name) {
            None => Err(ApiError::UnknownCredential(name.to_owned())),
            Some(Err(e)) => Err(e.clone().into()),
            Some(Ok(cred)) => Ok(cred),
        }
    }
}

/// Default of `KV_TIMEOUT_MS`.
pub const DEFAULT_KV_TIMEOUT_MS: u64 = 2_000;

/// A var's value, if set and not blank.
pub fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .ok()
        .map(|v| v.to_string())
        .filter(|v| !v.trim().is_empty())
}

fn number(raw: Option<String>, name: &str, default: u64) -> Result<u64, ConfigError> {
    match raw {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| ConfigError::Invalid {
            setting: name.into(),
            reason: "not a whole number".into(),
        }),
    }
}

/// The configuration from the vars `get` reads by name.
fn parse(get: impl Fn(&str) -> Option<String>) -> Result<BrokerConfig, ConfigError> {
    let credentials = Credentials::from_vars(&get)?;
    let defaults = Settings::default();
    let settings = Settings {
        timeout_ms: number(get("IMS_TIMEOUT_MS"), "IMS_TIMEOUT_MS", defaults.timeout_ms)?,
        retry: RetryPolicy {
            max_retry_wait_ms: number(get("MAX_RETRY_WAIT_S"), "MAX_RETRY_WAIT_S", 5)? * 1000,
            ..defaults.retry
        },
        ..defaults
    };
    let rotate_after_days = match get("ROTATE_AFTER_DAYS").as_deref().map(str::trim) {
        None | Some("off" | "0") => None,
        Some(_) => Some(number(get("ROTATE_AFTER_DAYS"), "ROTATE_AFTER_DAYS", 0)?),
    };
    let token_url = get("IMS_TOKEN_URL").unwrap_or_else(|| DEFAULT_TOKEN_URL.to_owned());
    ims_core::upstream_url::check("IMS_TOKEN_URL", &token_url)?;
    let io_api_base_url =
        get("IO_API_BASE_URL").unwrap_or_else(|| DEFAULT_IO_API_BASE_URL.to_owned());
    ims_core::upstream_url::check("IO_API_BASE_URL", &io_api_base_url)?;
    let per_min = number(
        get("MAX_NEW_SCOPE_SETS_PER_MIN"),
        "MAX_NEW_SCOPE_SETS_PER_MIN",
        ims_core::budget::DEFAULT_PER_MIN.into(),
    )?;
    Ok(BrokerConfig {
        token_url: token_url.trim().to_owned(),
        credentials,
        settings,
        io_api_base_url: io_api_base_url.trim().to_owned(),
        rotation_grace_ms: number(get("ROTATION_GRACE_S"), "ROTATION_GRACE_S", 600)? * 1000,
        rotation_resume_ms: number(get("ROTATION_RESUME_S"), "ROTATION_RESUME_S", 60)?.max(1)
            * 1000,
        rotate_after_days,
        log_mode: ims_core::hit_summary::LogMode::parse(get("LOG_REQUESTS").as_deref())?,
        kv_timeout_ms: number(get("KV_TIMEOUT_MS"), "KV_TIMEOUT_MS", DEFAULT_KV_TIMEOUT_MS)?,
        new_scope_sets_per_min: u32::try_from(per_min).map_err(|_| ConfigError::Invalid {
            setting: "MAX_NEW_SCOPE_SETS_PER_MIN".into(),
            reason: "too large".into(),
        })?,
    })
}

/// The broker configuration from the Worker's vars (kept per isolate by `crate::isolate`).
pub fn broker(env: &Env) -> Result<BrokerConfig, ConfigError> {
    parse(|name| var(env, name))
}

/// The caller registry from the `CALLER_KEYS` secret (which holds digests, not keys).
pub fn callers(env: &Env) -> Result<CallerRegistry, ConfigError> {
    let issuers = ims_core::workload_identity::parse_trusted_issuers(
        &var(env, ims_core::workload_identity::SETTING).unwrap_or_default(),
    )?;
    CallerRegistry::from_json(&secret_text(env, "CALLER_KEYS"), issuers)
}

/// A credential's client secret, wrapped at once. Missing → the secret's name.
pub fn client_secret(env: &Env, credential: &Credential) -> Result<ClientSecret, ConfigError> {
    let binding = &credential.secret_binding;
    env.secret(binding)
        .ok()
        .map(|s| ClientSecret::new(s.to_string()))
        .filter(|s| !s.secret().is_empty())
        .ok_or_else(|| ConfigError::Missing {
            setting: binding.clone(),
        })
}

fn secret_text(env: &Env, name: &str) -> String {
    env.secret(name).map(|s| s.to_string()).unwrap_or_default()
}

/// The store keys: `STORE_KEY` seals; it and `STORE_KEY_PREVIOUS` (comma-separated, optional)
/// open. Missing or malformed keys are errors naming the setting.
pub fn store_keys(env: &Env) -> Result<StoreKeys, ConfigError> {
    read_store_keys(
        &secret_text(env, "STORE_KEY"),
        &secret_text(env, "STORE_KEY_PREVIOUS"),
    )
}

fn read_store_keys(current: &str, previous: &str) -> Result<StoreKeys, ConfigError> {
    if current.trim().is_empty() {
        return Err(ConfigError::Missing {
            setting: "STORE_KEY".into(),
        });
    }
    let bad = |e: ims_core::envelope::EnvelopeError, setting: &str| ConfigError::Invalid {
        setting: setting.into(),
        reason: e.to_string(),
    };
    let current = StoreKey::from_base64("STORE_KEY", current).map_err(|e| bad(e, "STORE_KEY"))?;
    let previous = previous
        .split(',')
        .filter(|k| !k.trim().is_empty())
        .map(|k| {
            StoreKey::from_base64("STORE_KEY_PREVIOUS", k).map_err(|e| bad(e, "STORE_KEY_PREVIOUS"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(StoreKeys::new(current, previous))
}
