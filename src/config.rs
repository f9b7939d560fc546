//! Reads the broker's configuration from Worker vars and secrets.
//!
//! Parsing is done by `ims-core`; this module only fetches the strings, wraps secrets in
//! redacting types the moment they are read, and memoises parsed results per isolate (keyed by
//! the raw strings, so a changed setting is picked up without a stale copy).

use ims_core::callers::CallerRegistry;
use ims_core::credentials::{Credential, Credentials};
use ims_core::envelope::{StoreKey, StoreKeys};
use ims_core::ims::DEFAULT_TOKEN_URL;
use ims_core::io_api::DEFAULT_IO_API_BASE_URL;
use ims_core::retry::RetryPolicy;
use ims_core::{ClientSecret, ConfigError, Settings};
use std::cell::RefCell;
use std::rc::Rc;
use worker::Env;

/// Vars that shape the broker (besides caller keys and client secrets).
const VARS: [&str; 11] = [
    "CLIENT_ID",
    "SCOPES",
    "CREDENTIALS",
    "IMS_TOKEN_URL",
    "IMS_TIMEOUT_MS",
    "MAX_RETRY_WAIT_S",
    "ORG_ID",
    "CREDENTIAL_ID",
    "IO_API_BASE_URL",
    "ROTATION_GRACE_S",
    "ROTATE_AFTER_DAYS",
];

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
    /// Rotate a secret older than this many days (`ROTATE_AFTER_DAYS`); `None`: never.
    pub rotate_after_days: Option<u64>,
}

/// A parsed value and the raw input it was parsed from.
type Memo<K, V> = RefCell<Option<(K, Rc<V>)>>;

thread_local! {
    static CONFIG: Memo<Vec<Option<String>>, BrokerConfig> = const { RefCell::new(None) };
    static CALLERS: Memo<String, CallerRegistry> = const { RefCell::new(None) };
    static KEYS: Memo<(String, String), StoreKeys> = const { RefCell::new(None) };
}

/// A var's value, if set and not blank.
pub fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .ok()
        .map(|v| v.to_string())
        .filter(|v| !v.trim().is_empty())
}

fn number(raw: Option<&String>, name: &str, default: u64) -> Result<u64, ConfigError> {
    match raw {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| ConfigError::Invalid {
            setting: name.into(),
            reason: "not a whole number".into(),
        }),
    }
}

fn parse(raw: &[Option<String>]) -> Result<BrokerConfig, ConfigError> {
    let get = |name: &str| {
        VARS.iter()
            .position(|v| *v == name)
            .and_then(|i| raw[i].clone())
    };
    let credentials = Credentials::from_vars(get)?;
    let defaults = Settings::default();
    let settings = Settings {
        timeout_ms: number(raw[4].as_ref(), "IMS_TIMEOUT_MS", defaults.timeout_ms)?,
        retry: RetryPolicy {
            max_retry_wait_ms: number(raw[5].as_ref(), "MAX_RETRY_WAIT_S", 5)? * 1000,
            ..defaults.retry
        },
        ..defaults
    };
    let rotate_after_days = match raw[10].as_deref().map(str::trim) {
        None | Some("off" | "0") => None,
        Some(_) => Some(number(raw[10].as_ref(), "ROTATE_AFTER_DAYS", 0)?),
    };
    Ok(BrokerConfig {
        token_url: raw[3]
            .clone()
            .unwrap_or_else(|| DEFAULT_TOKEN_URL.to_owned()),
        credentials,
        settings,
        io_api_base_url: raw[8]
            .clone()
            .unwrap_or_else(|| DEFAULT_IO_API_BASE_URL.to_owned()),
        rotation_grace_ms: number(raw[9].as_ref(), "ROTATION_GRACE_S", 600)? * 1000,
        rotate_after_days,
    })
}

/// The broker configuration, parsed once per isolate and set of values.
pub fn broker(env: &Env) -> Result<Rc<BrokerConfig>, ConfigError> {
    let raw: Vec<Option<String>> = VARS.iter().map(|name| var(env, name)).collect();
    if let Some(hit) = CONFIG.with_borrow(|c| {
        c.as_ref()
            .filter(|(k, _)| *k == raw)
            .map(|(_, v)| v.clone())
    }) {
        return Ok(hit);
    }
    let parsed = Rc::new(parse(&raw)?);
    CONFIG.set(Some((raw, parsed.clone())));
    Ok(parsed)
}

/// The caller registry from the `CALLER_KEYS` secret (which holds digests, not keys).
pub fn callers(env: &Env) -> Result<Rc<CallerRegistry>, ConfigError> {
    let raw = env
        .secret("CALLER_KEYS")
        .map(|s| s.to_string())
        .unwrap_or_default();
    if let Some(hit) = CALLERS.with_borrow(|c| {
        c.as_ref()
            .filter(|(k, _)| *k == raw)
            .map(|(_, v)| v.clone())
    }) {
        return Ok(hit);
    }
    let parsed = Rc::new(CallerRegistry::from_json(&raw)?);
    CALLERS.set(Some((raw, parsed.clone())));
    Ok(parsed)
}

/// A credential's client secret, wrapped at once. Missing → the secret's name.
pub fn client_secret(env: &Env, credential: &Credential) -> Result<ClientSecret, ConfigError> {
    env.secret(&credential.secret_binding)
        .ok()
        .map(|s| ClientSecret::new(s.to_string()))
        .filter(|s| !s.secret().is_empty())
        .ok_or_else(|| ConfigError::Missing {
            setting: credential.secret_binding.clone(),
        })
}

fn secret_text(env: &Env, name: &str) -> String {
    env.secret(name).map(|s| s.to_string()).unwrap_or_default()
}

/// The store keys: `STORE_KEY` seals; it and `STORE_KEY_PREVIOUS` (comma-separated, optional)
/// open. Missing or malformed keys are errors naming the setting.
pub fn store_keys(env: &Env) -> Result<Rc<StoreKeys>, ConfigError> {
    let raw = (
        secret_text(env, "STORE_KEY"),
        secret_text(env, "STORE_KEY_PREVIOUS"),
    );
    if let Some(hit) = KEYS.with_borrow(|c| {
        c.as_ref()
            .filter(|(k, _)| *k == raw)
            .map(|(_, v)| v.clone())
    }) {
        return Ok(hit);
    }
    if raw.0.trim().is_empty() {
        return Err(ConfigError::Missing {
            setting: "STORE_KEY".into(),
        });
    }
    let bad = |e: ims_core::envelope::EnvelopeError, setting: &str| ConfigError::Invalid {
        setting: setting.into(),
        reason: e.to_string(),
    };
    let current = StoreKey::from_base64("STORE_KEY", &raw.0).map_err(|e| bad(e, "STORE_KEY"))?;
    let previous = raw
        .1
        .split(',')
        .filter(|k| !k.trim().is_empty())
        .map(|k| {
            StoreKey::from_base64("STORE_KEY_PREVIOUS", k).map_err(|e| bad(e, "STORE_KEY_PREVIOUS"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let keys = Rc::new(StoreKeys::new(current, previous));
    KEYS.set(Some((raw, keys.clone())));
    Ok(keys)
}
