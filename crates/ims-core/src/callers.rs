//! Caller authentication and authorisation from the `CALLER_KEYS` Worker secret.
//!
//! `CALLER_KEYS` is JSON, one entry per caller id:
//!
//! ```json
//! {"reporting": {"sha256": "<hex SHA-256 of the key>", "credentials": ["default"],
//!                "scopes": ["openid", "AdobeID"], "admin": false},
//!  "ops":       {"sha256": "…", "credentials": "*", "scopes": "*", "admin": true}}
//! ```
//!
//! Only digests are stored. A presented key is hashed and compared with every entry in constant
//! time, so neither timing nor early exit tells which prefix or entry matched.

use crate::config::ConfigError;
use crate::scope::ScopeSet;
use crate::secret::CallerKey;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use subtle::ConstantTimeEq;

const SETTING: &str = "CALLER_KEYS";

/// Either everything (`"*"`) or a list of names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowed {
    /// `"*"`: every name.
    All,
    /// Only these names.
    Only(BTreeSet<String>),
}

impl Allowed {
    /// True when `name` is allowed.
    pub fn allows(&self, name: &str) -> bool {
        match self {
            Self::All => true,
            Self::Only(names) => names.contains(name),
        }
    }
}

impl<'de> Deserialize<'de> for Allowed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Star(String),
            List(BTreeSet<String>),
        }
        match Raw::deserialize(d)? {
            Raw::Star(s) if s == "*" => Ok(Self::All),
            Raw::Star(_) => Err(serde::de::Error::custom("expected \"*\" or a list")),
            Raw::List(l) => Ok(Self::Only(l)),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCaller {
    sha256: String,
    credentials: Allowed,
    scopes: Allowed,
    #[serde(default)]
    admin: bool,
}

/// One caller of the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The caller id (the key of its `CALLER_KEYS` entry); logged, never secret.
    pub id: String,
    digest: [u8; 32],
    /// Credentials it may use.
    pub credentials: Allowed,
    /// Scope names it may request.
    pub scopes: Allowed,
    /// Admin callers may manage secrets and read metrics.
    pub admin: bool,
}

impl Caller {
    /// True when the caller may use the credential named `name`.
    pub fn may_use(&self, credential: &str) -> bool {
        self.credentials.allows(credential)
    }

    /// The first scope of `scopes` the caller may not request, if any.
    pub fn forbidden_scope<'a>(&self, scopes: &'a ScopeSet) -> Option<&'a str> {
        scopes.iter().find(|s| !self.scopes.allows(s))
    }
}

/// All callers, parsed from `CALLER_KEYS`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallerRegistry(Vec<Caller>);

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

impl CallerRegistry {
    /// Parses `CALLER_KEYS`. Errors name the caller id and what is wrong, never a digest.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        if text.trim().is_empty() {
            return Err(ConfigError::Missing {
                setting: SETTING.into(),
            });
        }
        let raw: BTreeMap<String, RawCaller> =
            serde_json::from_str(text).map_err(|e| ConfigError::json(SETTING, &e))?;
        let mut callers = Vec::with_capacity(raw.len());
        for (id, entry) in raw {
            if !valid_id(&id) {
                return Err(ConfigError::invalid(
                    SETTING,
                    "caller ids use letters, digits and _ . - (at most 64)",
                ));
            }
            let digest: [u8; 32] = crate::hex::decode(&entry.sha256)
                .and_then(|d| d.try_into().ok())
                .ok_or_else(|| {
                    ConfigError::invalid(
                        SETTING,
                        format!("caller {id}: sha256 is not 64 hex digits"),
                    )
                })?;
            callers.push(Caller {
                id,
                digest,
                credentials: entry.credentials,
                scopes: entry.scopes,
                admin: entry.admin,
            });
        }
        Ok(Self(callers))
    }

    /// The caller whose key digest equals SHA-256(`key`), compared in constant time against
    /// every entry.
    pub fn authenticate(&self, key: &CallerKey) -> Option<&Caller> {
        let presented: [u8; 32] = Sha256::digest(key.secret().as_bytes()).into();
        let mut found = None;
        for caller in &self.0 {
            if bool::from(caller.digest.ct_eq(&presented)) {
                found = Some(caller);
            }
        }
        found
    }

    /// Number of callers.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there is no caller.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The hex SHA-256 of a caller key, as written in `CALLER_KEYS`.
pub fn key_digest_hex(key: &CallerKey) -> String {
    crate::hex::encode(&Sha256::digest(key.secret().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> CallerRegistry {
        let a = key_digest_hex(&CallerKey::new("key-a"));
        let admin = key_digest_hex(&CallerKey::new("key-admin"));
        CallerRegistry::from_json(&format!(
            r#"{{"svc-a":{{"sha256":"{a}","credentials":["default"],"scopes":["openid","AdobeID"]}},
                "ops":{{"sha256":"{}","credentials":"*","scopes":"*","admin":true}}}}"#,
            admin.to_uppercase()
        ))
        .unwrap()
    }

    #[test]
    fn authenticates_by_digest() {
        let r = registry();
        assert_eq!(
            r.authenticate(&CallerKey::new("key-a")).unwrap().id,
            "svc-a"
        );
        let ops = r.authenticate(&CallerKey::new("key-admin")).unwrap();
        assert!(ops.admin);
        assert!(r.authenticate(&CallerKey::new("key-b")).is_none());
        assert!(r.authenticate(&CallerKey::new("")).is_none());
    }

    #[test]
    fn authorises_credentials_and_scopes() {
        let r = registry();
        let a = r.authenticate(&CallerKey::new("key-a")).unwrap();
        assert!(a.may_use("default"));
        assert!(!a.may_use("analytics"));
        let ok = ScopeSet::from_comma("openid").unwrap();
        let bad = ScopeSet::from_comma("openid,read_organizations").unwrap();
        assert_eq!(a.forbidden_scope(&ok), None);
        assert_eq!(a.forbidden_scope(&bad), Some("read_organizations"));
        let ops = r.authenticate(&CallerKey::new("key-admin")).unwrap();
        assert!(ops.may_use("anything"));
        assert_eq!(ops.forbidden_scope(&bad), None);
    }

    #[test]
    fn bad_config_is_a_clear_error_without_values() {
        assert_eq!(
            CallerRegistry::from_json(" "),
            Err(ConfigError::Missing {
                setting: "CALLER_KEYS".into()
            })
        );
        let e =
            CallerRegistry::from_json(r#"{"a":{"sha256":"abcd","credentials":"*","scopes":"*"}}"#)
                .unwrap_err();
        assert_eq!(
            e.to_string(),
            "CALLER_KEYS is invalid: caller a: sha256 is not 64 hex digits"
        );
        let e =
            CallerRegistry::from_json(r#"{"a":{"sha256":"secretish-value","credentials":"*"}}"#)
                .unwrap_err();
        assert!(!e.to_string().contains("secretish"), "{e}");
        let e = CallerRegistry::from_json("{not json").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("CALLER_KEYS is invalid: not valid JSON"),
            "{e}"
        );
        let e =
            CallerRegistry::from_json(r#"{"a":{"sha256":"00","credentials":"all","scopes":"*"}}"#);
        assert!(e.is_err());
    }
}
