//! Scope canonicalisation ([RFC 6749 §3.3](https://www.rfc-editor.org/rfc/rfc6749#section-3.3)).
//!
//! Adobe joins scopes with commas, RFC 6749 with spaces, and callers send lists. Every spelling
//! becomes one [`ScopeSet`]: trimmed, de-duplicated, sorted, each name from a safe character set,
//! at most [`MAX_SCOPES`] names. Two spellings of the same set therefore share one cache entry.

use std::collections::BTreeSet;

/// Most scope names one set may hold.
pub const MAX_SCOPES: usize = 64;
/// Longest scope name accepted, in bytes.
pub const MAX_SCOPE_LEN: usize = 128;

/// Why a scope list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// A name holds a character outside `A-Z a-z 0-9 _ . : / -`, or is longer than
    /// [`MAX_SCOPE_LEN`]. The offending name is echoed, truncated, since it is caller input.
    #[error("invalid scope name {0:?}: use letters, digits and _ . : / - (at most 128)")]
    InvalidName(String),
    /// More than [`MAX_SCOPES`] distinct names.
    #[error("too many scopes: {0} (at most 64)")]
    TooMany(usize),
}

/// A canonical set of scope names: sorted, unique, validated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ScopeSet(BTreeSet<String>);

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_SCOPE_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'/' | b'-'))
}

impl ScopeSet {
    /// Builds a set from individual names; blank items (after trimming) are skipped.
    pub fn from_names<I, S>(names: I) -> Result<Self, ScopeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut set = BTreeSet::new();
        for raw in names {
            let name = raw.as_ref().trim();
            if name.is_empty() {
                continue;
            }
            if !valid_name(name) {
                return Err(ScopeError::InvalidName(name.chars().take(64).collect()));
            }
            set.insert(name.to_owned());
            if set.len() > MAX_SCOPES {
                return Err(ScopeError::TooMany(set.len()));
            }
        }
        Ok(Self(set))
    }

    /// Parses Adobe's comma-separated form (`"openid,AdobeID"`).
    pub fn from_comma(list: &str) -> Result<Self, ScopeError> {
        Self::from_names(list.split(','))
    }

    /// Parses the RFC 6749 space-separated form (`"openid AdobeID"`).
    pub fn from_space(list: &str) -> Result<Self, ScopeError> {
        Self::from_names(list.split(' '))
    }

    /// The canonical comma list Adobe expects, e.g. `"AdobeID,openid"`.
    pub fn to_comma(&self) -> String {
        self.join(",")
    }

    /// The RFC 6749 space-separated form.
    pub fn to_space(&self) -> String {
        self.join(" ")
    }

    fn join(&self, sep: &str) -> String {
        let mut out = String::new();
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                out.push_str(sep);
            }
            out.push_str(name);
        }
        out
    }

    /// True when the set holds no name.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The names, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// True when `name` is in the set.
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_set_are_equal() {
        let a = ScopeSet::from_comma("AdobeID,openid").unwrap();
        let b = ScopeSet::from_names(["openid", " AdobeID", "openid"]).unwrap();
        let c = ScopeSet::from_space("openid  AdobeID ").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a.to_comma(), "AdobeID,openid");
        assert_eq!(a.to_space(), "AdobeID openid");
    }

    #[test]
    fn different_sets_differ() {
        let a = ScopeSet::from_comma("openid").unwrap();
        let b = ScopeSet::from_comma("openid,AdobeID").unwrap();
        assert_ne!(a, b);
        assert!(b.contains("AdobeID") && !a.contains("AdobeID"));
    }

    #[test]
    fn adobe_scope_names_are_accepted() {
        let s = ScopeSet::from_comma(
            "AdobeID,openid,read_organizations,additional_info.projectedProductContext",
        )
        .unwrap();
        assert_eq!(s.iter().count(), 4);
    }

    #[test]
    fn unsafe_names_are_refused() {
        for bad in ["open id", "a\"b", "x;y", "é", "a\nb", "a=b", "a&b"] {
            assert!(
                matches!(ScopeSet::from_names([bad]), Err(ScopeError::InvalidName(_))),
                "{bad:?} accepted"
            );
        }
        let long = "a".repeat(MAX_SCOPE_LEN + 1);
        assert!(ScopeSet::from_names([long]).is_err());
        assert!(ScopeSet::from_names(["a".repeat(MAX_SCOPE_LEN)]).is_ok());
    }

    #[test]
    fn at_most_64_scopes() {
        let ok: Vec<String> = (0..64).map(|i| format!("s{i}")).collect();
        assert!(ScopeSet::from_names(&ok).is_ok());
        let too_many: Vec<String> = (0..65).map(|i| format!("s{i}")).collect();
        assert_eq!(
            ScopeSet::from_names(&too_many),
            Err(ScopeError::TooMany(65))
        );
        // Duplicates do not count twice.
        let dup: Vec<String> = (0..100).map(|i| format!("s{}", i % 10)).collect();
        assert!(ScopeSet::from_names(&dup).is_ok());
    }

    #[test]
    fn blank_lists_are_empty() {
        assert!(ScopeSet::from_comma("").unwrap().is_empty());
        assert!(ScopeSet::from_comma(" , ,").unwrap().is_empty());
    }
}
