//! The random values the fake hands out (secret uuids and values, token ids and signatures,
//! `x-debug-id`), drawn from `rand`'s thread-local generator in the formats Adobe uses.
//!
//! Nothing needs a reproducible sequence, so there is no seed: every value is fresh.

use rand::distr::{Alphanumeric, SampleString};
use rand::RngExt;

/// Fills `buf` with random bytes.
pub fn fill(buf: &mut [u8]) {
    rand::rng().fill(buf);
}

/// Returns `n_bytes` random bytes as lowercase hex (`2 * n_bytes` characters).
pub fn hex(n_bytes: usize) -> String {
    let mut buf = vec![0u8; n_bytes];
    fill(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Returns `n` random ASCII letters and digits.
pub fn alphanumeric(n: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), n)
}

/// Returns a random version-4 UUID string, e.g. for `x-debug-id`.
pub fn uuid() -> String {
    let mut b: [u8; 16] = rand::rng().random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn values_are_distinct_and_well_formed() {
        let ids: HashSet<String> = (0..1000).map(|_| uuid()).collect();
        assert_eq!(ids.len(), 1000);
        let id = uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(hex(5).len(), 10);
        assert!(hex(5).bytes().all(|b| b.is_ascii_hexdigit()));
        let a = alphanumeric(32);
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(a, alphanumeric(32));
    }
}
