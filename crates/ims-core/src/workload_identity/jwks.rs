//! An issuer's keys ([JWK Set, RFC 7517 §5](https://www.rfc-editor.org/rfc/rfc7517#section-5))
//! and which of them verifies a token.

use super::*;

/// A public key of an issuer's JWKS (RFC 7517). Only what chooses the key is read; the whole
/// object is kept for the Worker to import with WebCrypto as it is.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Map<String, Value>")]
pub struct Jwk {
    /// `kty`: `RSA`, `EC`, ….
    pub kty: String,
    /// `kid`: the key's id.
    pub kid: Option<String>,
    /// `alg`: the algorithm the key is for, when the set says.
    pub alg: Option<String>,
    /// The whole key object.
    pub json: Map<String, Value>,
}

impl TryFrom<Map<String, Value>> for Jwk {
    type Error = &'static str;
    fn try_from(json: Map<String, Value>) -> Result<Self, Self::Error> {
        let text = |name: &str| match json.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err("a key member that is not a string"),
        };
        Ok(Self {
            kty: text("kty")?.ok_or("a key without kty")?,
            kid: text("kid")?,
            alg: text("alg")?,
            json,
        })
    }
}

impl Jwk {
    /// `Ok` when this key can verify a signature of `alg`: RSA for RS256, EC on P-256 for ES256,
    /// and the key's own `alg`, when given, is `alg`.
    pub fn check_suits(&self, alg: Algorithm) -> Result<(), JwtError> {
        let kind_ok = match alg {
            Algorithm::Rs256 => self.kty == "RSA",
            Algorithm::Es256 => {
                self.kty == "EC" && self.json.get("crv").and_then(Value::as_str) == Some("P-256")
            }
        };
        if kind_ok && self.alg.as_deref().is_none_or(|a| a == alg.as_str()) {
            Ok(())
        } else {
            Err(JwtError::KeyMismatch)
        }
    }
}

/// Reads a JWKS document (`{"keys": [...]}`).
pub fn parse_jwks(text: &str) -> Result<Vec<Jwk>, JwtError> {
    #[derive(Deserialize)]
    struct Set {
        keys: Vec<Jwk>,
    }
    serde_json::from_str::<Set>(text)
        .map(|s| s.keys)
        .map_err(|_| JwtError::BadKeySet)
}

/// The key of `keys` that signed a token with key id `kid`: the key with that `kid`; without a
/// `kid`, the only key of a one-key set (a `kid` is required when there are several).
pub fn pick_key<'a>(kid: Option<&str>, keys: &'a [Jwk]) -> Result<&'a Jwk, JwtError> {
    match (kid, keys) {
        (_, []) => Err(JwtError::NoKeys),
        (Some(kid), _) => keys
            .iter()
            .find(|k| k.kid.as_deref() == Some(kid))
            .ok_or(JwtError::UnknownKid),
        (None, [only]) => Ok(only),
        (None, _) => Err(JwtError::NoKid),
    }
}
