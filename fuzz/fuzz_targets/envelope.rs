//! `envelope::StoreKeys::open` on arbitrary envelopes, and seal/open round trips.
//!
//! Input: `<slot>\n<envelope>`. The key ring is fixed: current key K1 = [1; 32], previous key
//! K2 = [2; 32] (the seeds hold envelopes sealed with them).
//!
//! Invariants: `open` never panics; whatever opens is exactly what `seal` produces for that
//! slot, plaintext and nonce under the key that opened it (no malleable encodings); a key ring
//! without that key opens nothing; a sealed value round-trips and does not open in another slot.
#![no_main]

use ims_core::envelope::{EnvelopeError, StoreKey, StoreKeys, NONCE_LEN};
use libfuzzer_sys::fuzz_target;

fn ring(current: u8, previous: &[u8]) -> StoreKeys {
    StoreKeys::new(
        StoreKey::from_bytes(&[current; 32]),
        previous
            .iter()
            .map(|b| StoreKey::from_bytes(&[*b; 32]))
            .collect(),
    )
}

fn nonce_of(envelope: &str) -> [u8; NONCE_LEN] {
    use base64::Engine;
    let part = envelope
        .split('.')
        .nth(2)
        .expect("opened envelope has a nonce");
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("opened envelope has base64 nonce")
        .try_into()
        .expect("opened envelope has a 12-byte nonce")
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (slot, envelope) = text.split_once('\n').unwrap_or(("secret:default:x", text));
    let _ = StoreKey::from_base64("STORE_KEY", text);
    let _ = StoreKey::from_base64("STORE_KEY", envelope);

    let keys = ring(1, &[2]);
    match keys.open(slot, envelope) {
        Ok(opened) => {
            let (sealer, kid) = if opened.stale_key {
                (ring(2, &[]), 2)
            } else {
                (ring(1, &[]), 1)
            };
            let again = sealer.seal(slot, &opened.plaintext, nonce_of(envelope));
            assert_eq!(again, envelope, "a non-canonical envelope opened");
            // A ring without that key opens nothing.
            let other = ring(3, &[if kid == 1 { 2 } else { 1 }]);
            assert!(other.open(slot, envelope).is_err());
            assert!(ring(3, &[]).open(slot, envelope).is_err());
        }
        Err(EnvelopeError::UnknownKey { found, .. }) => assert!(found.chars().count() <= 16),
        Err(_) => {}
    }
    assert!(
        ring(3, &[4]).open(slot, envelope).is_err(),
        "opened with a foreign key ring"
    );

    // Round trip of the input as plaintext.
    let mut nonce = [0u8; NONCE_LEN];
    for (i, b) in data.iter().take(NONCE_LEN).enumerate() {
        nonce[i] = *b;
    }
    let sealed = keys.seal(slot, envelope.as_bytes(), nonce);
    let opened = keys
        .open(slot, &sealed)
        .expect("own envelope does not open");
    assert_eq!(opened.plaintext, envelope.as_bytes());
    assert!(!opened.stale_key);
    // The ciphertext does not carry the plaintext (a short one may occur by chance).
    if envelope.len() >= 8 {
        use base64::Engine;
        let body = sealed.rsplit('.').next().unwrap_or_default();
        let body = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(body)
            .expect("body");
        assert!(
            !body
                .windows(envelope.len())
                .any(|w| w == envelope.as_bytes()),
            "plaintext visible in envelope"
        );
    }
    let moved = format!("{slot}!");
    assert_eq!(keys.open(&moved, &sealed), Err(EnvelopeError::Corrupt));
    assert!(matches!(
        ring(2, &[]).open(slot, &sealed),
        Err(EnvelopeError::UnknownKey { .. })
    ));
    let rotated = ring(5, &[1]);
    assert!(
        rotated
            .open(slot, &sealed)
            .expect("previous key opens")
            .stale_key
    );
});
