//! The client secrets the broker can read for each credential: the bootstrap Worker secret and
//! the rotated ones, sealed with `STORE_KEY` in the credential's record. The record lives in the
//! credential's Durable Object (`crate::credential_object`, storage in `crate::record_store`);
//! an isolate learns it only from the object's answers and keeps the last one it learnt
//! ([`learn`], [`learnt`]) for one purpose: minting when the object cannot be reached.

use crate::api_error::ApiError;
use crate::config;
use crate::isolate::Isolate;
use crate::log::Fields;
use ims_core::credentials::Credential;
use ims_core::envelope::StoreKeys;
use ims_core::record::slot_aad;
use ims_core::rotation::{CredentialState, Slot, SlotRole, Source};
use ims_core::{ClientSecret, ConfigError};
use std::rc::Rc;
use worker::Env;

/// Keeps the record the credential's object answered with, as this isolate's last learnt copy.
pub fn learn(isolate: &Isolate, credential: &str, state: CredentialState) {
    let now = crate::platform::now_ms();
    isolate
        .records
        .borrow_mut()
        .insert(credential.to_owned(), (now, Rc::new(state)));
}

/// The secrets of the record this isolate last learnt from the credential's object, active
/// first; empty when it learnt none (or they cannot be opened, which is logged).
pub fn learnt(
    isolate: &Isolate,
    env: &Env,
    keys: &StoreKeys,
    cred: &Credential,
) -> Vec<ClientSecret> {
    let kept = isolate.records.borrow().get(&cred.name).cloned();
    let Some((_, state)) = kept else {
        return Vec::new();
    };
    known(env, keys, cred, &state).unwrap_or_default()
}

/// The error for a stored secret that does not open: names `STORE_KEY` (a wrong key must never
/// fall back silently to an older secret).
pub fn unopenable(uuid: &str, e: &impl std::fmt::Display) -> ApiError {
    ApiError::Misconfigured(ConfigError::Invalid {
        setting: "STORE_KEY".into(),
        reason: format!("the stored secret {uuid} cannot be opened: {e}"),
    })
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

/// Every secret the broker can read for `cred` in `state`, in the order it tries them
/// ([`CredentialState::mint_order`]: active, pending, previous, the bootstrap Worker secret, a
/// secret IMS refused last), duplicates dropped. A stored secret that cannot be opened is an
/// error naming `STORE_KEY` (a wrong key must not silently fall back to an older secret); a
/// missing bootstrap secret is an error only when nothing else is known.
pub fn known(
    env: &Env,
    keys: &StoreKeys,
    cred: &Credential,
    state: &CredentialState,
) -> Result<Vec<ClientSecret>, ApiError> {
    Ok(known_slots(env, keys, cred, state)?
        .into_iter()
        .map(|(_, secret)| secret)
        .collect())
}

/// [`known`], each secret with the slot it comes from.
pub fn known_slots(
    env: &Env,
    keys: &StoreKeys,
    cred: &Credential,
    state: &CredentialState,
) -> Result<Vec<(SlotRole, ClientSecret)>, ApiError> {
    let mut out: Vec<(SlotRole, ClientSecret)> = Vec::new();
    let mut missing_bootstrap = None;
    for (role, slot) in state.mint_order() {
        match open_slot(env, keys, cred, &slot) {
            Ok(s) if !out.iter().any(|(_, known)| *known == s) => out.push((role, s)),
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

/// Says in the log that the active secret was refused and another known secret worked.
pub fn log_fallback(credential: &str, index: usize) {
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
