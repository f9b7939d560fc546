//! The two memos the cache-hit path keeps per isolate, for speed only: each saves work that
//! every hit would otherwise repeat for the same few values. `BENCHMARKS.md` ("Hit-path memos")
//! gives the measured gain that keeps them; without it they would go.
//!
//! - [`CacheKeys`]: the cache key of a credential's scope set holds a SHA-256 of the scopes.
//! - [`QuotedTokens`]: a token's value as a JSON string (quotes, escapes) for the answer: a
//!   token is about 1 KiB, and serde_json checks every byte for escaping on every hit.
//!
//! Both are bounded; past the bound they start again.

use ims_core::memo::Bounded;
use ims_core::policy::CachedToken;
use ims_core::ScopeSet;
use serde_json::value::RawValue;
use std::rc::Rc;

/// Most entries per memo.
const MAX_ENTRIES: usize = 1024;

/// Cache keys by credential name, client id and scope set.
pub struct CacheKeys(Bounded<(String, String, ScopeSet), Rc<str>>);

impl CacheKeys {
    /// An empty memo.
    pub fn new() -> Self {
        Self(Bounded::new(MAX_ENTRIES))
    }

    /// The cache key of `credential`'s (`client_id`'s) token for `scopes`.
    pub fn key(&mut self, credential: &str, client_id: &str, scopes: &ScopeSet) -> Rc<str> {
        let id = (credential.to_owned(), client_id.to_owned(), scopes.clone());
        if let Some(key) = self.0.get(&id) {
            return Rc::clone(key);
        }
        let key: Rc<str> = ims_core::cache_key::cache_key(credential, client_id, scopes).into();
        Rc::clone(self.0.insert(id, key))
    }
}

/// Tokens' values as JSON strings, by the token they belong to.
pub struct QuotedTokens(Bounded<usize, (Rc<CachedToken>, Rc<RawValue>)>);

impl QuotedTokens {
    /// An empty memo.
    pub fn new() -> Self {
        Self(Bounded::new(MAX_ENTRIES))
    }

    /// `token`'s value as a JSON string. Kept by the token's address, checked against the token
    /// itself (the entry holds the token, so its address is not reused while it is there).
    pub fn quoted(&mut self, token: &Rc<CachedToken>) -> Rc<RawValue> {
        let id = Rc::as_ptr(token) as usize;
        if let Some((kept, quoted)) = self.0.get(&id) {
            if Rc::ptr_eq(kept, token) {
                return Rc::clone(quoted);
            }
        }
        let quoted: Rc<RawValue> = serde_json::value::to_raw_value(token.access_token.secret())
            .map(Rc::from)
            .unwrap_or_else(|_| Rc::from(RawValue::NULL.to_owned()));
        Rc::clone(&self.0.insert(id, (Rc::clone(token), quoted)).1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ims_core::AccessToken;

    fn token(value: &str) -> Rc<CachedToken> {
        Rc::new(CachedToken {
            access_token: AccessToken::new(value),
            scope: "openid".into(),
            sent_at_ms: 1,
            expires_at_ms: 2,
        })
    }

    #[test]
    fn a_key_is_the_cache_key_of_its_scope_set() {
        let mut keys = CacheKeys::new();
        let scopes = ScopeSet::from_comma("openid,AdobeID").expect("scopes");
        let first = keys.key("default", "cid", &scopes);
        assert_eq!(
            &*first,
            ims_core::cache_key::cache_key("default", "cid", &scopes)
        );
        assert!(Rc::ptr_eq(&first, &keys.key("default", "cid", &scopes)));
        assert_ne!(first, keys.key("other", "cid", &scopes));
    }

    #[test]
    fn a_quoted_token_is_the_json_string_of_that_token_only() {
        let mut quoted = QuotedTokens::new();
        let a = token(r#"a"b\c"#);
        assert_eq!(quoted.quoted(&a).get(), r#""a\"b\\c""#);
        let b = token("b");
        assert_eq!(quoted.quoted(&b).get(), r#""b""#);
        drop(a);
        // Another token, perhaps at the same address: never the first one's value.
        let c = token("c");
        assert_eq!(quoted.quoted(&c).get(), r#""c""#);
    }
}
