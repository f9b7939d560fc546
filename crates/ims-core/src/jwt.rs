//! Reads the claims of an IMS access token, which is a JWT.
//!
//! Only the payload is decoded (base64url WITHOUT padding, as RFC 7515 §2 requires; Adobe's own
//! aio-lib-ims once decoded it as standard base64 and broke). The signature is not checked: the
//! broker got the token from IMS over TLS and only needs its expiry as a cross-check when the
//! token response lacks a usable `expires_in`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::IgnoredAny;
use serde::Deserialize;

/// The claims the broker uses. IMS writes them as strings of milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImsClaims {
    /// `created_at`: when IMS created the token, epoch milliseconds.
    pub created_at_ms: u64,
    /// `expires_in`: the token's lifetime in milliseconds.
    pub expires_in_ms: u64,
}

impl ImsClaims {
    /// `created_at + expires_in`, epoch milliseconds.
    pub fn expires_at_ms(&self) -> u64 {
        self.created_at_ms.saturating_add(self.expires_in_ms)
    }
}

/// Why the claims could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsError {
    /// The token is not three dot-separated segments.
    #[error("token is not a JWT")]
    NotJwt,
    /// The payload is not base64url or not a JSON object.
    #[error("token payload is not base64url JSON")]
    BadPayload,
    /// `created_at` or `expires_in` is absent, not a non-negative integer, or zero lifetime.
    #[error("token claims lack a usable created_at/expires_in")]
    NoExpiry,
}

/// A time in milliseconds as Adobe writes it: a string of digits (IMS's claims, the I/O
/// Management API's times) or a number. Anything else reads, but is no time.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Millis {
    /// `"1384371060214"`.
    Text(String),
    /// `1384371060214`.
    Number(u64),
    /// Another value.
    Other(IgnoredAny),
}

impl Millis {
    /// The milliseconds, if this is a non-negative integer (digits, possibly spaced, in a string).
    pub(crate) fn get(&self) -> Option<u64> {
        match self {
            Self::Text(s) => s.trim().parse().ok(),
            Self::Number(n) => Some(*n),
            Self::Other(_) => None,
        }
    }
}

/// The claims read from the payload; other claims are ignored.
#[derive(Deserialize)]
struct Claims {
    created_at: Option<Millis>,
    expires_in: Option<Millis>,
}

/// Decodes the `created_at` and `expires_in` claims of an IMS access token.
pub fn decode_claims(token: &str) -> Result<ImsClaims, ClaimsError> {
    let mut segments = token.split('.');
    let (Some(_), Some(payload), Some(_), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(ClaimsError::NotJwt);
    };
    // RFC 7515 §2: base64url without padding; the unused bits of the last symbol must be zero.
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| ClaimsError::BadPayload)?;
    // A map first: only an object is a payload (a struct would also read an array), and of a
    // claim given twice the last counts.
    let obj: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| ClaimsError::BadPayload)?;
    if !obj.is_object() {
        return Err(ClaimsError::BadPayload);
    }
    let claims = Claims::deserialize(obj).map_err(|_| ClaimsError::BadPayload)?;
    let millis = |m: Option<Millis>| m.as_ref().and_then(Millis::get);
    let created_at_ms = millis(claims.created_at).ok_or(ClaimsError::NoExpiry)?;
    let expires_in_ms = millis(claims.expires_in).ok_or(ClaimsError::NoExpiry)?;
    if expires_in_ms == 0 {
        return Err(ClaimsError::NoExpiry);
    }
    Ok(ImsClaims {
        created_at_ms,
        expires_in_ms,
    })
}

/// Test helper: builds a JWT-shaped token with the given payload.
#[cfg(test)]
pub(crate) fn fake_jwt(payload: &str) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#),
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode(b"sig")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_string_millisecond_claims() {
        let t = fake_jwt(
            r#"{"type":"access_token","created_at":"1384371060214","expires_in":"86400000"}"#,
        );
        let c = decode_claims(&t).unwrap();
        assert_eq!(c.created_at_ms, 1_384_371_060_214);
        assert_eq!(c.expires_at_ms(), 1_384_371_060_214 + 86_400_000);
    }

    #[test]
    fn payload_needing_padding_decodes_without_it() {
        // Payload lengths that are not a multiple of 3 produce unpadded base64url.
        for extra in ["", "x", "xy"] {
            let t = fake_jwt(&format!(
                r#"{{"created_at":"1","expires_in":"2","p":"{extra}"}}"#
            ));
            assert_eq!(decode_claims(&t).unwrap().expires_at_ms(), 3);
        }
    }

    #[test]
    fn refuses_what_is_not_usable() {
        assert_eq!(decode_claims("opaque-token"), Err(ClaimsError::NotJwt));
        assert_eq!(decode_claims("a.b.c.d"), Err(ClaimsError::NotJwt));
        assert_eq!(decode_claims("a.!!!.c"), Err(ClaimsError::BadPayload));
        let no_exp = fake_jwt(r#"{"created_at":"1"}"#);
        assert_eq!(decode_claims(&no_exp), Err(ClaimsError::NoExpiry));
        let zero = fake_jwt(r#"{"created_at":"1","expires_in":"0"}"#);
        assert_eq!(decode_claims(&zero), Err(ClaimsError::NoExpiry));
        let neg = fake_jwt(r#"{"created_at":"1","expires_in":"-5"}"#);
        assert_eq!(decode_claims(&neg), Err(ClaimsError::NoExpiry));
        for odd in [r#""x""#, "1.5", "-5", "null", "[1]", r#"{"n":1}"#] {
            let t = fake_jwt(&format!(r#"{{"created_at":"1","expires_in":{odd}}}"#));
            assert_eq!(decode_claims(&t), Err(ClaimsError::NoExpiry), "{odd}");
        }
        let number = fake_jwt(r#"{"created_at":1,"expires_in":2,"expires_in":" 3 "}"#);
        assert_eq!(decode_claims(&number).unwrap().expires_at_ms(), 4);
        for payload in ["[\"1\",\"2\"]", "5", "{"] {
            let t = fake_jwt(payload);
            assert_eq!(decode_claims(&t), Err(ClaimsError::BadPayload), "{payload}");
        }
    }
}
