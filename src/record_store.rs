//! A credential's secrets record ([`CredentialState`]) in its Durable Object's storage: the one
//! copy every isolate learns the credential's secrets from.
//!
//! Storage schema (the object's transactional key-value storage, SQLite-backed):
//! - `record`: the record as JSON ([`CredentialState::to_json`]); stored secrets inside it stay
//!   sealed with `STORE_KEY` (slot by slot, [`ims_core::record::slot_aad`]), so a copy of the
//!   storage alone yields no secret;
//! - `credential`: the credential's name, so that an alarm (which carries no request) knows
//!   which credential it runs for.
//!
//! Every write is one `put` of the whole record: a step's effect and its record are committed
//! together, and only the object writes, so there is no version to compare.
//!
//! Upgrade from the KV design: an object with no `record` imports `state:<credential>` from KV
//! (sealed as a whole, or the plain JSON of older versions, or sealed under a key of
//! `STORE_KEY_PREVIOUS`), stores it, and only then deletes `state:<credential>` and the old
//! rotation lease `lease:<credential>` from KV (logged `secrets_record_imported`). A KV record
//! that does not open is not imported and not deleted: the object answers an error naming
//! `STORE_KEY` until the key is fixed. A KV read that fails imports nothing either (the record
//! may exist): the object answers a storage error and tries again on the next request.

use crate::api_error::ApiError;
use crate::log::Fields;
use crate::platform::kv::Kv;
use ims_core::envelope::StoreKeys;
use ims_core::record::{self, RecordError};
use ims_core::rotation::CredentialState;
use ims_core::ConfigError;
use worker::Storage;

/// Storage key of the record.
const RECORD: &str = "record";
/// Storage key of the credential's name.
const NAME: &str = "credential";

/// The KV key under which versions before the credential object kept a credential's record.
pub fn kv_record_key(credential: &str) -> String {
    format!("state:{credential}")
}

/// The KV key of the rotation lease those versions kept.
fn kv_lease_key(credential: &str) -> String {
    format!("lease:{credential}")
}

/// The credential's name, as stored by [`remember_name`].
pub async fn name(storage: &Storage) -> Result<Option<String>, ApiError> {
    storage
        .get::<String>(NAME)
        .await
        .map_err(|e| storage_error("reading the credential's name", &e))
}

/// Stores the credential's name (once: it never changes for an object).
pub async fn remember_name(storage: &Storage, credential: &str) -> Result<(), ApiError> {
    storage
        .put(NAME, credential)
        .await
        .map_err(|e| storage_error("storing the credential's name", &e))
}

/// Reads the record from storage; on the object's first access, imports it from KV. Secrets
/// sealed under a previous store key are sealed again under `STORE_KEY` and the record saved.
pub async fn load(
    storage: &Storage,
    kv: &Kv,
    keys: &StoreKeys,
    credential: &str,
) -> Result<CredentialState, ApiError> {
    let stored = storage
        .get::<String>(RECORD)
        .await
        .map_err(|e| storage_error("reading the secrets record", &e))?;
    let mut state = match stored {
        Some(text) => CredentialState::from_json(&text).ok_or_else(|| {
            ApiError::Storage(format!(
                "the stored secrets record of {credential:?} cannot be read"
            ))
        })?,
        None => return import(storage, kv, keys, credential).await,
    };
    if keys.has_previous() && reseal(keys, credential, &mut state)? {
        save(storage, &state).await?;
        crate::log::event(
            "store_key_resealed",
            Fields::new()
                .str("credential", credential)
                .str("kind", "secrets_record"),
            None,
        );
    }
    Ok(state)
}

/// Writes the record (one `put`: atomic).
pub async fn save(storage: &Storage, state: &CredentialState) -> Result<(), ApiError> {
    storage
        .put(RECORD, state.to_json())
        .await
        .map_err(|e| storage_error("writing the secrets record", &e))
}

/// Seals again under `STORE_KEY` the secrets a previous key sealed; `true` when one was.
fn reseal(
    keys: &StoreKeys,
    credential: &str,
    state: &mut CredentialState,
) -> Result<bool, ApiError> {
    record::reseal_secrets(keys, credential, state, crate::random::bytes)
        .map_err(|(uuid, e)| crate::secrets::unopenable(&uuid, &e))
}

/// The first access: takes over the record the KV design left, if any.
async fn import(
    storage: &Storage,
    kv: &Kv,
    keys: &StoreKeys,
    credential: &str,
) -> Result<CredentialState, ApiError> {
    let key = kv_record_key(credential);
    let text = kv.get(&key).await.map_err(|e| {
        ApiError::Storage(format!(
            "reading {credential}'s secrets record from KV to import it: {e}"
        ))
    })?;
    let Some(text) = text else {
        let state = CredentialState::default();
        save(storage, &state).await?;
        return Ok(state);
    };
    let stored = record::open(keys, &key, &text).map_err(|e| rejected(credential, &e))?;
    let mut state = stored.state().clone();
    reseal(keys, credential, &mut state)?;
    save(storage, &state).await?;
    // Only once the object holds it: a failed delete leaves a copy nobody reads any more.
    let deleted =
        kv.delete(&key).await.is_ok() && kv.delete(&kv_lease_key(credential)).await.is_ok();
    crate::log::event(
        "secrets_record_imported",
        Fields::new()
            .str("credential", credential)
            .bool("kv_copy_deleted", deleted)
            .bool("rotating", state.rotating()),
        None,
    );
    Ok(state)
}

/// The error for a KV record that cannot be imported: names `STORE_KEY`, logged with the reason.
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

fn storage_error(what: &str, e: &worker::Error) -> ApiError {
    ApiError::Storage(format!("{what}: {e}"))
}
