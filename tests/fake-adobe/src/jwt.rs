//! Fake Adobe IMS access tokens: the real JWT shape (three base64url segments without padding,
//! Adobe's header and claim names, times as strings of milliseconds) with a random "signature".

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;
use serde_json::Value;

use crate::rng;

/// The JOSE header of every token, exactly as rendered.
pub const HEADER_JSON: &str =
    r#"{"alg":"RS256","x5u":"ims_na1-key-at-1.cer","kid":"ims_na1-key-at-1","itt":"at"}"#;

/// Length of the random signature in bytes (an RSA-2048 signature's length).
pub const SIGNATURE_BYTES: usize = 256;

/// What goes into one token's claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims<'a> {
    /// The client the token is for.
    pub client_id: &'a str,
    /// The technical account (`user_id` and `aa_id`).
    pub tech_account_id: &'a str,
    /// The scope string as requested.
    pub scope: &'a str,
    /// Issue time, ms since the epoch (claim `created_at`, as a string).
    pub created_at_ms: u64,
    /// The `expires_in` claim, already a string (normally the lifetime in ms).
    pub expires_in_claim: &'a str,
    /// Lifetime in ms (used for `rtea`).
    pub lifetime_ms: u64,
}

/// The payload's claims, in Adobe's order.
#[derive(Serialize)]
struct Payload<'a> {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    client_id: &'a str,
    user_id: &'a str,
    #[serde(rename = "as")]
    authz_server: &'static str,
    aa_id: &'a str,
    ctp: u8,
    pac: String,
    rtid: String,
    moi: String,
    rtea: String,
    scope: &'a str,
    created_at: String,
    expires_in: &'a str,
}

/// Renders the payload JSON, claims in Adobe's order.
pub fn payload_json(c: &TokenClaims<'_>) -> String {
    let payload = Payload {
        id: format!("{}_{}_ue1", c.created_at_ms, rng::hex(12)),
        kind: "access_token",
        client_id: c.client_id,
        user_id: c.tech_account_id,
        authz_server: "ims-na1",
        aa_id: c.tech_account_id,
        ctp: 0,
        pac: format!("{}_{}", c.client_id, rng::hex(4)),
        rtid: format!("{}_{}", c.created_at_ms, rng::hex(8)),
        moi: rng::hex(4),
        rtea: c.created_at_ms.saturating_add(c.lifetime_ms).to_string(),
        scope: c.scope,
        created_at: c.created_at_ms.to_string(),
        expires_in: c.expires_in_claim,
    };
    serde_json::to_string(&payload).unwrap_or_default()
}

/// Mints a new, unique token.
pub fn mint(c: &TokenClaims<'_>) -> String {
    let mut sig = [0u8; SIGNATURE_BYTES];
    rng::fill(&mut sig);
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(HEADER_JSON),
        URL_SAFE_NO_PAD.encode(payload_json(c)),
        URL_SAFE_NO_PAD.encode(sig)
    )
}

/// Decodes one base64url (no padding) segment.
pub fn decode_segment(segment: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(segment).ok()
}

/// Decodes a token's payload as JSON, if it is one of ours (or at least JWT-shaped).
pub fn decode_payload(token: &str) -> Option<Value> {
    let mut parts = token.split('.');
    let (_, payload, _, None) = (parts.next()?, parts.next()?, parts.next()?, parts.next()) else {
        return None;
    };
    serde_json::from_slice(&decode_segment(payload)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> TokenClaims<'static> {
        TokenClaims {
            client_id: "my-client",
            tech_account_id: "ABC@techacct.adobe.com",
            scope: "openid,AdobeID,read_organizations",
            created_at_ms: 1_700_000_000_123,
            expires_in_claim: "86399000",
            lifetime_ms: 86_399_000,
        }
    }

    #[test]
    fn token_has_jwt_shape() {
        let token = mint(&claims());
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        for part in &parts {
            assert!(!part.is_empty());
            assert!(part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        }
        assert_eq!(
            decode_segment(parts[0]).as_deref(),
            Some(HEADER_JSON.as_bytes())
        );
        assert_eq!(
            decode_segment(parts[2]).map(|s| s.len()),
            Some(SIGNATURE_BYTES)
        );
    }

    #[test]
    fn payload_claims_are_adobe_shaped() {
        let token = mint(&claims());
        let p = decode_payload(&token).expect("payload decodes");
        assert_eq!(p["type"], "access_token");
        assert_eq!(p["client_id"], "my-client");
        assert_eq!(p["user_id"], "ABC@techacct.adobe.com");
        assert_eq!(p["aa_id"], "ABC@techacct.adobe.com");
        assert_eq!(p["as"], "ims-na1");
        assert_eq!(p["ctp"], 0);
        assert_eq!(p["scope"], "openid,AdobeID,read_organizations");
        assert_eq!(p["created_at"], "1700000000123");
        assert_eq!(p["expires_in"], "86399000");
        assert_eq!(p["rtea"], "1700086399123");
        for key in ["id", "pac", "rtid", "moi"] {
            assert!(p[key].as_str().is_some_and(|s| !s.is_empty()), "{key}");
        }
        let raw = String::from_utf8(
            decode_segment(token.split('.').nth(1).expect("payload")).expect("b64"),
        )
        .expect("utf8");
        assert!(raw.starts_with(r#"{"id":""#));
        assert!(raw.ends_with(r#""created_at":"1700000000123","expires_in":"86399000"}"#));
    }

    #[test]
    fn every_token_is_unique() {
        let a = mint(&claims());
        let b = mint(&claims());
        assert_ne!(a, b);
        assert_ne!(
            decode_payload(&a).expect("a")["id"],
            decode_payload(&b).expect("b")["id"]
        );
    }

    #[test]
    fn decode_payload_rejects_non_jwts() {
        assert_eq!(decode_payload("abc"), None);
        assert_eq!(decode_payload("a.b.c.d"), None);
        assert_eq!(decode_payload("a.eyJ9.c"), None);
    }
}
