//! Reading a compact JWS ([RFC 7515](https://www.rfc-editor.org/rfc/rfc7515)) without
//! verifying it, and the claim checks of [RFC 7519 §4.1](https://www.rfc-editor.org/rfc/rfc7519#section-4.1).

use super::*;

/// The JOSE header of a token, as far as the broker uses it (`typ` is ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// `alg`: how the token is signed.
    pub alg: Algorithm,
    /// `kid`: which of the issuer's keys signed it.
    pub kid: Option<String>,
}

/// A token read but not verified: nothing in it may be trusted until the Worker has checked
/// [`signature`](Self::signature) over [`signing_input`](Self::signing_input) and
/// [`check_claims`] has passed.
///
/// Its `Debug` shows the header and the claims' names only: the signing input and the signature
/// together are the token, a credential that must not reach a log or a panic message.
#[derive(Clone, PartialEq)]
pub struct Unverified {
    /// The header.
    pub header: Header,
    /// The claims (the payload's members).
    pub claims: Map<String, Value>,
    /// What was signed: the ASCII bytes of `header.payload`, as they came.
    pub signing_input: Vec<u8>,
    /// The decoded signature (for ES256, `r || s`, 64 bytes, as WebCrypto expects).
    pub signature: Vec<u8>,
}

impl std::fmt::Debug for Unverified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unverified")
            .field("header", &self.header)
            .field("claims", &self.claims.keys().collect::<Vec<_>>())
            .field("signing_input", &"[redacted]")
            .field("signature", &"[redacted]")
            .finish()
    }
}

/// The header as written (`alg` is judged after `crit`; other parameters are ignored).
#[derive(Deserialize)]
struct RawHeader {
    #[serde(default)]
    alg: Option<Value>,
    #[serde(default, deserialize_with = "crate::config::present")]
    kid: Option<String>,
}

/// Reads a compact JWS (`header.payload.signature`, each base64url without padding).
///
/// Refuses a token longer than [`MAX_TOKEN_LEN`], not of three parts, not base64url, whose header
/// or payload is not a JSON object, whose `alg` is not RS256 or ES256, or with a `crit` header.
pub fn read(token: &str) -> Result<Unverified, JwtError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwtError::TooLong);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::NotCompact);
    };
    let decode = |part: &str, name: &'static str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| JwtError::BadEncoding { part: name })
    };
    let header_bytes = decode(h, "header")?;
    let payload_bytes = decode(p, "payload")?;
    let signature = decode(s, "signature")?;

    let header: Value = serde_json::from_slice(&header_bytes).map_err(|_| JwtError::BadHeader)?;
    let Some(members) = header.as_object() else {
        return Err(JwtError::BadHeader);
    };
    // RFC 7515 §4.1.11: an extension the recipient must understand; none is. Present at all,
    // whatever its value, is refused.
    if members.contains_key("crit") {
        return Err(JwtError::CriticalHeader);
    }
    let raw = RawHeader::deserialize(&header).map_err(|_| JwtError::BadHeader)?;
    let alg = raw
        .alg
        .as_ref()
        .and_then(Value::as_str)
        .and_then(Algorithm::from_name)
        .ok_or(JwtError::BadAlgorithm)?;
    let sig_ok = match alg {
        Algorithm::Es256 => signature.len() == 64,
        Algorithm::Rs256 => !signature.is_empty(),
    };
    if !sig_ok {
        return Err(JwtError::BadEncoding { part: "signature" });
    }
    let claims = match serde_json::from_slice(&payload_bytes) {
        Ok(Value::Object(claims)) => claims,
        _ => return Err(JwtError::BadPayload),
    };
    Ok(Unverified {
        header: Header { alg, kid: raw.kid },
        claims,
        signing_input: token.as_bytes()[..h.len() + 1 + p.len()].to_vec(),
        signature,
    })
}

/// The token's `exp` in whole seconds, when it has a valid one ([`check_claims`] requires it).
pub fn expiry_s(claims: &Map<String, Value>) -> Option<u64> {
    numeric_date(claims, "exp").ok().flatten()
}

/// The SHA-256 of a presented token: what an isolate remembers a verified token by, so that no
/// token is kept in memory longer than its request.
pub fn token_digest(token: &crate::IdentityToken) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.secret().as_bytes()).into()
}

/// A NumericDate claim (RFC 7519 §2) in whole seconds: `None` when absent, an error when not a
/// non-negative number.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<u64>, ()> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(u) = n.as_u64() {
                Ok(Some(u))
            } else {
                match n.as_f64() {
                    // Fractional seconds are allowed; whole seconds are enough here.
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    Some(f) if f.is_finite() && f >= 0.0 => Ok(Some(f.floor() as u64)),
                    _ => Err(()),
                }
            }
        }
        Some(_) => Err(()),
    }
}

/// Checks the registered claims of a token from `issuer`, at `now_s` (epoch seconds):
///
/// - `iss` is exactly the issuer's `issuer`;
/// - `aud` (a string or a list) contains one of its audiences;
/// - `exp` is present, a number, and not past by more than [`CLOCK_SKEW_S`];
/// - `nbf` and `iat`, when present, are not ahead of `now_s` by more than [`CLOCK_SKEW_S`];
/// - the lifetime, `exp - iat` (or `exp - now_s` without `iat`), is at most `max_ttl_s`.
pub fn check_claims(
    claims: &Map<String, Value>,
    issuer: &TrustedIssuer,
    now_s: u64,
) -> Result<(), JwtError> {
    if claims.get("iss").and_then(Value::as_str) != Some(issuer.issuer.as_str()) {
        return Err(JwtError::WrongIssuer);
    }
    let accepted = |a: &Value| {
        a.as_str()
            .is_some_and(|a| issuer.audiences.iter().any(|x| x == a))
    };
    let aud_ok = match claims.get("aud") {
        Some(Value::Array(list)) => list.iter().any(accepted),
        Some(one) => accepted(one),
        None => false,
    };
    if !aud_ok {
        return Err(JwtError::WrongAudience);
    }
    let exp = numeric_date(claims, "exp")
        .ok()
        .flatten()
        .ok_or(JwtError::NoExpiry)?;
    if now_s > exp.saturating_add(CLOCK_SKEW_S) {
        return Err(JwtError::Expired);
    }
    let mut iat = None;
    for claim in ["nbf", "iat"] {
        let t = numeric_date(claims, claim).map_err(|()| JwtError::BadTime { claim })?;
        if let Some(t) = t {
            if t > now_s.saturating_add(CLOCK_SKEW_S) {
                return Err(JwtError::NotYetValid { claim });
            }
            if claim == "iat" {
                iat = Some(t);
            }
        }
    }
    if exp.saturating_sub(iat.unwrap_or(now_s)) > issuer.max_ttl_s {
        return Err(JwtError::LifetimeTooLong);
    }
    Ok(())
}
