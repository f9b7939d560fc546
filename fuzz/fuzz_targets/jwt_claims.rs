//! `jwt::decode_claims` on arbitrary tokens.
//!
//! Input: the token itself, or, when it starts with `{`, a JWT payload (any bytes) that this
//! target wraps as `header.<base64url(payload)>.sig`, so the JSON decoding is reached at once.
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ims_core::jwt::{decode_claims, ClaimsError};
use libfuzzer_sys::fuzz_target;

fn check(token: &str) {
    match decode_claims(token) {
        Ok(c) => {
            assert_eq!(token.split('.').count(), 3);
            assert!(c.expires_in_ms > 0);
            assert!(c.expires_at_ms() >= c.created_at_ms);
            assert!(c.expires_at_ms() >= c.expires_in_ms);
        }
        Err(ClaimsError::NotJwt) => assert_ne!(token.split('.').count(), 3),
        Err(_) => {}
    }
}

fuzz_target!(|data: &[u8]| {
    if data.first() == Some(&b'{') {
        let token = format!("eyJhbGciOiJSUzI1NiJ9.{}.c2ln", URL_SAFE_NO_PAD.encode(data));
        check(&token);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        check(text);
    }
});
