//! Cryptographically secure random bytes from the runtime (`crypto.getRandomValues`, through
//! `getrandom`'s JS backend): envelope nonces, rotation ids, request and isolate ids.

/// `N` random bytes. The runtime's generator does not fail in practice; if it ever did, the
/// broker must not seal with a predictable nonce, so this aborts the request instead.
pub fn bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    if getrandom::getrandom(&mut out).is_err() {
        panic!("crypto.getRandomValues failed");
    }
    out
}

/// A random id of 16 hex digits.
pub fn id() -> String {
    ims_core::hex::encode(&bytes::<8>())
}
