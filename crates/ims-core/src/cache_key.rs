//! The cache key of a token: credential name + client id + canonical scope set.
//!
//! The key is used both in the isolate's memory map and as the KV key, so it is bounded in
//! length (KV keys are at most 512 bytes): the scope set enters as the SHA-256 of its canonical
//! comma form. Credential names and client ids are short configuration values.

use crate::scope::ScopeSet;
use sha2::{Digest, Sha256};

/// Prefix of every token entry in KV; lets a KV listing find all token entries.
pub const TOKEN_KEY_PREFIX: &str = "token:v1:";

/// Builds the cache key for a credential, client id and scope set.
pub fn cache_key(credential: &str, client_id: &str, scopes: &ScopeSet) -> String {
    let digest = Sha256::digest(scopes.to_comma().as_bytes());
    format!(
        "{TOKEN_KEY_PREFIX}{credential}:{client_id}:{}",
        crate::hex::encode(&digest[..16])
    )
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
