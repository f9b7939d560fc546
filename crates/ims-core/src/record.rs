//! A credential's secrets record ([`CredentialState`]) as it is stored: sealed as a whole with the
//! store key, so that write access to the store alone can neither forge a record (which could make
//! the broker retire the secret it uses) nor replay an old one unnoticed.
//!
//! Stored text: `{"version":7,"envelope":"v1.<key id>.<nonce>.<ciphertext>"}`. The envelope
//! ([`crate::envelope`]) holds the record's JSON; its associated data is the store key (`state:…`)
//! and the version, so an envelope moved to another credential, or given another version number,
//! fails authentication. Every write raises the version by one; [`Versions`] keeps the highest
//! version an instance has read or written per record, and a lower one is refused as a replay.
//!
//! Records written before sealing (the record's plain JSON) are still read, as
//! [`Stored::Legacy`], so that nothing is lost on upgrade; the reader re-writes them sealed at once.
//! [`Versions`] refuses a plain record once the instance has seen a sealed one for that key.

use crate::envelope::{self, EnvelopeError, StoreKeys, NONCE_LEN};
use crate::rotation::{CredentialState, Slot};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

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
    /// A version lower than one this instance already read or wrote: an old record put back.
    #[error("the stored record is version {found}, older than version {seen} already read: an old record was put back")]
    Replayed {
        /// The version found.
        found: u64,
        /// The highest version seen.
        seen: u64,
    },
    /// A record in the format before sealing, where a sealed one was seen before.
    #[error("the stored record is not sealed, but a sealed one was read before: it was replaced")]
    Unsealed,
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

    /// The version the next write of this record gets.
    pub fn next_version(&self) -> u64 {
        match self {
            Self::Sealed { version, .. } => version + 1,
            Self::Legacy(_) => 1,
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

/// True when the record stored under `store_key` as `text` still needs a key other than the
/// current one: sealed under a previous key, holding a secret sealed under one, written before
/// sealing, or not opening at all.
pub fn needs_previous_key(keys: &StoreKeys, store_key: &str, text: &str) -> bool {
    match open(keys, store_key, text) {
        Ok(Stored::Sealed {
            stale_key: false,
            mut state,
            ..
        }) => stored_slots(&mut state).any(|slot| {
            envelope::key_id(slot.sealed.as_deref().unwrap_or_default()) != Some(keys.current_id())
        }),
        _ => true,
    }
}

fn aad(store_key: &str, version: u64) -> String {
    format!("{store_key}\u{0}{version}")
}

/// Seals `state` as version `version` of the record stored under `store_key`.
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

/// The highest record version an instance has read or written, per store key: what makes a
/// replayed record visible.
#[derive(Debug, Default)]
pub struct Versions(HashMap<String, u64>);

impl Versions {
    /// `Ok` when `stored` (read under `store_key`) is not older than what this instance saw;
    /// a sealed record's version is then remembered.
    pub fn accept(&mut self, store_key: &str, stored: &Stored) -> Result<(), RecordError> {
        let seen = self.0.get(store_key).copied();
        match (stored, seen) {
            (Stored::Legacy(_), Some(_)) => Err(RecordError::Unsealed),
            (Stored::Legacy(_), None) => Ok(()),
            (Stored::Sealed { version, .. }, Some(seen)) if *version < seen => {
                Err(RecordError::Replayed {
                    found: *version,
                    seen,
                })
            }
            (Stored::Sealed { version, .. }, _) => {
                self.0.insert(store_key.to_owned(), *version);
                Ok(())
            }
        }
    }

    /// The version the next write under `store_key` gets: one more than the highest seen.
    pub fn next(&self, store_key: &str) -> u64 {
        self.0.get(store_key).map_or(1, |v| v + 1)
    }

    /// Remembers that this instance wrote `version` under `store_key`.
    pub fn wrote(&mut self, store_key: &str, version: u64) {
        let seen = self.0.entry(store_key.to_owned()).or_insert(version);
        *seen = (*seen).max(version);
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
        assert_eq!(stored.next_version(), 4);
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
        assert_eq!(stored.next_version(), 1);
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
        assert!(needs_previous_key(&rotated, "state:default", &text));
        assert!(!needs_previous_key(&old_keys, "state:default", &text));
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
        let again = seal(&rotated, "state:default", &state, 2, [7; 12]);
        assert!(!needs_previous_key(&rotated, "state:default", &again));
        // A secret that does not open is named.
        let mut moved = state.clone();
        moved.active.uuid = Some("u-2".into());
        assert_eq!(
            reseal_secrets(&rotated, "default", &mut moved, || [8; 12]),
            Err(("u-2".into(), EnvelopeError::Corrupt))
        );
        assert!(needs_previous_key(&rotated, "state:default", "[1]"));
    }

    #[test]
    fn versions_refuse_replays_and_unsealed_records_after_a_sealed_one() {
        let mut v = Versions::default();
        let sealed = |version| Stored::Sealed {
            state: record(),
            version,
            stale_key: false,
        };
        assert_eq!(v.accept("state:a", &Stored::Legacy(record())), Ok(()));
        assert_eq!(v.accept("state:a", &sealed(4)), Ok(()));
        assert_eq!(v.accept("state:a", &sealed(4)), Ok(()), "the same again");
        assert_eq!(v.accept("state:a", &sealed(5)), Ok(()));
        assert_eq!(
            v.accept("state:a", &sealed(4)),
            Err(RecordError::Replayed { found: 4, seen: 5 })
        );
        assert_eq!(
            v.accept("state:a", &Stored::Legacy(record())),
            Err(RecordError::Unsealed)
        );
        assert_eq!(v.next("state:a"), 6);
        assert_eq!(v.next("state:new"), 1);
        v.wrote("state:b", 2);
        assert!(v.accept("state:b", &sealed(1)).is_err());
        assert_eq!(v.accept("state:c", &sealed(1)), Ok(()), "per key");
    }
}
