//! Sealed envelopes for what the broker keeps in KV: rotated client secrets and cached access
//! tokens, encrypted with AES-256-GCM (RustCrypto `aes-gcm`) under `STORE_KEY`, so that reading
//! KV alone yields nothing usable.
//!
//! An envelope is the text `v1.<key id>.<nonce>.<ciphertext+tag>` (base64url, no padding). The
//! key id is derived from the key itself, so `STORE_KEY` can be rotated: the new key seals, and
//! the old one, given as `STORE_KEY_PREVIOUS`, still opens what it sealed. The KV key name is the
//! associated data: an envelope moved to another slot does not open. Nonces (96 random bits) come
//! from the caller's platform random source, never from this module.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use sha2::{Digest, Sha256};

/// Length of a nonce, bytes.
pub const NONCE_LEN: usize = 12;

/// Why an envelope could not be opened or a key not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The text is not a `v1` envelope.
    #[error("not a sealed value")]
    Malformed,
    /// Sealed under a key that is neither the current nor a previous store key.
    #[error("sealed with store key id {found}, but STORE_KEY is id {current}; provide the old key as STORE_KEY_PREVIOUS")]
    UnknownKey {
        /// The envelope's key id.
        found: String,
        /// The current key's id.
        current: String,
    },
    /// The key id matched but authentication failed: altered, or moved from another KV slot.
    #[error("sealed value failed authentication (altered or moved)")]
    Corrupt,
    /// A store key setting is not base64 of exactly 32 bytes.
    #[error("{0} must be 32 random bytes, base64-encoded")]
    BadKey(&'static str),
}

/// One AES-256 key and its id. `Debug` shows only the id.
#[derive(Clone)]
pub struct StoreKey {
    id: String,
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StoreKey({}, [redacted])", self.id)
    }
}

impl StoreKey {
    /// Reads a key from its base64 setting named `setting`.
    pub fn from_base64(setting: &'static str, text: &str) -> Result<Self, EnvelopeError> {
        let bytes = STANDARD
            .decode(text.trim())
            .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim()))
            .map_err(|_| EnvelopeError::BadKey(setting))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| EnvelopeError::BadKey(setting))?;
        Ok(Self::from_bytes(&key))
    }

    /// Wraps raw key bytes.
    pub fn from_bytes(key: &[u8; 32]) -> Self {
        let mut h = Sha256::new();
        h.update(b"ims-broker store key id\0");
        h.update(key);
        Self {
            id: crate::hex::encode(&h.finalize()[..4]),
            cipher: Aes256Gcm::new(key.into()),
        }
    }

    /// The key id written into envelopes (8 hex digits).
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// The current store key and the previous ones still accepted for reading.
#[derive(Debug, Clone)]
pub struct StoreKeys {
    current: StoreKey,
    previous: Vec<StoreKey>,
}

/// The result of opening an envelope.
#[derive(Debug, PartialEq, Eq)]
pub struct Opened {
    /// The plaintext.
    pub plaintext: Vec<u8>,
    /// True when a previous key opened it: re-seal it with the current key.
    pub stale_key: bool,
}

impl StoreKeys {
    /// Builds the key ring.
    pub fn new(current: StoreKey, previous: Vec<StoreKey>) -> Self {
        Self { current, previous }
    }

    /// The current key's id.
    pub fn current_id(&self) -> &str {
        self.current.id()
    }

    /// True when previous keys are configured (`STORE_KEY_PREVIOUS`): envelopes sealed under
    /// them are re-sealed under the current key when read.
    pub fn has_previous(&self) -> bool {
        !self.previous.is_empty()
    }

    /// Seals `plaintext` for the KV slot `slot` with the current key and `nonce`.
    pub fn seal(&self, slot: &str, plaintext: &[u8], nonce: [u8; NONCE_LEN]) -> String {
        let sealed = self
            .current
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: slot.as_bytes(),
                },
            )
            .unwrap_or_default();
        format!(
            "v1.{}.{}.{}",
            self.current.id,
            URL_SAFE_NO_PAD.encode(nonce),
            URL_SAFE_NO_PAD.encode(sealed)
        )
    }

    /// Opens an envelope sealed for `slot` by any known key.
    pub fn open(&self, slot: &str, envelope: &str) -> Result<Opened, EnvelopeError> {
        let mut parts = envelope.split('.');
        let (Some("v1"), Some(kid), Some(nonce), Some(body), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(EnvelopeError::Malformed);
        };
        let nonce = URL_SAFE_NO_PAD
            .decode(nonce)
            .map_err(|_| EnvelopeError::Malformed)?;
        let body = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| EnvelopeError::Malformed)?;
        if nonce.len() != NONCE_LEN {
            return Err(EnvelopeError::Malformed);
        }
        let (key, stale_key) = if kid == self.current.id {
            (&self.current, false)
        } else if let Some(k) = self.previous.iter().find(|k| k.id == kid) {
            (k, true)
        } else {
            return Err(EnvelopeError::UnknownKey {
                found: kid.chars().take(16).collect(),
                current: self.current.id.clone(),
            });
        };
        let plaintext = key
            .cipher
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &body,
                    aad: slot.as_bytes(),
                },
            )
            .map_err(|_| EnvelopeError::Corrupt)?;
        Ok(Opened {
            plaintext,
            stale_key,
        })
    }
}

/// The key id an envelope names (`v1.<key id>.…`), without opening it; `None` for anything that
/// is not an envelope.
pub fn key_id(envelope: &str) -> Option<&str> {
    let mut parts = envelope.split('.');
    match (parts.next(), parts.next()) {
        (Some("v1"), Some(id)) => Some(id),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> StoreKey {
        StoreKey::from_bytes(&[b; 32])
    }

    #[test]
    fn round_trip_and_no_plaintext_in_envelope() {
        let keys = StoreKeys::new(key(1), vec![]);
        let env = keys.seal("secrets:default", b"p8e-secret-value", [7; 12]);
        assert!(env.starts_with(&format!("v1.{}.", keys.current_id())));
        assert!(!env.contains("p8e"));
        let opened = keys.open("secrets:default", &env).unwrap();
        assert_eq!(opened.plaintext, b"p8e-secret-value");
        assert_eq!(key_id(&env), Some(keys.current_id()));
        assert_eq!(key_id("{\"v\":1}"), None);
        assert!(!opened.stale_key);
    }

    #[test]
    fn wrong_key_is_a_clear_error_not_garbage() {
        let env = StoreKeys::new(key(1), vec![]).seal("s", b"x", [0; 12]);
        let other = StoreKeys::new(key(2), vec![]);
        let e = other.open("s", &env).unwrap_err();
        assert!(matches!(e, EnvelopeError::UnknownKey { .. }));
        assert!(e.to_string().contains("STORE_KEY_PREVIOUS"), "{e}");
    }

    #[test]
    fn previous_key_still_opens_and_asks_for_reseal() {
        let old = StoreKeys::new(key(1), vec![]);
        let env = old.seal("s", b"x", [0; 12]);
        let rotated = StoreKeys::new(key(2), vec![key(1)]);
        let opened = rotated.open("s", &env).unwrap();
        assert_eq!(opened.plaintext, b"x");
        assert!(opened.stale_key);
        let resealed = rotated.seal("s", &opened.plaintext, [1; 12]);
        assert!(
            !StoreKeys::new(key(2), vec![])
                .open("s", &resealed)
                .unwrap()
                .stale_key
        );
    }

    #[test]
    fn moved_or_altered_envelopes_fail_authentication() {
        let keys = StoreKeys::new(key(1), vec![]);
        let env = keys.seal("slot-a", b"x", [0; 12]);
        assert_eq!(keys.open("slot-b", &env), Err(EnvelopeError::Corrupt));
        let mut altered = env.clone();
        altered.pop();
        altered.push(if env.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(keys.open("slot-a", &altered), Err(EnvelopeError::Corrupt));
        assert_eq!(
            keys.open("slot-a", "plain json"),
            Err(EnvelopeError::Malformed)
        );
    }

    #[test]
    fn keys_are_read_from_base64_of_32_bytes() {
        let k = StoreKey::from_base64("STORE_KEY", &STANDARD.encode([9u8; 32])).unwrap();
        assert_eq!(k.id(), key(9).id());
        assert!(!format!("{k:?}").contains("9, 9"));
        assert_eq!(
            StoreKey::from_base64("STORE_KEY", "c2hvcnQ=").unwrap_err(),
            EnvelopeError::BadKey("STORE_KEY")
        );
    }
}
