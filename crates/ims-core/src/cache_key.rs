//! The cache key of a token: credential name + client id + canonical scope set.
//!
//! The key is used both in the isolate's memory map and as the KV key, so it is bounded in
//! length (KV keys are at most 512 bytes): the scope set enters as the SHA-256 of its canonical
//! comma form. Credential names and client ids are short configuration values.

use crate::scope::ScopeSet;
use sha2::{Digest, Sha256};

/// Prefix of every token entry in KV; lets a KV listing find all token entries.
pub const TOKEN_KEY_PREFIX: &str = "token:v1:";

/// The segment that puts the broker's own tokens (for the I/O Management API) in a namespace of
/// their own: after `<credential>:<client id>:`, where a caller's key has only hex digits.
pub const BROKER_SEGMENT: &str = "broker:";

/// Whose token a cache entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenUse {
    /// Handed to callers.
    #[default]
    Callers,
    /// The broker's own, for its secret management; never handed to a caller.
    Broker,
}

/// Builds the cache key of a callers' token for a credential, client id and scope set.
pub fn cache_key(credential: &str, client_id: &str, scopes: &ScopeSet) -> String {
    key_for(TokenUse::Callers, credential, client_id, scopes)
}

/// Builds the cache key of a token of `use_`: a broker's key can never equal a caller's, whatever
/// the scopes.
pub fn key_for(use_: TokenUse, credential: &str, client_id: &str, scopes: &ScopeSet) -> String {
    let digest = Sha256::digest(scopes.to_comma().as_bytes());
    let segment = match use_ {
        TokenUse::Callers => "",
        TokenUse::Broker => BROKER_SEGMENT,
    };
    format!(
        "{TOKEN_KEY_PREFIX}{credential}:{client_id}:{segment}{}",
        crate::hex::encode(&digest[..16])
    )
}

/// Whose token the entry under `key` holds (keys from [`key_for`]).
pub fn use_of(key: &str) -> TokenUse {
    let last = key.rsplit(':').nth(1).unwrap_or_default();
    if format!("{last}:") == BROKER_SEGMENT {
        TokenUse::Broker
    } else {
        TokenUse::Callers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_set_same_key_other_set_other_key() {
        let a = ScopeSet::from_comma("AdobeID,openid").unwrap();
        let b = ScopeSet::from_names(["openid", " AdobeID", "openid"]).unwrap();
        let c = ScopeSet::from_comma("openid").unwrap();
        assert_eq!(
            cache_key("default", "cid", &a),
            cache_key("default", "cid", &b)
        );
        assert_ne!(
            cache_key("default", "cid", &a),
            cache_key("default", "cid", &c)
        );
        assert_ne!(
            cache_key("default", "cid", &a),
            cache_key("other", "cid", &a)
        );
        assert_ne!(
            cache_key("default", "cid", &a),
            cache_key("default", "cid2", &a)
        );
        assert!(cache_key("default", "cid", &a).starts_with(TOKEN_KEY_PREFIX));
    }

    #[test]
    fn the_brokers_own_tokens_have_keys_no_caller_key_can_equal() {
        let scopes = ScopeSet::from_comma("AdobeID,openid,read_client_secret").unwrap();
        let broker = key_for(TokenUse::Broker, "default", "cid", &scopes);
        let caller = key_for(TokenUse::Callers, "default", "cid", &scopes);
        assert_ne!(broker, caller);
        assert_eq!(caller, cache_key("default", "cid", &scopes));
        assert_eq!(use_of(&broker), TokenUse::Broker);
        assert_eq!(use_of(&caller), TokenUse::Callers);
        // Both are found by a listing of the credential's entries.
        assert!(broker.starts_with("token:v1:default:cid:"));
    }

    #[test]
    fn key_is_bounded_for_64_long_scopes() {
        let names: Vec<String> = (0..64).map(|i| format!("{i}{}", "x".repeat(120))).collect();
        let set = ScopeSet::from_names(&names).unwrap();
        assert!(
            cache_key(
                "a-32-character-credential-name-x",
                "c".repeat(64).as_str(),
                &set
            )
            .len()
                < 200
        );
    }
}
