//! Redacting newtypes for values that must never reach a log, an error body or `Debug` output.
//!
//! Every secret-bearing string is wrapped the moment it is read (from a Worker secret, a request
//! header or an IMS answer). Its `Debug` prints `Name([redacted])`; the plaintext is reachable
//! only through [`ClientSecret::secret`]-style accessors, which makes each use visible in review.

macro_rules! redacted_string {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// Wraps a plaintext value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The plaintext. Call only where the value must leave the process (a request body,
            /// a response to its rightful owner, an encrypted store).
            pub fn secret(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

redacted_string!(
    /// An Adobe OAuth Server-to-Server client secret ([RFC 6749 §2.3.1](https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1)).
    ClientSecret
);
redacted_string!(
    /// An access token issued by IMS ([RFC 6749 §1.4](https://www.rfc-editor.org/rfc/rfc6749#section-1.4)).
    AccessToken
);
redacted_string!(
    /// A caller's API key for the broker itself, as presented in `Authorization`.
    CallerKey
);
redacted_string!(
    /// A workload identity token (a JWT its platform gave the caller), as presented in
    /// `Authorization`, `Cf-Access-Jwt-Assertion` or `client_assertion`. Whoever holds it is the
    /// caller until it expires, so it is a secret like a key.
    IdentityToken
);

impl IdentityToken {
    /// True when `value` has the shape of a compact JWS: three base64url parts separated by
    /// dots, the first starting with `eyJ` (a JSON object). Caller keys never have it: they hold
    /// no dot. Shape only; [`crate::workload_identity::read`] judges the rest.
    pub fn looks_like_jwt(value: &str) -> bool {
        let mut parts = value.split('.');
        let all_base64url = value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        all_base64url
            && parts.next().is_some_and(|h| h.starts_with("eyJ"))
            && parts.next().is_some()
            && parts.next().is_some()
            && parts.next().is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_the_value() {
        let s = ClientSecret::new("p8e-very-secret");
        let t = AccessToken::new("eyJhbGciOi.payload.sig");
        let k = CallerKey::new("ibk_key");
        assert_eq!(format!("{s:?}"), "ClientSecret([redacted])");
        assert_eq!(format!("{t:?}"), "AccessToken([redacted])");
        assert_eq!(format!("{:?}", Some(&k)), "Some(CallerKey([redacted]))");
        assert_eq!(s.secret(), "p8e-very-secret");
        let j = IdentityToken::new("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln");
        assert_eq!(format!("{j:?}"), "IdentityToken([redacted])");
    }

    #[test]
    fn tells_a_jwt_from_a_caller_key_by_shape() {
        assert!(IdentityToken::looks_like_jwt(
            "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
        ));
        assert!(IdentityToken::looks_like_jwt(
            "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."
        ));
        assert!(!IdentityToken::looks_like_jwt("ibk_0123456789abcdef"));
        assert!(!IdentityToken::looks_like_jwt(
            "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0"
        ));
        assert!(!IdentityToken::looks_like_jwt("eyJa.b.c.d"));
        assert!(!IdentityToken::looks_like_jwt("abc.def.ghi"));
        assert!(!IdentityToken::looks_like_jwt("eyJa.b c.d"));
    }
}
