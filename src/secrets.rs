//! The client secrets the broker can read for each credential: the bootstrap Worker secret and
//! the rotated ones, kept in one record per credential in KV (`state:<credential>`, a
//! [`CredentialState`] sealed as a whole with `STORE_KEY`, see [`ims_core::record`]).
//!
//! - Reading: a record that does not open (altered, moved, renumbered, or sealed with a key that
//!   is not configured), or one older than a version this isolate already read or wrote (an old
//!   record put back), is an error naming `STORE_KEY`, never a silent reset. A record written
//!   before records were sealed is read once and written back sealed (logged
//!   `secrets_record_upgraded`). A record, or a secret in it, sealed under a key of
//!   `STORE_KEY_PREVIOUS` is written back under `STORE_KEY` (logged `store_key_resealed`).
//! - Minting reads the record through a short per-isolate memo ([`MEMO_MS`]); a rotation in this
//!   isolate updates the memo at once, other isolates see it within [`MEMO_MS`], and meanwhile
//!   still hold a secret Adobe accepts (the previous one lives on for the grace period, and
//!   `invalid_client` falls back to the next known secret). When KV cannot be read, the last
//!   record this isolate read is used (logged `secrets_record_stale`) rather than failing.

use crate::api_error::ApiError;
use crate::config;
use crate::isolate::Isolate;
use crate::log::Fields;
use crate::runtime::WorkerPlatform;
use ims_core::credentials::Credential;
use ims_core::envelope::StoreKeys;
use ims_core::record::{self, RecordError, Stored};
use ims_core::rotation::{CredentialState, Slot, Source};
use ims_core::{ClientSecret, ConfigError};
use std::rc::Rc;
use worker::Env;

/// How long an isolate trusts its copy of a credential's record for minting, ms.
pub const MEMO_MS: u64 = 30_000;

/// The KV key of a credential's record.
pub fn state_key(credential: &str) -> String {
    format!("state:{credential}")
}

use ims_core::record::slot_aad;

/// Reads a credential's record from KV (a default one if none is stored), bypassing the memo,
/// and refreshes the memo. Upgrades a record from before sealing, and re-seals one sealed under
/// a previous store key.
pub async fn load(
    platform: &WorkerPlatform,
    credential: &str,
) -> Result<CredentialState, ApiError> {
    let key = state_key(credential);
    let text =
        platform.kv().get(&key).await.map_err(|e| {
            ApiError::Storage(format!("reading {credential}'s secrets record: {e}"))
        })?;
    let Some(text) = text else {
        let state = CredentialState::default();
        remember(credential, state.clone());
        return Ok(state);
    };
    let stored = record::open(platform.keys(), &key, &text)
        .and_then(|stored| {
            let isolate = Isolate::current();
            let accepted = isolate.versions.borrow_mut().accept(&key, &stored);
            accepted.map(|()| stored)
        })
        .map_err(|e| rejected(credential, &e))?;
    let mut state = stored.state().clone();
    let resealed_slots = platform.keys().has_previous()
        && record::reseal_secrets(
            platform.keys(),
            credential,
            &mut state,
            crate::random::bytes,
        )
        .map_err(|(uuid, e)| unopenable(&uuid, &e))?;
    let why = match &stored {
        Stored::Legacy(_) => Some("secrets_record_upgraded"),
        Stored::Sealed {
            stale_key: true, ..
        } => Some("store_key_resealed"),
        Stored::Sealed { .. } if resealed_slots => Some("store_key_resealed"),
        Stored::Sealed { .. } => None,
    };
    match why {
        // Written back at once; if that fails the record is still usable, and the next read
        // tries again.
        Some(what) => match save(platform, credential, &state).await {
            Ok(()) => crate::log::event(
                what,
                Fields::new()
                    .str("credential", credential)
                    .str("kind", "secrets_record"),
                None,
            ),
            Err(e) => {
                crate::log::event(
                    "secrets_record_write_failed",
                    Fields::new()
                        .str("level", "warn")
                        .str("credential", credential)
                        .str("error", &e.to_string()),
                    None,
                );
                remember(credential, state.clone());
            }
        },
        None => remember(credential, state.clone()),
    }
    Ok(state)
}

/// The error for a record that cannot be used: names `STORE_KEY`, logged with the reason.
fn rejected(credential: &str, e: &RecordError) -> ApiError {
    crate::log::event(
        "secrets_record_rejected",
        Fields::new()
            .str("level", "error")
            .str("credential", credential)
            .str("error", &e.to_string()),
        None,
    );
    ApiError::Misconfigured(ConfigError::Invalid {
        setting: "STORE_KEY".into(),
        reason: format!("the secrets record of credential {credential:?} was refused: {e}"),
    })
}

fn unopenable(uuid: &str, e: &impl std::fmt::Display) -> ApiError {
    ApiError::Misconfigured(ConfigError::Invalid {
        setting: "STORE_KEY".into(),
        reason: format!("the stored secret {uuid} cannot be opened: {e}"),
    })
}

/// Writes a credential's record, sealed as the next version, and refreshes this isolate's memo.
pub async fn save(
    platform: &WorkerPlatform,
    credential: &str,
    state: &CredentialState,
) -> Result<(), ApiError> {
    let key = state_key(credential);
    let isolate = Isolate::current();
    let version = isolate.versions.borrow().next(&key);
    let text = record::seal(
        platform.keys(),
        &key,
        state,
        version,
        crate::random::bytes(),
    );
    platform
        .kv()
        .put(&key, &text, None)
        .await
        .map_err(|e| ApiError::Storage(format!("writing {credential}'s secrets record: {e}")))?;
    isolate.versions.borrow_mut().wrote(&key, version);
    remember(credential, state.clone());
    Ok(())
}

fn remember(credential: &str, state: CredentialState) {
    let now = crate::platform::now_ms();
    Isolate::current()
        .records
        .borrow_mut()
        .insert(credential.to_owned(), (now, Rc::new(state)));
}

/// The record, from the memo when it is recent; when KV cannot be read, the last one this
/// isolate read (logged `secrets_record_stale`).
pub async fn current(
    platform: &WorkerPlatform,
    credential: &str,
) -> Result<Rc<CredentialState>, ApiError> {
    let now = crate::platform::now_ms();
    let isolate = Isolate::current();
    let kept = isolate.records.borrow().get(credential).cloned();
    if let Some((at, state)) = &kept {
        if now.saturating_sub(*at) < MEMO_MS {
            return Ok(Rc::clone(state));
        }
    }
    match load(platform, credential).await {
        Ok(state) => Ok(isolate
            .records
            .borrow()
            .get(credential)
            .map_or_else(|| Rc::new(state), |(_, kept)| Rc::clone(kept))),
        Err(ApiError::Storage(error)) => {
            let (at, state) = kept.ok_or(ApiError::Storage(error.clone()))?;
            crate::log::event(
                "secrets_record_stale",
                Fields::new()
                    .str("level", "warn")
                    .str("credential", credential)
                    .u64("age_s", now.saturating_sub(at) / 1000)
                    .str("error", &error),
                None,
            );
            Ok(state)
        }
        Err(e) => Err(e),
    }
}

/// The plaintext of a slot: the Worker secret for the bootstrap slot, else the sealed value.
pub fn open_slot(
    env: &Env,
    keys: &StoreKeys,
    cred: &Credential,
    slot: &Slot,
) -> Result<ClientSecret, ApiError> {
    match slot.source {
        Source::Bootstrap => Ok(config::client_secret(env, cred)?),
        Source::Stored => {
            let uuid = slot.uuid.as_deref().unwrap_or_default();
            let sealed = slot.sealed.as_deref().unwrap_or_default();
            let opened = keys
                .open(&slot_aad(&cred.name, uuid), sealed)
                .map_err(|e| unopenable(uuid, &e))?;
            String::from_utf8(opened.plaintext)
                .map(ClientSecret::new)
                .map_err(|_| ApiError::Storage("a stored secret is not text".into()))
        }
    }
}

/// Seals a new secret's plaintext for its slot.
pub fn seal(keys: &StoreKeys, credential: &str, uuid: &str, secret: &ClientSecret) -> String {
    keys.seal(
        &slot_aad(credential, uuid),
        secret.secret().as_bytes(),
        crate::random::bytes(),
    )
}

/// Every secret the broker can read for `cred` in `state`: active first, then pending,
/// previous and the bootstrap Worker secret (duplicates dropped). A stored secret that cannot be
/// opened is an error naming `STORE_KEY` (a wrong key must not silently fall back to an older
/// secret); a missing bootstrap secret is an error only when nothing else is known.
pub fn known(
    env: &Env,
    keys: &StoreKeys,
    cred: &Credential,
    state: &CredentialState,
) -> Result<Vec<ClientSecret>, ApiError> {
    let bootstrap = Slot::bootstrap();
    let slots = [
        Some(&state.active),
        state.pending.as_ref(),
        state.previous.as_ref(),
        Some(&bootstrap),
    ];
    let mut out: Vec<ClientSecret> = Vec::new();
    let mut missing_bootstrap = None;
    for slot in slots.into_iter().flatten() {
        match open_slot(env, keys, cred, slot) {
            Ok(s) if !out.contains(&s) => out.push(s),
            Ok(_) => {}
            Err(e) if slot.source == Source::Bootstrap => {
                missing_bootstrap.get_or_insert(e);
            }
            Err(e) => {
                crate::log::event(
                    "secret_unreadable",
                    Fields::new()
                        .str("level", "error")
                        .str("credential", &cred.name)
                        .opt_str("uuid", slot.uuid.as_deref())
                        .str("error", &e.to_string()),
                    None,
                );
                return Err(e);
            }
        }
    }
    match (out.is_empty(), missing_bootstrap) {
        (true, Some(e)) => Err(e),
        _ => Ok(out),
    }
}

/// [`known`] for the current record (through the memo).
pub async fn candidates(
    env: &Env,
    platform: &WorkerPlatform,
    cred: &Credential,
) -> Result<Vec<ClientSecret>, ApiError> {
    let state = current(platform, &cred.name).await?;
    known(env, platform.keys(), cred, &state)
}

/// Marks this isolate's copy of a credential's record as old, so that the next mint reads KV
/// (and still has it, should KV fail).
pub fn forget(credential: &str) {
    if let Some((at, _)) = Isolate::current().records.borrow_mut().get_mut(credential) {
        *at = 0;
    }
}
