//! The platform-independent rules for "workload identity" callers: a caller that presents an
//! OIDC token (a [JWT, RFC 7519](https://www.rfc-editor.org/rfc/rfc7519)) issued to it by its
//! platform (GitHub Actions, Kubernetes, Cloudflare Access, …) instead of a caller key, as in
//! the JWT bearer profile of [RFC 7523](https://www.rfc-editor.org/rfc/rfc7523). No long-lived
//! secret has to be handed to such a caller: its platform vouches for it, for a few minutes.
//!
//! This module reads and judges; it does not verify signatures. The Worker does that with
//! WebCrypto, from what [`read`] returns ([`Unverified::signing_input`], [`Unverified::signature`])
//! and the key [`pick_key`] chooses. The order is:
//!
//! 1. [`read`] the compact [JWS, RFC 7515](https://www.rfc-editor.org/rfc/rfc7515): size, shape,
//!    base64url, `alg` (RS256 or ES256 only, never `none` nor an HMAC), no `crit`;
//! 2. find the issuer by the `iss` claim ([`TrustedIssuers::by_iss`]), check the algorithm is
//!    one it allows ([`TrustedIssuer::check_algorithm`]);
//! 3. [`pick_key`] from its JWKS, verify the signature (the Worker);
//! 4. [`check_claims`]: issuer, audience, expiry, lifetime;
//! 5. [`BoundClaims::matches`] decides which caller entry the token is.
//!
//! Header parameters that point at keys (`jku`, `x5u`, `jwk`, `x5c`) are ignored: keys come only
//! from the configured issuer's JWKS.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config::ConfigError;
use crate::upstream_url;

mod bound_claims;
mod discovery;
mod issuers;
mod jwks;
mod key_cache;
mod token;

pub use bound_claims::{glob_match, overlap, BoundClaims};
pub use discovery::{configuration_url, jwks_uri};
pub use issuers::{parse_trusted_issuers, valid_name, TrustedIssuer, TrustedIssuers};
pub use jwks::{parse_jwks, pick_key, Jwk};
pub use key_cache::{
    fresh_for_s, next_fetch_at_ms, CachedKeys, MAX_FRESH_S, MIN_FRESH_S, REFETCH_INTERVAL_S,
};
pub use token::{check_claims, expiry_s, read, token_digest, Header, Unverified};

/// The setting holding the trusted issuers.
pub const SETTING: &str = "TRUSTED_ISSUERS";

/// The largest token [`read`] accepts, in bytes (8 KiB).
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The clock skew allowed between the issuer and the broker, in seconds.
pub const CLOCK_SKEW_S: u64 = 60;

/// The default of an issuer's `max_ttl_s`: the longest token lifetime accepted, in seconds.
pub const DEFAULT_MAX_TTL_S: u64 = 3600;

/// Why a token (or a key for it) is refused. Never carries a claim's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// The token is longer than [`MAX_TOKEN_LEN`].
    #[error("token is too long")]
    TooLong,
    /// The token is not three dot-separated parts.
    #[error("token is not a compact JWS")]
    NotCompact,
    /// A part is not base64url without padding (or the signature is empty or of the wrong size).
    #[error("token {part} is not valid base64url")]
    BadEncoding {
        /// `header`, `payload` or `signature`.
        part: &'static str,
    },
    /// The header is not a JSON object, or `kid` is not a string.
    #[error("token header is not a valid JSON object")]
    BadHeader,
    /// The payload is not a JSON object.
    #[error("token payload is not a JSON object")]
    BadPayload,
    /// `alg` is missing or not one of RS256, ES256.
    #[error("token algorithm is missing or not accepted")]
    BadAlgorithm,
    /// The header has a `crit` parameter: no extension is understood.
    #[error("token header has a crit parameter")]
    CriticalHeader,
    /// The algorithm is valid but not one the issuer's entry allows.
    #[error("token algorithm is not allowed for this issuer")]
    AlgorithmNotAllowed,
    /// `iss` is missing or not the issuer's.
    #[error("token issuer is not the expected one")]
    WrongIssuer,
    /// `aud` is missing or contains none of the accepted audiences.
    #[error("token audience is not accepted")]
    WrongAudience,
    /// `exp` is missing or not a non-negative number.
    #[error("token has no usable exp")]
    NoExpiry,
    /// `nbf` or `iat` is not a non-negative number.
    #[error("token {claim} is not a number")]
    BadTime {
        /// The claim: `nbf` or `iat`.
        claim: &'static str,
    },
    /// `exp` is past, beyond the clock skew.
    #[error("token has expired")]
    Expired,
    /// `nbf` or `iat` is in the future, beyond the clock skew.
    #[error("token is not valid yet ({claim})")]
    NotYetValid {
        /// The claim: `nbf` or `iat`.
        claim: &'static str,
    },
    /// The token lives longer than the issuer's `max_ttl_s`.
    #[error("token lifetime is longer than allowed")]
    LifetimeTooLong,
    /// The key set is empty.
    #[error("the issuer's key set is empty")]
    NoKeys,
    /// The key set has several keys and the token names none (`kid`).
    #[error("token has no kid and the issuer has several keys")]
    NoKid,
    /// No key in the set has the token's `kid`.
    #[error("no key has the token's kid")]
    UnknownKid,
    /// The key chosen does not suit the token's algorithm.
    #[error("the key does not suit the token's algorithm")]
    KeyMismatch,
    /// The key set document is not a JSON object with a `keys` list of keys.
    #[error("the key set is not a valid JWKS")]
    BadKeySet,
    /// The issuer's provider configuration is not JSON with its own `issuer` and a `jwks_uri` the
    /// broker may call.
    #[error("the issuer's OpenID configuration is not usable")]
    BadConfiguration,
    /// The signature does not verify with the issuer's key.
    #[error("token signature does not verify")]
    BadSignature,
    /// `iss` names no entry of `TRUSTED_ISSUERS`.
    #[error("token issuer is not trusted")]
    UnknownIssuer,
    /// The token is valid but its claims match no caller entry of its issuer.
    #[error("token claims match no caller")]
    NoCaller,
    /// The token's claims match two caller entries (through a claim given as a list): refused
    /// rather than given to either.
    #[error("token claims match more than one caller")]
    AmbiguousCaller,
}

/// A signature algorithm accepted for workload identity tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3).
    Rs256,
    /// ECDSA P-256 with SHA-256 (RFC 7518 §3.4); the signature is `r || s`, 64 bytes.
    Es256,
}

impl Algorithm {
    /// Every accepted algorithm: an issuer's default.
    pub const ALL: [Algorithm; 2] = [Algorithm::Rs256, Algorithm::Es256];

    /// The JOSE name (`RS256`, `ES256`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
        }
    }

    /// The algorithm of a JOSE name; `None` for anything else (`none`, `HS256`, `rs256`, …).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(Self::Rs256),
            "ES256" => Some(Self::Es256),
            _ => None,
        }
    }
}

/// A string or a non-empty list of strings, as JSON; read as the list.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "OneOrMany")]
struct NonEmptyStrings(Vec<String>);

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl TryFrom<OneOrMany> for NonEmptyStrings {
    type Error = &'static str;
    fn try_from(v: OneOrMany) -> Result<Self, Self::Error> {
        match v {
            OneOrMany::One(s) => Ok(Self(vec![s])),
            OneOrMany::Many(list) if list.is_empty() => Err("an empty list"),
            OneOrMany::Many(list) => Ok(Self(list)),
        }
    }
}

impl NonEmptyStrings {
    fn as_slice(&self) -> &[String] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: u64 = 1_700_000_000;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn token(header: &str, payload: &str, sig: &[u8]) -> String {
        format!(
            "{}.{}.{}",
            b64(header.as_bytes()),
            b64(payload.as_bytes()),
            b64(sig)
        )
    }

    fn rs(payload: &str) -> String {
        token(r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#, payload, b"sig")
    }

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn issuer() -> TrustedIssuer {
        TrustedIssuer {
            issuer: "https://token.actions.githubusercontent.com".into(),
            audiences: vec!["ims-broker".into(), "other".into()],
            jwks_url: None,
            algorithms: Algorithm::ALL.to_vec(),
            max_ttl_s: 3600,
        }
    }

    fn claims(extra: Value) -> Map<String, Value> {
        let mut c = obj(json!({
            "iss": "https://token.actions.githubusercontent.com",
            "aud": "ims-broker",
            "iat": NOW - 10,
            "exp": NOW + 300,
        }));
        for (k, v) in obj(extra) {
            if v.is_null() {
                c.remove(&k);
            } else {
                c.insert(k, v);
            }
        }
        c
    }

    fn err(text: &str) -> String {
        parse_trusted_issuers(text).unwrap_err().to_string()
    }

    // --- TRUSTED_ISSUERS ---

    #[test]
    fn an_unverified_token_never_shows_itself_in_debug() {
        let jwt = rs(r#"{"iss":"https://a.example","sub":"repo:acme/site"}"#);
        let read = read(&jwt).unwrap();
        let shown = format!("{read:?}");
        for part in jwt.split('.') {
            assert!(!shown.contains(part), "{shown}");
        }
        assert!(
            !shown.contains("repo:acme/site"),
            "claim values stay out: {shown}"
        );
        assert!(shown.contains("\"sub\""), "claim names are shown: {shown}");
    }

    #[test]
    fn an_issuer_name_given_twice_is_refused() {
        let one = r#"{"issuer":"https://a.example","audience":"x"}"#;
        let text = format!(r#"{{"gh":{one},"gh":{one}}}"#);
        let e = parse_trusted_issuers(&text).unwrap_err();
        assert_eq!(
            e,
            ConfigError::Invalid {
                setting: "TRUSTED_ISSUERS.gh".into(),
                reason: "an issuer name given twice".into(),
            }
        );
        assert!(parse_trusted_issuers(&format!(r#"{{"gh":{one}}}"#)).is_ok());
    }

    #[test]
    fn parses_issuers_with_defaults() {
        let t = parse_trusted_issuers(
            r#"{"github":{"issuer":"https://token.actions.githubusercontent.com","audience":"ims-broker"},
                "k8s":{"issuer":"http://127.0.0.1:8080/","audience":["a","b"],
                       "jwks_url":"https://k8s.example/jwks","algorithms":["ES256"],"max_ttl_s":600}}"#,
        )
        .unwrap();
        let gh = t.get("github").unwrap();
        assert_eq!(gh.audiences, vec!["ims-broker"]);
        assert_eq!(gh.algorithms, vec![Algorithm::Rs256, Algorithm::Es256]);
        assert_eq!(gh.max_ttl_s, DEFAULT_MAX_TTL_S);
        assert_eq!(gh.jwks_url, None);
        let k = t.get("k8s").unwrap();
        assert_eq!(k.audiences, vec!["a", "b"]);
        assert_eq!(k.algorithms, vec![Algorithm::Es256]);
        assert_eq!(k.max_ttl_s, 600);
        assert_eq!(k.jwks_url.as_deref(), Some("https://k8s.example/jwks"));
        let (name, _) = t.by_iss("http://127.0.0.1:8080/").unwrap();
        assert_eq!(name, "k8s");
        assert!(t.by_iss("https://evil.example").is_none());
        assert_eq!(t.iter().count(), 2);
    }

    #[test]
    fn empty_text_is_no_issuers() {
        for text in ["", "  \n", "{}"] {
            assert!(parse_trusted_issuers(text).unwrap().is_empty());
        }
    }

    #[test]
    fn refuses_bad_settings_naming_the_field() {
        let one = |fields: &str| {
            format!(r#"{{"gh":{{"issuer":"https://i.example","audience":"a"{fields}}}}}"#)
        };
        let cases = [
            ("{".to_owned(), "TRUSTED_ISSUERS is invalid: not valid JSON"),
            ("[]".to_owned(), "TRUSTED_ISSUERS is invalid: not an object"),
            (
                r#"{"GitHub":{"issuer":"https://i.example","audience":"a"}}"#.to_owned(),
                "TRUSTED_ISSUERS is invalid: an issuer name",
            ),
            (r#"{"gh":[]}"#.to_owned(), "TRUSTED_ISSUERS.gh is invalid: not an object"),
            (r#"{"gh":{"audience":"a"}}"#.to_owned(), "TRUSTED_ISSUERS.gh.issuer is not set"),
            (
                r#"{"gh":{"issuer":"https://i.example"}}"#.to_owned(),
                "TRUSTED_ISSUERS.gh.audience is not set",
            ),
            (one(r#","extra":1"#), "TRUSTED_ISSUERS.gh is invalid: an unknown field"),
            (
                r#"{"gh":{"issuer":"http://i.example","audience":"a"}}"#.to_owned(),
                "TRUSTED_ISSUERS.gh.issuer is invalid: must use https://",
            ),
            (
                r#"{"gh":{"issuer":5,"audience":"a"}}"#.to_owned(),
                "TRUSTED_ISSUERS.gh.issuer is invalid: must be a string",
            ),
            (
                r#"{"gh":{"issuer":"https://i.example","audience":[]}}"#.to_owned(),
                "TRUSTED_ISSUERS.gh.audience is invalid",
            ),
            (
                r#"{"gh":{"issuer":"https://i.example","audience":[1]}}"#.to_owned(),
                "TRUSTED_ISSUERS.gh.audience is invalid",
            ),
            (
                r#"{"gh":{"issuer":"https://i.example","audience":""}}"#.to_owned(),
                "TRUSTED_ISSUERS.gh.audience is invalid: an empty audience",
            ),
            (
                one(r#","jwks_url":"http://keys.example/""#),
                "TRUSTED_ISSUERS.gh.jwks_url is invalid",
            ),
            (one(r#","jwks_url":null"#), "TRUSTED_ISSUERS.gh.jwks_url is invalid"),
            (one(r#","algorithms":["none"]"#), "TRUSTED_ISSUERS.gh.algorithms is invalid: only RS256 and ES256"),
            (one(r#","algorithms":["HS256"]"#), "TRUSTED_ISSUERS.gh.algorithms is invalid: only RS256 and ES256"),
            (one(r#","algorithms":["RS256","rs256"]"#), "TRUSTED_ISSUERS.gh.algorithms is invalid"),
            (one(r#","algorithms":[]"#), "TRUSTED_ISSUERS.gh.algorithms is invalid: an empty list"),
            (one(r#","algorithms":"RS256""#), "TRUSTED_ISSUERS.gh.algorithms is invalid"),
            (one(r#","max_ttl_s":0"#), "TRUSTED_ISSUERS.gh.max_ttl_s is invalid: must be greater than 0"),
            (one(r#","max_ttl_s":-1"#), "TRUSTED_ISSUERS.gh.max_ttl_s is invalid"),
            (one(r#","max_ttl_s":"60""#), "TRUSTED_ISSUERS.gh.max_ttl_s is invalid"),
            (
                r#"{"a":{"issuer":"https://i.example","audience":"x"},"b":{"issuer":"https://i.example","audience":"y"}}"#.to_owned(),
                "TRUSTED_ISSUERS.b.issuer is invalid: the same issuer",
            ),
        ];
        for (text, want) in cases {
            let got = err(&text);
            assert!(got.starts_with(want), "{text}: {got}");
        }
    }

    #[test]
    fn errors_never_quote_values() {
        for text in [
            r#"{"gh":{"issuer":"http://secret.example","audience":"a"}}"#,
            r#"{"gh":{"issuer":"https://i.example","audience":"a","algorithms":["secretalg"]}}"#,
            r#"{"gh":{"issuer":"https://i.example","audience":"a","secretfield":1}}"#,
            r#"{"secret name":{"issuer":"https://i.example","audience":"a"}}"#,
            r#"{"gh":{"issuer":"secret"#,
        ] {
            assert!(!err(text).contains("secret"), "{text}");
        }
    }

    // --- read ---

    #[test]
    fn reads_a_token() {
        let t = rs(r#"{"sub":"x"}"#);
        let u = read(&t).unwrap();
        assert_eq!(u.header.alg, Algorithm::Rs256);
        assert_eq!(u.header.kid.as_deref(), Some("k1"));
        assert_eq!(u.claims.get("sub"), Some(&json!("x")));
        assert_eq!(u.signature, b"sig");
        let dot = t.rfind('.').unwrap();
        assert_eq!(u.signing_input, t.as_bytes()[..dot]);

        let es = token(r#"{"alg":"ES256"}"#, "{}", &[7; 64]);
        let u = read(&es).unwrap();
        assert_eq!(
            u.header,
            Header {
                alg: Algorithm::Es256,
                kid: None
            }
        );
    }

    #[test]
    fn refuses_malformed_tokens() {
        let long = rs(&format!(r#"{{"pad":"{}"}}"#, "x".repeat(MAX_TOKEN_LEN)));
        assert_eq!(read(&long), Err(JwtError::TooLong));
        let t = rs("{}");
        assert_eq!(read(&format!("{t}.x")), Err(JwtError::NotCompact));
        assert_eq!(read("a.b"), Err(JwtError::NotCompact));
        assert_eq!(read("opaque"), Err(JwtError::NotCompact));

        let parts: Vec<&str> = t.split('.').collect();
        let with = |i: usize, s: &str| {
            let mut p = parts.clone();
            p[i] = s;
            p.join(".")
        };
        // `{}` is "e30": padded "e30=" is refused, as are standard-base64 characters.
        let padded = with(1, "e30=");
        assert_eq!(
            read(&padded),
            Err(JwtError::BadEncoding { part: "payload" })
        );
        assert_eq!(
            read(&with(0, "ab+/")),
            Err(JwtError::BadEncoding { part: "header" })
        );
        assert_eq!(
            read(&with(2, "c2ln=")),
            Err(JwtError::BadEncoding { part: "signature" })
        );
        assert_eq!(
            read(&with(2, "")),
            Err(JwtError::BadEncoding { part: "signature" })
        );
        let short_es = token(r#"{"alg":"ES256"}"#, "{}", &[7; 63]);
        assert_eq!(
            read(&short_es),
            Err(JwtError::BadEncoding { part: "signature" })
        );

        for payload in ["[]", "5", "\"x\"", "{", "null"] {
            assert_eq!(read(&rs(payload)), Err(JwtError::BadPayload), "{payload}");
        }
        for header in ["[]", "{", r#""RS256""#, r#"{"alg":"RS256","kid":5}"#] {
            assert_eq!(
                read(&token(header, "{}", b"s")),
                Err(JwtError::BadHeader),
                "{header}"
            );
        }
        for header in [
            r#"{}"#,
            r#"{"alg":"none"}"#,
            r#"{"alg":"HS256"}"#,
            r#"{"alg":"rs256"}"#,
            r#"{"alg":"PS256"}"#,
            r#"{"alg":null}"#,
            r#"{"alg":["RS256"]}"#,
        ] {
            assert_eq!(
                read(&token(header, "{}", b"s")),
                Err(JwtError::BadAlgorithm),
                "{header}"
            );
        }
        for crit in [r#"["exp"]"#, "[]", "null"] {
            let h = format!(r#"{{"alg":"RS256","crit":{crit}}}"#);
            assert_eq!(
                read(&token(&h, "{}", b"s")),
                Err(JwtError::CriticalHeader),
                "{crit}"
            );
        }
        let h = r#"{"alg":"RS256","crit":["exp"],"exp":1}"#;
        assert_eq!(read(&token(h, "{}", b"s")), Err(JwtError::CriticalHeader));
    }

    // --- check_claims ---

    #[test]
    fn accepts_good_claims() {
        assert_eq!(check_claims(&claims(json!({})), &issuer(), NOW), Ok(()));
        let c = claims(json!({"aud": ["x", "other"], "nbf": NOW - 5, "exp": NOW as f64 + 0.5}));
        assert_eq!(check_claims(&c, &issuer(), NOW), Ok(()));
    }

    #[test]
    fn issuer_must_be_exact() {
        for iss in [
            json!(null),
            json!("https://token.actions.githubusercontent.com/"),
            json!("https://TOKEN.actions.githubusercontent.com"),
            json!(["https://token.actions.githubusercontent.com"]),
        ] {
            let c = claims(json!({ "iss": iss }));
            assert_eq!(check_claims(&c, &issuer(), NOW), Err(JwtError::WrongIssuer));
        }
    }

    #[test]
    fn audience_as_string_or_array() {
        for ok in [
            json!("ims-broker"),
            json!("other"),
            json!(["a", "ims-broker"]),
            json!([1, "other"]),
        ] {
            let c = claims(json!({ "aud": ok }));
            assert_eq!(check_claims(&c, &issuer(), NOW), Ok(()), "{ok}");
        }
        for bad in [
            json!(null),
            json!("ims"),
            json!([]),
            json!(["x", "y"]),
            json!(5),
            json!({"a": "ims-broker"}),
        ] {
            let c = claims(json!({ "aud": bad }));
            assert_eq!(
                check_claims(&c, &issuer(), NOW),
                Err(JwtError::WrongAudience),
                "{bad}"
            );
        }
    }

    #[test]
    fn expiry_required_with_sixty_seconds_of_skew() {
        for bad in [json!(null), json!("1800000000"), json!(-1), json!(true)] {
            let c = claims(json!({ "exp": bad }));
            assert_eq!(
                check_claims(&c, &issuer(), NOW),
                Err(JwtError::NoExpiry),
                "{bad}"
            );
        }
        let at = |exp: u64| {
            check_claims(
                &claims(json!({"exp": exp, "iat": NOW - 600})),
                &issuer(),
                NOW,
            )
        };
        assert_eq!(at(NOW - 60), Ok(()));
        assert_eq!(at(NOW - 61), Err(JwtError::Expired));
    }

    #[test]
    fn nbf_and_iat_with_sixty_seconds_of_skew() {
        for claim in ["nbf", "iat"] {
            let at = |t: u64| {
                let mut c = claims(json!({"exp": NOW + 600}));
                c.insert(claim.into(), json!(t));
                check_claims(&c, &issuer(), NOW)
            };
            assert_eq!(at(NOW + 60), Ok(()), "{claim}");
            assert_eq!(
                at(NOW + 61),
                Err(JwtError::NotYetValid { claim }),
                "{claim}"
            );
            let mut c = claims(json!({}));
            c.insert(claim.into(), json!("now"));
            assert_eq!(
                check_claims(&c, &issuer(), NOW),
                Err(JwtError::BadTime { claim })
            );
        }
    }

    #[test]
    fn lifetime_at_most_max_ttl() {
        let with_iat = |exp: u64| {
            check_claims(
                &claims(json!({"iat": NOW - 100, "exp": exp})),
                &issuer(),
                NOW,
            )
        };
        assert_eq!(with_iat(NOW - 100 + 3600), Ok(()));
        assert_eq!(with_iat(NOW - 100 + 3601), Err(JwtError::LifetimeTooLong));
        let no_iat =
            |exp: u64| check_claims(&claims(json!({"iat": null, "exp": exp})), &issuer(), NOW);
        assert_eq!(no_iat(NOW + 3600), Ok(()));
        assert_eq!(no_iat(NOW + 3601), Err(JwtError::LifetimeTooLong));
    }

    #[test]
    fn issuer_algorithms() {
        let mut i = issuer();
        i.algorithms = vec![Algorithm::Es256];
        assert_eq!(i.check_algorithm(Algorithm::Es256), Ok(()));
        assert_eq!(
            i.check_algorithm(Algorithm::Rs256),
            Err(JwtError::AlgorithmNotAllowed)
        );
    }

    // --- keys ---

    fn jwks() -> Vec<Jwk> {
        parse_jwks(
            r#"{"keys":[{"kty":"RSA","kid":"k1","alg":"RS256","n":"AQAB","e":"AQAB","use":"sig"},
                        {"kty":"EC","kid":"k2","crv":"P-256","x":"x","y":"y"}]}"#,
        )
        .unwrap()
    }

    #[test]
    fn picks_keys() {
        let keys = jwks();
        let k1 = pick_key(Some("k1"), &keys).unwrap();
        assert_eq!(k1.kty, "RSA");
        assert_eq!(
            k1.json.get("n"),
            Some(&json!("AQAB")),
            "the whole key is kept"
        );
        assert_eq!(
            pick_key(Some("k2"), &keys).unwrap().kid.as_deref(),
            Some("k2")
        );
        assert_eq!(pick_key(Some("k3"), &keys), Err(JwtError::UnknownKid));
        assert_eq!(pick_key(None, &keys), Err(JwtError::NoKid));
        assert_eq!(
            pick_key(None, &keys[..1]).unwrap().kid.as_deref(),
            Some("k1")
        );
        assert_eq!(pick_key(Some("k2"), &keys[..1]), Err(JwtError::UnknownKid));
        assert_eq!(pick_key(None, &[]), Err(JwtError::NoKeys));
        assert_eq!(pick_key(Some("k1"), &[]), Err(JwtError::NoKeys));
    }

    #[test]
    fn key_must_suit_the_algorithm() {
        let keys = jwks();
        assert_eq!(keys[0].check_suits(Algorithm::Rs256), Ok(()));
        assert_eq!(
            keys[0].check_suits(Algorithm::Es256),
            Err(JwtError::KeyMismatch)
        );
        assert_eq!(keys[1].check_suits(Algorithm::Es256), Ok(()));
        assert_eq!(
            keys[1].check_suits(Algorithm::Rs256),
            Err(JwtError::KeyMismatch)
        );
        let p384 = parse_jwks(r#"{"keys":[{"kty":"EC","crv":"P-384"}]}"#).unwrap();
        assert_eq!(
            p384[0].check_suits(Algorithm::Es256),
            Err(JwtError::KeyMismatch)
        );
        let ps = parse_jwks(r#"{"keys":[{"kty":"RSA","alg":"PS256"}]}"#).unwrap();
        assert_eq!(
            ps[0].check_suits(Algorithm::Rs256),
            Err(JwtError::KeyMismatch)
        );
    }

    #[test]
    fn refuses_bad_key_sets() {
        for text in [
            "",
            "[]",
            r#"{"keys":{}}"#,
            r#"{"keys":[{"kid":"a"}]}"#,
            r#"{"keys":[{"kty":1}]}"#,
            r#"{"keys":[5]}"#,
        ] {
            assert_eq!(parse_jwks(text), Err(JwtError::BadKeySet), "{text}");
        }
        assert_eq!(parse_jwks(r#"{"keys":[]}"#), Ok(vec![]));
    }

    // --- bound claims ---

    fn bound(v: Value) -> BoundClaims {
        BoundClaims::parse(&v).unwrap()
    }

    #[test]
    fn bound_claims_shape() {
        assert!(BoundClaims::parse(&json!({}))
            .unwrap_err()
            .contains("at least one"));
        for bad in [
            json!({"sub": 5}),
            json!({"sub": {"a": "b"}}),
            json!({"sub": []}),
            json!({"sub": [1]}),
            json!({"sub": null}),
            json!(["sub"]),
            json!("sub"),
        ] {
            assert!(
                BoundClaims::parse(&bad)
                    .unwrap_err()
                    .contains("must be an object"),
                "{bad}"
            );
        }
        let b = bound(json!({"sub": "a", "ref": ["x", "y"]}));
        let got: Vec<_> = b.iter().collect();
        assert_eq!(
            got,
            vec![
                ("ref", &["x".to_owned(), "y".to_owned()][..]),
                ("sub", &["a".to_owned()][..])
            ]
        );
    }

    #[test]
    fn globs() {
        for (p, t, want) in [
            (
                "repo:acme/*:ref:refs/heads/main",
                "repo:acme/api:ref:refs/heads/main",
                true,
            ),
            (
                "repo:acme/*:ref:refs/heads/main",
                "repo:acme/a/b:ref:refs/heads/main",
                true,
            ),
            (
                "repo:acme/*:ref:refs/heads/main",
                "repo:acme/api:ref:refs/heads/dev",
                false,
            ),
            (
                "repo:acme/*:ref:refs/heads/main",
                "repo:evil/acme/api:ref:refs/heads/main",
                false,
            ),
            (
                "repo:acme/*:ref:refs/heads/main",
                "repo:acme/api:ref:refs/heads/main2",
                false,
            ),
            ("*", "", true),
            ("*", "anything/at:all", true),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "acb", false),
            ("**", "x", true),
            ("exact", "exact", true),
            ("exact", "exact2", false),
            ("exact", "Exact", false),
            ("a?c", "abc", false),
            ("a?c", "a?c", true),
            ("[ab]", "a", false),
            ("", "", true),
            ("", "x", false),
        ] {
            assert_eq!(glob_match(p, t), want, "{p} / {t}");
        }
    }

    #[test]
    fn matches_bound_claims() {
        let gh =
            bound(json!({"sub": "repo:acme/*:ref:refs/heads/main", "repository_owner": "acme"}));
        let tok = |sub: &str| obj(json!({"sub": sub, "repository_owner": "acme"}));
        assert!(gh.matches(&tok("repo:acme/api:ref:refs/heads/main")));
        assert!(!gh.matches(&tok("repo:acme/api:ref:refs/heads/feature")));
        assert!(
            !gh.matches(&obj(json!({"sub": "repo:acme/api:ref:refs/heads/main"}))),
            "every bound claim"
        );
        assert!(!gh.matches(&obj(
            json!({"sub": "repo:acme/api:ref:refs/heads/main", "repository_owner": 5})
        )));

        let any = bound(json!({"sub": "*"}));
        assert!(any.matches(&obj(json!({"sub": "x"}))));
        assert!(!any.matches(&obj(json!({}))), "absent claim");
        assert!(!any.matches(&obj(json!({"sub": null}))));
        assert!(!any.matches(&obj(json!({"sub": 1}))));

        let alts = bound(json!({"environment": ["prod", "staging"]}));
        assert!(alts.matches(&obj(json!({"environment": "staging"}))));
        assert!(!alts.matches(&obj(json!({"environment": "dev"}))));

        let groups = bound(json!({"groups": "team-*"}));
        assert!(groups.matches(&obj(json!({"groups": ["x", 3, "team-ims"]}))));
        assert!(!groups.matches(&obj(json!({"groups": ["x", "y"]}))));
        assert!(!groups.matches(&obj(json!({"groups": []}))));
    }

    #[test]
    fn access_service_token_shape() {
        // Cloudflare Access service tokens: empty `sub`, the service token in `common_name`.
        let access = obj(json!({
            "iss": "https://acme.cloudflareaccess.com",
            "aud": ["0123abcd"],
            "sub": "",
            "common_name": "ci-runner.access",
            "type": "app",
        }));
        assert!(bound(json!({"common_name": "ci-runner.access"})).matches(&access));
        assert!(!bound(json!({"common_name": "other.access"})).matches(&access));
        assert!(!bound(json!({"sub": "user-*"})).matches(&access));
        assert!(!bound(json!({"email": "*"})).matches(&access));
    }

    #[test]
    fn overlaps() {
        let o = |a: Value, b: Value| overlap(&bound(a), &bound(b));
        // Different claims: a token can carry both.
        assert!(o(json!({"sub": "a"}), json!({"aud2": "b"})));
        // Same claim, exact values.
        assert!(o(json!({"sub": "a"}), json!({"sub": "a"})));
        assert!(!o(json!({"sub": "a"}), json!({"sub": "b"})));
        assert!(o(json!({"sub": ["a", "b"]}), json!({"sub": ["c", "b"]})));
        assert!(!o(json!({"sub": ["a", "b"]}), json!({"sub": ["c", "d"]})));
        // Glob against exact: decided by matching.
        assert!(o(
            json!({"sub": "repo:acme/*"}),
            json!({"sub": "repo:acme/api"})
        ));
        assert!(!o(
            json!({"sub": "repo:acme/*"}),
            json!({"sub": "repo:evil/api"})
        ));
        assert!(!o(
            json!({"sub": "repo:evil/api"}),
            json!({"sub": "repo:acme/*"})
        ));
        // Two globs: prefixes and suffixes.
        assert!(o(json!({"sub": "*"}), json!({"sub": "anything*"})));
        assert!(o(json!({"sub": "repo:acme/*"}), json!({"sub": "repo:*"})));
        assert!(!o(
            json!({"sub": "repo:acme/*"}),
            json!({"sub": "repo:evil/*"})
        ));
        assert!(o(
            json!({"sub": "repo:acme/*:ref:refs/heads/main"}),
            json!({"sub": "repo:acme/api:*"})
        ));
        assert!(!o(
            json!({"sub": "repo:*:ref:refs/heads/main"}),
            json!({"sub": "repo:*:ref:refs/heads/dev"})
        ));
        // One disjoint claim is enough to keep them apart.
        assert!(!o(
            json!({"sub": "repo:acme/*", "environment": "prod"}),
            json!({"sub": "repo:acme/*", "environment": "dev"})
        ));
        assert!(o(
            json!({"sub": "repo:acme/*", "environment": "prod"}),
            json!({"sub": "repo:acme/api", "environment": "*"})
        ));
    }
}
