//! Caller authentication and authorisation from the `CALLER_KEYS` Worker secret.
//!
//! `CALLER_KEYS` is JSON, one entry per caller id:
//!
//! ```json
//! {"reporting": {"sha256": "<hex SHA-256 of the key>", "credentials": ["default"],
//!                "scopes": ["openid", "AdobeID"], "admin": false},
//!  "ops":       {"sha256": "…", "credentials": "*", "scopes": "*", "admin": true},
//!  "scraper":   {"sha256": "…", "credentials": "*", "scopes": [], "role": "viewer"}}
//! ```
//!
//! A caller's [`Role`] says what it may do besides asking for tokens: `admin: true` (or
//! `"role": "admin"`) manages secrets; `"role": "viewer"` reads what operators read and changes
//! nothing (it may not mint either). Two entries with the same digest are refused at load: one
//! key must never mean two callers.
//!
//! Only digests are stored. A presented key is hashed and compared with every entry in constant
//! time, so neither timing nor early exit tells which prefix or entry matched.

use crate::config::{ConfigError, Entries};
use crate::scope::ScopeSet;
use crate::secret::CallerKey;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use subtle::ConstantTimeEq;

const SETTING: &str = "CALLER_KEYS";

/// Either everything (`"*"`) or a list of names (repeats allowed).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "AllowedText")]
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

/// [`Allowed`] as written: a string (which must be `"*"`) or a list of strings.
#[derive(Deserialize)]
#[serde(untagged)]
enum AllowedText {
    Star(String),
    List(BTreeSet<String>),
}

impl TryFrom<AllowedText> for Allowed {
    type Error = &'static str;

    fn try_from(text: AllowedText) -> Result<Self, Self::Error> {
        match text {
            AllowedText::Star(s) if s == "*" => Ok(Self::All),
            AllowedText::Star(_) => Err("not \"*\""),
            AllowedText::List(names) => Ok(Self::Only(names)),
        }
    }
}

/// What a caller may do besides asking for tokens within its credentials and scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Role {
    /// Asks for tokens only.
    Caller,
    /// Reads what operators read (metrics, credentials, token entries, secrets, rotations,
    /// events) and changes nothing: no rotate, no delete, no mint.
    Viewer,
    /// Everything a viewer may, plus rotating and deleting secrets, plus tokens.
    Admin,
}

impl Role {
    /// `caller`, `viewer` or `admin`, as in `CALLER_KEYS` and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Caller => "caller",
            Self::Viewer => "viewer",
            Self::Admin => "admin",
        }
    }
}

/// Why a `role` is refused.
const BAD_ROLE: &str = "role must be \"admin\", \"viewer\" or \"caller\"";

impl TryFrom<String> for Role {
    type Error = &'static str;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        match name.as_str() {
            "caller" => Ok(Self::Caller),
            "viewer" => Ok(Self::Viewer),
            "admin" => Ok(Self::Admin),
            _ => Err(BAD_ROLE),
        }
    }
}

/// One entry of `CALLER_KEYS`, before its id and digest are checked: every field once, no
/// other field, `admin` false and `role` absent when left out (neither may be `null`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCaller {
    sha256: String,
    credentials: Allowed,
    scopes: Allowed,
    #[serde(default)]
    admin: bool,
    #[serde(default, deserialize_with = "crate::config::present")]
    role: Option<Role>,
}

impl RawCaller {
    /// The role: `role` when given, else `admin`. `admin: true` next to another role is a
    /// contradiction, refused rather than guessed.
    fn role(&self) -> Result<Role, &'static str> {
        match (self.role, self.admin) {
            (None, false) => Ok(Role::Caller),
            (None | Some(Role::Admin), true) => Ok(Role::Admin),
            (Some(role), false) => Ok(role),
            (Some(_), true) => Err("admin is true but role is not \"admin\""),
        }
    }
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
    /// What it may do besides asking for tokens.
    pub role: Role,
}

impl Caller {
    /// True for admins and viewers: they may read what operators read (metrics, credentials,
    /// token entries, secrets lists, rotations, events).
    pub fn may_read_operations(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Viewer)
    }

    /// True for admins only: they may rotate and delete secrets.
    pub fn may_manage_secrets(&self) -> bool {
        self.role == Role::Admin
    }

    /// False for viewers: a viewer key is read-only and gets no token.
    pub fn may_mint(&self) -> bool {
        self.role != Role::Viewer
    }

    /// True when the caller may use the credential named `name`.
    pub fn may_use(&self, credential: &str) -> bool {
        self.credentials.allows(credential)
    }

    /// The first scope of `scopes` the caller may not request, if any.
    pub fn forbidden_scope<'a>(&self, scopes: &'a ScopeSet) -> Option<&'a str> {
        scopes.iter().find(|s| !self.scopes.allows(s))
    }
}

/// All callers, parsed from `CALLER_KEYS`. Each is shared: a request holds its caller without
/// copying it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallerRegistry(Vec<Rc<Caller>>);

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
        let entries = Entries {
            setting: SETTING,
            whole: "an object of callers",
            who: |id| {
                if valid_id(id) {
                    format!("caller {id}")
                } else {
                    "a caller".into()
                }
            },
            wrong_type: "sha256 must be a string, credentials and scopes \"*\" or a list of strings, admin true or false, role a string",
            own: &[BAD_ROLE],
        }
        .read::<RawCaller>(text)?;
        // Every entry was checked; of an id given twice the last entry counts.
        let raw: BTreeMap<String, RawCaller> = entries.into_iter().collect();
        let mut callers: Vec<Rc<Caller>> = Vec::with_capacity(raw.len());
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
            let role = entry
                .role()
                .map_err(|why| ConfigError::invalid(SETTING, format!("caller {id}: {why}")))?;
            if let Some(twin) = callers.iter().find(|c| c.digest == digest) {
                return Err(ConfigError::invalid(
                    SETTING,
                    format!(
                        "callers {} and {id} have the same sha256: one key must not be two callers",
                        twin.id
                    ),
                ));
            }
            callers.push(Rc::new(Caller {
                id,
                digest,
                credentials: entry.credentials,
                scopes: entry.scopes,
                role,
            }));
        }
        Ok(Self(callers))
    }

    /// The caller whose key digest equals SHA-256(`key`), compared in constant time against
    /// every entry.
    pub fn authenticate(&self, key: &CallerKey) -> Option<Rc<Caller>> {
        let presented: [u8; 32] = Sha256::digest(key.secret().as_bytes()).into();
        let mut found = None;
        for caller in &self.0 {
            if bool::from(caller.digest.ct_eq(&presented)) {
                found = Some(caller);
            }
        }
        found.map(Rc::clone)
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
        assert_eq!(ops.role, Role::Admin);
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
    fn roles_come_from_role_or_admin() {
        let d = |k: &str| key_digest_hex(&CallerKey::new(k));
        let r = CallerRegistry::from_json(&format!(
            r#"{{"scraper":{{"sha256":"{}","credentials":"*","scopes":[],"role":"viewer"}},
                "ops":{{"sha256":"{}","credentials":"*","scopes":"*","role":"admin"}},
                "ops2":{{"sha256":"{}","credentials":"*","scopes":"*","admin":true,"role":"admin"}},
                "svc":{{"sha256":"{}","credentials":"*","scopes":"*","role":"caller"}}}}"#,
            d("v"),
            d("a"),
            d("a2"),
            d("c")
        ))
        .unwrap();
        let viewer = r.authenticate(&CallerKey::new("v")).unwrap();
        assert_eq!(viewer.role, Role::Viewer);
        assert!(viewer.may_read_operations() && !viewer.may_manage_secrets() && !viewer.may_mint());
        for admin in ["a", "a2"] {
            let a = r.authenticate(&CallerKey::new(admin)).unwrap();
            assert!(a.may_read_operations() && a.may_manage_secrets() && a.may_mint());
        }
        let c = r.authenticate(&CallerKey::new("c")).unwrap();
        assert!(!c.may_read_operations() && !c.may_manage_secrets() && c.may_mint());

        let e = CallerRegistry::from_json(&format!(
            r#"{{"x":{{"sha256":"{}","credentials":"*","scopes":"*","admin":true,"role":"viewer"}}}}"#,
            d("x")
        ))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "CALLER_KEYS is invalid: caller x: admin is true but role is not \"admin\""
        );
        let e = CallerRegistry::from_json(&format!(
            r#"{{"x":{{"sha256":"{}","credentials":"*","scopes":"*","role":"root"}}}}"#,
            d("x")
        ))
        .unwrap_err();
        assert!(e.to_string().contains("role must be"), "{e}");
    }

    #[test]
    fn two_callers_with_one_digest_are_refused_naming_both() {
        let d = key_digest_hex(&CallerKey::new("shared"));
        let e = CallerRegistry::from_json(&format!(
            r#"{{"alpha":{{"sha256":"{d}","credentials":"*","scopes":"*"}},
                "beta":{{"sha256":"{}","credentials":["default"],"scopes":"*","admin":true}}}}"#,
            d.to_uppercase()
        ))
        .unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("CALLER_KEYS is invalid"), "{text}");
        assert!(text.contains("alpha") && text.contains("beta"), "{text}");
        assert!(!text.contains(&d), "no digest in the message: {text}");
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

    /// What an entry may look like, and what is said when it does not: each field once, no
    /// other field, by names only.
    #[test]
    fn entries_are_strict_and_errors_name_fields_only() {
        let d = "ab".repeat(32);
        let entry = |rest: &str| format!(r#"{{"sha256":"{d}"{rest}}}"#);
        let one = |rest: &str| format!(r#"{{"a":{}}}"#, entry(rest));
        let ok = [
            one(r#","credentials":"*","scopes":["x","x"]"#),
            one(r#","credentials":[],"scopes":"*","admin":true"#),
            one(r#","credentials":"*","scopes":"*","role":"viewer""#),
            // An id given twice: the last entry counts.
            format!(
                r#"{{"a":{},"a":{}}}"#,
                entry(r#","credentials":[],"scopes":"*""#),
                entry(r#","credentials":"*","scopes":"*""#)
            ),
            "{}".into(),
        ];
        for text in &ok {
            assert!(CallerRegistry::from_json(text).is_ok(), "{text}");
        }
        let twice = CallerRegistry::from_json(&ok[3]).unwrap();
        assert!(twice.0[0].may_use("anything"), "the last entry counts");
        let wrong_type = "sha256 must be a string, credentials and scopes \"*\" or a list of strings, admin true or false, role a string";
        let refused = [
            (
                one(r#","credentials":"*","scopes":"*","admin":null"#),
                wrong_type,
            ),
            (one(r#","credentials":"all","scopes":"*""#), wrong_type),
            (one(r#","credentials":"*","scopes":[1]"#), wrong_type),
            (one(r#","credentials":"*","scopes":null"#), wrong_type),
            (
                one(r#","credentials":"*","scopes":"*","admin":1"#),
                wrong_type,
            ),
            (
                one(r#","credentials":"*","scopes":"*","role":null"#),
                wrong_type,
            ),
            (one(r#","credentials":"*""#), "no scopes"),
            (
                one(r#","credentials":"*","scopes":"*","x":1"#),
                "an unknown field",
            ),
            (
                one(r#","credentials":"*","scopes":"*","scopes":"*""#),
                "a field given twice",
            ),
            (
                one(r#","credentials":"*","scopes":"*","role":"root""#),
                "role must be \"admin\", \"viewer\" or \"caller\"",
            ),
            ("{\"a\":{}}".into(), "no sha256"),
            (format!(r#"{{"a":["{d}","*","*"]}}"#), "not an object"),
            // Every entry is checked, also one a later one replaces.
            (
                format!(
                    r#"{{"a":5,"a":{}}}"#,
                    entry(r#","credentials":"*","scopes":"*""#)
                ),
                "not an object",
            ),
        ];
        for (text, why) in &refused {
            let e = CallerRegistry::from_json(text).unwrap_err().to_string();
            assert_eq!(
                e,
                format!("CALLER_KEYS is invalid: JSON of the wrong shape: caller a: {why}"),
                "{text}"
            );
            assert!(
                !e.contains("\"all\"") && !e.contains("root"),
                "no value: {e}"
            );
        }
        for whole in ["[]", "5", "\"x\""] {
            assert_eq!(
                CallerRegistry::from_json(whole).unwrap_err().to_string(),
                "CALLER_KEYS is invalid: JSON of the wrong shape: not an object of callers"
            );
        }
        let e = CallerRegistry::from_json(r#"{"secret-ish value":{"x":1}}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "CALLER_KEYS is invalid: JSON of the wrong shape: a caller: an unknown field"
        );
        let e = CallerRegistry::from_json(&one(r#","credentials":"*","scopes":"*","x-secret":1"#))
            .unwrap_err();
        assert!(!e.to_string().contains("x-secret"), "{e}");
        let e = CallerRegistry::from_json(&format!(r#"{{"a-1":{}}}"#, entry(r#","scopes":"*""#)));
        assert_eq!(
            e.unwrap_err().to_string(),
            "CALLER_KEYS is invalid: JSON of the wrong shape: caller a-1: no credentials"
        );
    }

    #[test]
    fn syntax_errors_say_where_and_nesting_is_bounded() {
        for (text, at) in [
            ("{\n  \"a\": x}", "line 2, column 8"),
            ("{\"a\":{\"sha256\":5}", "line 1, column 17"),
            ("{\"a\":1,}", "line 1, column 8"),
        ] {
            assert_eq!(
                CallerRegistry::from_json(text).unwrap_err().to_string(),
                format!("CALLER_KEYS is invalid: not valid JSON ({at})"),
                "{text:?}"
            );
        }
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200));
        let e = CallerRegistry::from_json(&deep).unwrap_err().to_string();
        assert!(
            e.starts_with("CALLER_KEYS is invalid: not valid JSON"),
            "{e}"
        );
    }

    #[test]
    fn a_caller_is_shared_not_copied() {
        let r = registry();
        let a = r.authenticate(&CallerKey::new("key-a")).unwrap();
        let again = r.authenticate(&CallerKey::new("key-a")).unwrap();
        assert!(Rc::ptr_eq(&a, &again));
    }
}
