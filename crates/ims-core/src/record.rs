//! A credential's secrets record ([`CredentialState`]) in the two forms it was kept in KV before
//! each credential's record moved into its own Durable Object, read once when the object imports
//! it (so nothing is lost on upgrade), and the sealing of each stored secret ([`slot_aad`],
//! [`reseal_secrets`]), which the record keeps wherever it lives.
//!
//! Sealed as a whole: `{"version":7,"envelope":"v1.<key id>.<nonce>.<ciphertext>"}`. The envelope
//! ([`crate::envelope`]) holds the record's JSON; its associated data is the KV key (`state:…`)
//! and the version, so an envelope moved to another credential, or given another version number,
//! fails authentication. Records written before sealing (the record's plain JSON) are read as
//! [`Stored::Legacy`].

use crate::envelope::{EnvelopeError, StoreKeys, NONCE_LEN};
use crate::rotation::{CredentialState, Slot};
use serde::{Deserialize, Serialize};

/// The stored form of a sealed record.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sealed {
    version: u64,
    envelope: String,
}

/// Why a stored record cannot be used. Never quotes the record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Neither a sealed record nor a record of the format before sealing.
    #[error("the stored record is not a secrets record")]
    Unreadable,
    /// The envelope does not open with the store keys: altered, moved from another key or
    /// version, or sealed with a key that is not configured.
    #[error("STORE_KEY cannot open the stored record: {0}")]
    Envelope(EnvelopeError),
    /// The envelope opened but does not hold a record.
    #[error("the sealed record holds no valid secrets record")]
    BadContent,
}

/// A record as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// A sealed record.
    Sealed {
        /// The record.
        state: CredentialState,
        /// Its version.
        version: u64,
        /// True when a previous store key sealed it: write it again under the current one.
        stale_key: bool,
    },
    /// A record written before sealing: re-write it sealed.
    Legacy(CredentialState),
}

impl Stored {
    /// The record.
    pub fn state(&self) -> &CredentialState {
        match self {
            Self::Sealed { state, .. } | Self::Legacy(state) => state,
        }
    }
}

/// The associated data a stored secret's value is sealed under: its slot in the record of
/// `credential`, so an envelope copied to another credential or uuid does not open.
pub fn slot_aad(credential: &str, uuid: &str) -> String {
    format!("secret:{credential}:{uuid}")
}

/// The stored (sealed) slots of `state`: active, pending, previous.
fn stored_slots(state: &mut CredentialState) -> impl Iterator<Item = &mut Slot> {
    [
        Some(&mut state.active),
        state.pending.as_mut(),
        state.previous.as_mut(),
    ]
    .into_iter()
    .flatten()
    .filter(|slot| slot.uuid.is_some() && slot.sealed.is_some())
}

/// Seals again under the current store key every stored secret of `state` (the record of
/// `credential`) that a previous key sealed, each with a nonce from `nonce`. `Ok(true)` when one
/// was; `Err`: the uuid of a secret that does not open, and why.
pub fn reseal_secrets(
    keys: &StoreKeys,
    credential: &str,
    state: &mut CredentialState,
    mut nonce: impl FnMut() -> [u8; NONCE_LEN],
) -> Result<bool, (String, EnvelopeError)> {
    let mut changed = false;
    for slot in stored_slots(state) {
        let uuid = slot.uuid.clone().unwrap_or_default();
        let aad = slot_aad(credential, &uuid);
        let sealed = slot.sealed.as_deref().unwrap_or_default();
        let opened = keys.open(&aad, sealed).map_err(|e| (uuid, e))?;
        if opened.stale_key {
            slot.sealed = Some(keys.seal(&aad, &opened.plaintext, nonce()));
            changed = true;
        }
    }
    Ok(changed)
}

fn aad(store_key: &str, version: u64) -> String {
    format!("{store_key}\u{0}{version}")
}

/// Seals `state` as version `version` of the record stored under `store_key`, as earlier versions
/// wrote it (the tests' way of making one).
#[cfg(test)]
pub fn seal(
    keys: &StoreKeys,
    store_key: &str,
    state: &CredentialState,
    version: u64,
    nonce: [u8; NONCE_LEN],
) -> String {
    let envelope = keys.seal(&aad(store_key, version), state.to_json().as_bytes(), nonce);
    serde_json::to_string(&Sealed { version, envelope }).unwrap_or_default()
}

/// Reads the record stored under `store_key`: sealed, or in the format before sealing.
pub fn open(keys: &StoreKeys, store_key: &str, text: &str) -> Result<Stored, RecordError> {
    match serde_json::from_str::<Sealed>(text) {
        Ok(sealed) => {
            let opened = keys
                .open(&aad(store_key, sealed.version), &sealed.envelope)
                .map_err(RecordError::Envelope)?;
            let json = String::from_utf8(opened.plaintext).map_err(|_| RecordError::BadContent)?;
            let state = CredentialState::from_json(&json).ok_or(RecordError::BadContent)?;
            Ok(Stored::Sealed {
                state,
                version: sealed.version,
                stale_key: opened.stale_key,
            })
        }
        Err(_) => CredentialState::from_json(text)
            .map(Stored::Legacy)
            .ok_or(RecordError::Unreadable),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::StoreKey;
    use crate::rotation::{Slot, Source};

    fn keys(b: u8) -> StoreKeys {
        StoreKeys::new(StoreKey::from_bytes(&[b; 32]), vec![])
    }

    fn record() -> CredentialState {
        CredentialState {
            active: Slot {
                uuid: Some("u-1".into()),
                source: Source::Stored,
                sealed: Some("v1.x.y.z".into()),
                created_at_ms: Some(1),
                verified_at_ms: None,
                refused_at_ms: None,
            },
            ..CredentialState::default()
        }
    }

    #[test]
    fn a_sealed_record_reads_back_and_shows_nothing_in_clear() {
        let k = keys(1);
        let text = seal(&k, "state:default", &record(), 3, [5; 12]);
        assert!(!text.contains("u-1"), "{text}");
        let stored = open(&k, "state:default", &text).unwrap();
        assert_eq!(
            stored,
            Stored::Sealed {
                state: record(),
                version: 3,
                stale_key: false
            }
        );
    }

    #[test]
    fn tampered_swapped_renumbered_and_foreign_records_are_refused() {
        let k = keys(1);
        let text = seal(&k, "state:default", &record(), 3, [5; 12]);
        // Swapped: another credential's key.
        assert!(matches!(
            open(&k, "state:other", &text),
            Err(RecordError::Envelope(EnvelopeError::Corrupt))
        ));
        // Renumbered: the version is part of the associated data.
        let renumbered = text.replace("\"version\":3", "\"version\":9");
        assert!(matches!(
            open(&k, "state:default", &renumbered),
            Err(RecordError::Envelope(EnvelopeError::Corrupt))
        ));
        // Tampered ciphertext.
        let mut sealed: Sealed = serde_json::from_str(&text).unwrap();
        let last = sealed.envelope.pop().unwrap();
        sealed.envelope.push(if last == 'A' { 'B' } else { 'A' });
        let tampered = serde_json::to_string(&sealed).unwrap();
        assert!(open(&k, "state:default", &tampered).is_err());
        // Another store key.
        let e = open(&keys(2), "state:default", &text).unwrap_err();
        assert!(e.to_string().starts_with("STORE_KEY cannot open"), "{e}");
        // Not a record at all.
        assert_eq!(
            open(&k, "state:default", "[1]"),
            Err(RecordError::Unreadable)
        );
    }

    #[test]
    fn records_from_before_sealing_are_read_as_legacy() {
        let plain = record().to_json();
        let stored = open(&keys(1), "state:default", &plain).unwrap();
        assert_eq!(stored, Stored::Legacy(record()));
    }

    #[test]
    fn a_previous_store_key_opens_and_asks_for_a_new_seal() {
        let old = keys(1);
        let text = seal(&old, "state:default", &record(), 2, [5; 12]);
        let rotated = StoreKeys::new(
            StoreKey::from_bytes(&[2; 32]),
            vec![StoreKey::from_bytes(&[1; 32])],
        );
        assert!(matches!(
            open(&rotated, "state:default", &text),
            Ok(Stored::Sealed {
                stale_key: true,
                version: 2,
                ..
            })
        ));
    }

    #[test]
    fn secrets_under_a_previous_key_are_sealed_again_and_then_need_it_no_more() {
        let old = StoreKey::from_bytes(&[1; 32]);
        let old_keys = StoreKeys::new(old.clone(), vec![]);
        let mut state = record();
        state.active.sealed = Some(old_keys.seal(&slot_aad("default", "u-1"), b"p8e-x", [3; 12]));
        let text = seal(&old_keys, "state:default", &state, 1, [4; 12]);
        let rotated = StoreKeys::new(StoreKey::from_bytes(&[2; 32]), vec![old]);
        assert!(matches!(
            open(&rotated, "state:default", &text),
            Ok(Stored::Sealed {
                stale_key: true,
                ..
            })
        ));
        assert_eq!(
            reseal_secrets(&rotated, "default", &mut state, || [5; 12]),
            Ok(true)
        );
        let opened = rotated
            .open(
                &slot_aad("default", "u-1"),
                state.active.sealed.as_deref().unwrap(),
            )
            .unwrap();
        assert_eq!(
            (opened.plaintext.as_slice(), opened.stale_key),
            (&b"p8e-x"[..], false)
        );
        assert_eq!(
            reseal_secrets(&rotated, "default", &mut state, || [6; 12]),
            Ok(false)
        );
        // A secret that does not open is named.
        let mut moved = state.clone();
        moved.active.uuid = Some("u-2".into());
        assert_eq!(
            reseal_secrets(&rotated, "default", &mut moved, || [8; 12]),
            Err(("u-2".into(), EnvelopeError::Corrupt))
        );
    }
}
