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

use crate::config::ConfigError;
use crate::json::Json;
use crate::scope::ScopeSet;
use crate::secret::CallerKey;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
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

impl Allowed {
    /// `"*"` or a list of strings (repeats allowed); `None` for anything else.
    fn from_json(v: &Json) -> Option<Self> {
        match v {
            Json::Str(s) if s == "*" => Some(Self::All),
            Json::Arr(items) => items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<_>>()
                .map(Self::Only),
            _ => None,
        }
    }
}

/// What a caller may do besides asking for tokens within its credentials and scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

    fn parse(name: &str) -> Option<Self> {
        match name {
            "caller" => Some(Self::Caller),
            "viewer" => Some(Self::Viewer),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// One entry of `CALLER_KEYS`, before its id and digest are checked.
struct RawCaller {
    sha256: String,
    credentials: Allowed,
    scopes: Allowed,
    admin: bool,
    role: Option<Role>,
}

impl RawCaller {
    /// Reads an entry as the `serde` derive did (`deny_unknown_fields`, `admin` defaulting to
    /// false, `role` optional), except that only an object is an entry. `Err`: what is wrong,
    /// by names only.
    fn from_json(v: &Json) -> Result<Self, &'static str> {
        let members = v.as_object().ok_or("not an object")?;
        let (mut sha256, mut credentials, mut scopes, mut admin) = (None, None, None, None);
        let mut role = None;
        for (key, value) in members {
            let bad = match key.as_str() {
                "sha256" => set(&mut sha256, value.as_str().map(str::to_owned)),
                "credentials" => set(&mut credentials, Allowed::from_json(value)),
                "scopes" => set(&mut scopes, Allowed::from_json(value)),
                "admin" => set(
                    &mut admin,
                    match value {
                        Json::Bool(b) => Some(*b),
                        _ => None,
                    },
                ),
                "role" => match value.as_str().map(Role::parse) {
                    Some(None) => Some("role must be \"admin\", \"viewer\" or \"caller\""),
                    found => set(&mut role, found.flatten()),
                },
                _ => Some("an unknown field"),
            };
            if let Some(why) = bad {
                return Err(why);
            }
        }
        Ok(Self {
            sha256: sha256.ok_or("no sha256")?,
            credentials: credentials.ok_or("no credentials")?,
            scopes: scopes.ok_or("no scopes")?,
            admin: admin.unwrap_or(false),
            role,
        })
    }

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

/// Stores a field read as `value`; what is wrong when it was of the wrong type (`None`) or
/// given twice.
fn set<T>(slot: &mut Option<T>, value: Option<T>) -> Option<&'static str> {
    match value {
        _ if slot.is_some() => Some("a field given twice"),
        None => Some(
            "sha256 must be a string, credentials and scopes \"*\" or a list of strings, admin true or false, role a string",
        ),
        Some(v) => {
            *slot = Some(v);
            None
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
        let json = Json::parse_at(text.as_bytes())
            .map_err(|at| ConfigError::json_syntax(SETTING, text, at))?;
        let members = json
            .as_object()
            .ok_or_else(|| ConfigError::json_shape(SETTING, "not an object of callers"))?;
        // As serde read it into a map: every entry is checked, and of an id given twice the
        // last entry counts.
        let mut raw = BTreeMap::new();
        for (id, entry) in members {
            let entry = RawCaller::from_json(entry).map_err(|why| {
                let who = if valid_id(id) {
                    format!("caller {id}")
                } else {
                    "a caller".into()
                };
                ConfigError::json_shape(SETTING, &format!("{who}: {why}"))
            })?;
            raw.insert(id.clone(), entry);
        }
        let mut callers: Vec<Caller> = Vec::with_capacity(raw.len());
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
            callers.push(Caller {
                id,
                digest,
                credentials: entry.credentials,
                scopes: entry.scopes,
                role,
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

/// Keys that authenticated before, with their callers, so that the next request with the same
/// key needs no SHA-256 (the largest cost of authenticating). Only keys the registry accepted go
/// in, so it holds at most one entry per caller; a presented key is compared with every entry in
/// constant time, as [`CallerRegistry::authenticate`] compares digests.
#[derive(Debug, Default)]
pub struct KnownKeys(Vec<(CallerKey, Rc<Caller>)>);

impl KnownKeys {
    /// The caller holding `key`: a kept one, else the registry's (then kept).
    pub fn authenticate(
        &mut self,
        registry: &CallerRegistry,
        key: &CallerKey,
    ) -> Option<Rc<Caller>> {
        if let Some(caller) = self.find(key) {
            return Some(caller);
        }
        let caller = Rc::new(registry.authenticate(key)?.clone());
        self.0.push((key.clone(), Rc::clone(&caller)));
        Some(caller)
    }

    fn find(&self, key: &CallerKey) -> Option<Rc<Caller>> {
        let mut found = None;
        for (known, caller) in &self.0 {
            if bool::from(known.secret().as_bytes().ct_eq(key.secret().as_bytes())) {
                found = Some(caller);
            }
        }
        found.cloned()
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
    fn known_keys_keep_only_accepted_keys_and_answer_as_the_registry() {
        let r = registry();
        let mut known = KnownKeys::default();
        let key = CallerKey::new("key-a");
        let first = known.authenticate(&r, &key).unwrap();
        assert_eq!(first.id, "svc-a");
        let again = known.authenticate(&r, &key).unwrap();
        assert!(Rc::ptr_eq(&first, &again), "the kept caller");
        assert_eq!(known.0.len(), 1, "one entry per key");
        // A prefix, a longer key and another key are refused, and not kept.
        for other in ["key-", "key-ab", "key-b", ""] {
            assert!(
                known.authenticate(&r, &CallerKey::new(other)).is_none(),
                "{other}"
            );
        }
        assert_eq!(known.0.len(), 1);
        assert!(known
            .authenticate(&r, &CallerKey::new("key-admin"))
            .unwrap()
            .may_manage_secrets());
        assert!(!format!("{known:?}").contains("key-a"), "Debug is redacted");
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

    /// Accepted and refused as the `serde` derives this module used before (through
    /// `serde_json`), except an entry written as an array, which serde read field by field.
    #[test]
    fn entries_are_read_as_serde_read_them() {
        #[allow(dead_code)]
        struct Star;
        impl<'de> serde::Deserialize<'de> for Star {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                #[derive(serde::Deserialize)]
                #[serde(untagged)]
                enum Raw {
                    Star(String),
                    #[allow(dead_code)]
                    List(BTreeSet<String>),
                }
                match <Raw as serde::Deserialize>::deserialize(d)? {
                    Raw::Star(s) if s != "*" => Err(serde::de::Error::custom("not *")),
                    _ => Ok(Star),
                }
            }
        }
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Serde {
            sha256: String,
            credentials: Star,
            scopes: Star,
            #[serde(default)]
            admin: bool,
        }
        let serde_ok = |text: &str| serde_json::from_str::<BTreeMap<String, Serde>>(text).is_ok();
        let d = "ab".repeat(32);
        let entry = |rest: &str| format!(r#"{{"sha256":"{d}"{rest}}}"#);
        let cases = [
            format!(
                r#"{{"a":{}}}"#,
                entry(r#","credentials":"*","scopes":["x","x"]"#)
            ),
            format!(
                r#"{{"a":{}}}"#,
                entry(r#","credentials":[],"scopes":"*","admin":true"#)
            ),
            format!(
                r#"{{"a":{}}}"#,
                entry(r#","credentials":"*","scopes":"*","admin":null"#)
            ),
            format!(
                r#"{{"a":{}}}"#,
                entry(r#","credentials":"all","scopes":"*""#)
            ),
            format!(r#"{{"a":{}}}"#, entry(r#","credentials":"*","scopes":[1]"#)),
            format!(
                r#"{{"a":{}}}"#,
                entry(r#","credentials":"*","scopes":null"#)
            ),
            format!(r#"{{"a":{}}}"#, entry(r#","credentials":"*""#)),
            format!(
                r#"{{"a":{}}}"#,
                entry(r#","credentials":"*","scopes":"*","x":1"#)
            ),
            format!(
                r#"{{"a":{}}}"#,
                entry(r#","credentials":"*","scopes":"*","scopes":"*""#)
            ),
            format!(
                r#"{{"a":{}}}"#,
                entry(r#","credentials":"*","scopes":"*","admin":1"#)
            ),
            // An id given twice: the last entry counts, but the first must be readable too.
            format!(
                r#"{{"a":5,"a":{}}}"#,
                entry(r#","credentials":"*","scopes":"*""#)
            ),
            format!(
                r#"{{"a":{},"a":{}}}"#,
                entry(r#","credentials":"*","scopes":"x""#),
                entry(r#","credentials":"*","scopes":"*""#)
            ),
            "{}".into(),
            "[]".into(),
            "{\"a\":{}}".into(),
            "5".into(),
            "{\"a\":{\"sha256\":5}".into(),
        ];
        for text in &cases {
            assert_eq!(
                CallerRegistry::from_json(text).is_ok(),
                serde_ok(text),
                "{text}"
            );
        }
        let array = format!(r#"{{"a":["{d}","*","*"]}}"#);
        assert!(serde_ok(&array) && CallerRegistry::from_json(&array).is_err());
        let e = CallerRegistry::from_json(&format!(r#"{{"a-1":{}}}"#, entry(r#","scopes":"*""#)));
        assert_eq!(
            e.unwrap_err().to_string(),
            "CALLER_KEYS is invalid: JSON of the wrong shape: caller a-1: no credentials"
        );
        let e = CallerRegistry::from_json("{\n  \"a\": x}").unwrap_err();
        assert_eq!(
            e.to_string(),
            "CALLER_KEYS is invalid: not valid JSON (line 2, column 8)"
        );
    }
}
