//! Random ids from std only: SipHash keyed by the process's random `RandomState`, over a counter.
//!
//! Not cryptographically reviewed, but unpredictable enough for a test fake and every value is
//! distinct (a keyed PRF over a strictly increasing counter).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

static KEYS: OnceLock<RandomState> = OnceLock::new();
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Returns the next random 64-bit value.
pub fn next_u64() -> u64 {
    let keys = KEYS.get_or_init(RandomState::new);
    let mut hasher = keys.build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    hasher.write_u128(nanos);
    hasher.finish()
}

/// Fills `buf` with random bytes.
pub fn fill(buf: &mut [u8]) {
    for chunk in buf.chunks_mut(8) {
        let bytes = next_u64().to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}

/// Returns `n_bytes` random bytes as lowercase hex (`2 * n_bytes` characters).
pub fn hex(n_bytes: usize) -> String {
    let mut buf = vec![0u8; n_bytes];
    fill(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Returns `n` random ASCII letters and digits.
pub fn alphanumeric(n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..n)
        .map(|_| {
            // 62 does not divide 2^64; the bias (< 2^-58) does not matter for a test fake.
            let i = usize::try_from(next_u64() % 62).unwrap_or(0);
            char::from(ALPHABET[i])
        })
        .collect()
}

/// Returns a random version-4-shaped UUID string, e.g. for `x-debug-id`.
pub fn uuid() -> String {
    let mut b = [0u8; 16];
    fill(&mut b);
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
        assert_eq!(hex(5).len(), 10);
        let a = alphanumeric(32);
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(a, alphanumeric(32));
    }
}
