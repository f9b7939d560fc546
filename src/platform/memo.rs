//! The memos the cache-hit path keeps per isolate, for speed only: each saves work that every
//! hit would otherwise repeat for the same few values. `BENCHMARKS.md` ("Hit-path memos") gives
//! the measured gain that keeps them; without it they would go.
//!
//! - [`Parsed`]: request bodies parsed lately (callers send the same few bodies again and again).
//! - [`CacheKeys`]: the cache key of a credential's scope set holds a SHA-256 of the scopes.
//! - [`QuotedTokens`]: a token's value as a JSON string (quotes, escapes) for the answer: a
//!   token is about 1 KiB, and serde_json checks every byte for escaping on every hit.
//!
//! Both are bounded; past the bound they start again.

use ims_core::memo::Bounded;
use ims_core::policy::CachedToken;
use ims_core::ScopeSet;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::rc::Rc;

/// Most entries per memo.
const MAX_ENTRIES: usize = 1024;

/// Longest body kept by [`Parsed`].
const MAX_KEPT_BODY: usize = 1024;

/// What bodies parsed to, by their bytes. A body that does not parse is never kept.
pub struct Parsed<T>(Bounded<Vec<u8>, Rc<T>>);

impl<T> Parsed<T> {
    /// An empty memo.
    pub fn new() -> Self {
        Self(Bounded::new(MAX_ENTRIES))
    }

    /// What `bytes` parsed to the last time, else `parse(bytes)`'s answer (kept when it parsed
    /// and the body is short).
    pub fn parse<E>(
        &mut self,
        bytes: Vec<u8>,
        parse: impl FnOnce(&[u8]) -> Result<T, E>,
    ) -> Result<Rc<T>, E> {
        if let Some(kept) = self.0.get(&bytes) {
            return Ok(Rc::clone(kept));
        }
        let parsed = Rc::new(parse(&bytes)?);
        if bytes.len() <= MAX_KEPT_BODY {
            self.0.insert(bytes, Rc::clone(&parsed));
        }
        Ok(parsed)
    }
}

/// Cache keys by credential name and client id, then scope set (looked up without a copy of
/// either).
pub struct CacheKeys(HashMap<(String, String), Bounded<ScopeSet, Rc<str>>>);

impl CacheKeys {
    /// An empty memo.
    pub fn new() -> Self {
        Self(HashMap::new())
    }

    /// The cache key of `credential`'s (`client_id`'s) token for `scopes`.
    pub fn key(&mut self, credential: &str, client_id: &str, scopes: &ScopeSet) -> Rc<str> {
        let kept = self
            .0
            .iter_mut()
            .find(|((name, id), _)| name == credential && id == client_id);
        let keys = match kept {
            Some((_, keys)) => keys,
            None => self
                .0
                .entry((credential.to_owned(), client_id.to_owned()))
                .or_insert_with(|| Bounded::new(MAX_ENTRIES)),
        };
        if let Some(key) = keys.get(scopes) {
            return Rc::clone(key);
        }
        let key: Rc<str> = ims_core::cache_key::cache_key(credential, client_id, scopes).into();
        Rc::clone(keys.insert(scopes.clone(), key))
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
    fn a_body_sent_again_is_answered_from_the_memo_and_a_bad_one_is_never_kept() {
        let mut parsed: Parsed<String> = Parsed::new();
        let parse = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| "not text");
        let first = parsed.parse(b"abc".to_vec(), parse).expect("parses");
        let again = parsed
            .parse(b"abc".to_vec(), |_| Err("parsed again"))
            .expect("kept");
        assert!(Rc::ptr_eq(&first, &again));
        assert!(parsed.parse(vec![0xff], parse).is_err());
        assert_eq!(
            parsed.parse(vec![0xff], |_| Err("parsed again")),
            Err("parsed again"),
            "a body that did not parse is parsed again"
        );
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
