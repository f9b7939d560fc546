//! The client secrets the broker can read for each credential: the bootstrap Worker secret and
//! the rotated ones sealed in KV (`state:<credential>`, one [`CredentialState`] record).
//!
//! The record is read through a short per-isolate memo (a KV read per token miss would be
//! wasteful); a rotation in this isolate updates the memo at once, other isolates see it within
//! [`MEMO_MS`], and meanwhile still hold a secret Adobe accepts (the previous one lives on for the
//! grace period, and `invalid_client` falls back to the next known secret).

use crate::api_error::ApiError;
use crate::config;
use crate::platform::kv::Kv;
use ims_core::credentials::Credential;
use ims_core::envelope::StoreKeys;
use ims_core::rotation::{CredentialState, Slot, Source};
use ims_core::{ClientSecret, ConfigError};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use worker::Env;

/// How long an isolate trusts its copy of a credential's record, ms.
pub const MEMO_MS: u64 = 30_000;

/// A record and the secrets opened from it.
type Opened = (Rc<CredentialState>, Vec<ClientSecret>);

thread_local! {
    static MEMO: RefCell<HashMap<String, (u64, Rc<CredentialState>)>> = RefCell::new(HashMap::new());
    /// [`known`]'s answer for the record in [`MEMO`] (same `Rc`), so a cache hit opens no
    /// envelope.
    static OPENED: RefCell<HashMap<String, Opened>> = RefCell::new(HashMap::new());
}

/// The KV key of a credential's record.
pub fn state_key(credential: &str) -> String {
    format!("state:{credential}")
}

/// The KV key under which a slot's value is sealed (the envelope's associated data).
pub fn slot_aad(credential: &str, uuid: &str) -> String {
    format!("secret:{credential}:{uuid}")
}

/// Reads a credential's record (a default one if none is stored), bypassing the memo.
pub async fn load(kv: &Kv, credential: &str) -> Result<CredentialState, ApiError> {
    let text = kv
        .get(&state_key(credential))
        .await
        .map_err(|e| ApiError::Storage(format!("reading {credential}'s secrets: {e}")))?;
    match text {
        None => Ok(CredentialState::default()),
        Some(t) => CredentialState::from_json(&t).ok_or_else(|| {
            ApiError::Storage(format!("{credential}'s secrets record is unreadable"))
        }),
    }
}

/// Writes a credential's record and refreshes this isolate's memo.
pub async fn save(kv: &Kv, credential: &str, state: &CredentialState) -> Result<(), ApiError> {
    kv.put(&state_key(credential), &state.to_json(), None)
        .await
        .map_err(|e| ApiError::Storage(format!("writing {credential}'s secrets: {e}")))?;
    remember(credential, state.clone());
    Ok(())
}

fn remember(credential: &str, state: CredentialState) {
    let now = crate::platform::now_ms();
    MEMO.with_borrow_mut(|m| m.insert(credential.to_owned(), (now, Rc::new(state))));
}

/// The record, from the memo when it is recent.
pub async fn current(kv: &Kv, credential: &str) -> Result<Rc<CredentialState>, ApiError> {
    let now = crate::platform::now_ms();
    let hit = MEMO.with_borrow(|m| {
        m.get(credential)
            .filter(|(at, _)| now.saturating_sub(*at) < MEMO_MS)
            .map(|(_, s)| s.clone())
    });
    if let Some(state) = hit {
        return Ok(state);
    }
    let state = load(kv, credential).await?;
    remember(credential, state);
    Ok(MEMO.with_borrow(|m| m[credential].1.clone()))
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
                .map_err(|e| {
                    ApiError::Misconfigured(ConfigError::Invalid {
                        setting: "STORE_KEY".into(),
                        reason: format!("the stored secret {uuid} cannot be opened: {e}"),
                    })
                })?;
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
                    crate::log::Fields::new()
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

/// [`known`] for the current record (through the memo; opened once per record).
pub async fn candidates(
    env: &Env,
    kv: &Kv,
    keys: &StoreKeys,
    cred: &Credential,
) -> Result<Vec<ClientSecret>, ApiError> {
    let state = current(kv, &cred.name).await?;
    if let Some(hit) = OPENED.with_borrow(|o| {
        o.get(&cred.name)
            .filter(|(s, _)| Rc::ptr_eq(s, &state))
            .map(|(_, v)| v.clone())
    }) {
        return Ok(hit);
    }
    let secrets = known(env, keys, cred, &state)?;
    OPENED.with_borrow_mut(|o| o.insert(cred.name.clone(), (state, secrets.clone())));
    Ok(secrets)
}

/// Drops this isolate's copy of a credential's record, so the next read comes from KV.
pub fn forget(credential: &str) {
    MEMO.with_borrow_mut(|m| m.remove(credential));
}
