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
//!
//! An entry may instead be *federated*: no key at all, but a trusted issuer's name (from
//! `TRUSTED_ISSUERS`, see [`crate::workload_identity`]) and the claims its tokens must carry:
//!
//! ```json
//! {"site-deploy": {"issuer": "github",
//!                  "bound_claims": {"repository": "acme/site", "ref": "refs/heads/main"},
//!                  "credentials": ["default"], "scopes": ["openid"]}}
//! ```
//!
//! A verified token of that issuer whose claims all match is that caller. Two federated entries
//! of one issuer that could match the same token are refused at load
//! ([`crate::workload_identity::overlap`]); where load cannot tell (a claim the token carries as a
//! list, such as `groups`), a token that matches two entries is refused when presented
//! ([`CallerRegistry::federated`]), never given to either.

use crate::config::{ConfigError, Entries};
use crate::scope::ScopeSet;
use crate::secret::CallerKey;
use crate::workload_identity::{overlap, BoundClaims, JwtError, TrustedIssuers};
use serde::Deserialize;
use serde_json::{Map, Value};
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
    #[serde(default, deserialize_with = "crate::config::present")]
    sha256: Option<String>,
    #[serde(default, deserialize_with = "crate::config::present")]
    issuer: Option<String>,
    #[serde(default, deserialize_with = "crate::config::present")]
    bound_claims: Option<Value>,
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

/// How a caller proves who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A caller key whose SHA-256 is this digest.
    Key([u8; 32]),
    /// A token of a trusted issuer carrying these claims.
    Federated {
        /// The issuer's name in `TRUSTED_ISSUERS`.
        issuer: String,
        /// The claims the token must carry.
        bound_claims: BoundClaims,
    },
}

/// One caller of the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The caller id (the key of its `CALLER_KEYS` entry); logged, never secret.
    pub id: String,
    /// How it proves who it is.
    pub identity: Identity,
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

/// All callers, parsed from `CALLER_KEYS`, and the trusted issuers their federated entries
/// name. Each caller is shared: a request holds its caller without copying it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallerRegistry {
    callers: Vec<Rc<Caller>>,
    issuers: TrustedIssuers,
}

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

impl CallerRegistry {
    /// Parses `CALLER_KEYS`, whose federated entries may name the issuers of `issuers`. Errors
    /// name the caller id and what is wrong, never a digest.
    pub fn from_json(text: &str, issuers: TrustedIssuers) -> Result<Self, ConfigError> {
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
            wrong_type: "sha256 and issuer must be strings, credentials and scopes \"*\" or a list of strings, admin true or false, role a string",
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
            let role = entry
                .role()
                .map_err(|why| ConfigError::invalid(SETTING, format!("caller {id}: {why}")))?;
            let identity = identity(&id, &entry, &issuers)?;
            if let Some(twin) = callers.iter().find(|c| same_token(&c.identity, &identity)) {
                let why = match identity {
                    Identity::Key(_) => "have the same sha256: one key must not be two callers",
                    Identity::Federated { .. } => {
                        "have bound claims that one token of their issuer can match: one token must not be two callers"
                    }
                };
                return Err(ConfigError::invalid(
                    SETTING,
                    format!("callers {} and {id} {why}", twin.id),
                ));
            }
            callers.push(Rc::new(Caller {
                id,
                identity,
                credentials: entry.credentials,
                scopes: entry.scopes,
                role,
            }));
        }
        Ok(Self { callers, issuers })
    }

    /// The trusted issuers (`TRUSTED_ISSUERS`).
    pub fn issuers(&self) -> &TrustedIssuers {
        &self.issuers
    }

    /// Every caller, in id order.
    pub fn iter(&self) -> impl Iterator<Item = &Rc<Caller>> {
        self.callers.iter()
    }

    /// The federated caller that a verified token of the issuer named `issuer` is: the one entry
    /// of that issuer whose bound claims all match `claims`. A token matching none is
    /// [`JwtError::NoCaller`]; one matching two entries (possible only through a claim given as a
    /// list, which load cannot rule out) is [`JwtError::AmbiguousCaller`], refused rather than
    /// given to either.
    pub fn federated(
        &self,
        issuer: &str,
        claims: &Map<String, Value>,
    ) -> Result<Rc<Caller>, JwtError> {
        let mut matching = self.callers.iter().filter(|c| match &c.identity {
            Identity::Federated {
                issuer: i,
                bound_claims,
            } => i == issuer && bound_claims.matches(claims),
            Identity::Key(_) => false,
        });
        match (matching.next(), matching.next()) {
            (Some(one), None) => Ok(Rc::clone(one)),
            (None, _) => Err(JwtError::NoCaller),
            (Some(_), Some(_)) => Err(JwtError::AmbiguousCaller),
        }
    }

    /// The caller whose key digest equals SHA-256(`key`), compared in constant time against
    /// every entry.
    pub fn authenticate(&self, key: &CallerKey) -> Option<Rc<Caller>> {
        let presented: [u8; 32] = Sha256::digest(key.secret().as_bytes()).into();
        let mut found = None;
        for caller in &self.callers {
            if let Identity::Key(digest) = &caller.identity {
                if bool::from(digest.ct_eq(&presented)) {
                    found = Some(caller);
                }
            }
        }
        found.map(Rc::clone)
    }

    /// Number of callers.
    pub fn len(&self) -> usize {
        self.callers.len()
    }

    /// True when there is no caller.
    pub fn is_empty(&self) -> bool {
        self.callers.is_empty()
    }
}

/// The identity of entry `id`: a key digest, or an issuer of `issuers` and bound claims; never
/// both, never neither.
fn identity(
    id: &str,
    entry: &RawCaller,
    issuers: &TrustedIssuers,
) -> Result<Identity, ConfigError> {
    let invalid = |why: &str| ConfigError::invalid(SETTING, format!("caller {id}: {why}"));
    match (&entry.sha256, &entry.issuer, &entry.bound_claims) {
        (Some(hex), None, None) => crate::hex::decode(hex)
            .and_then(|d| d.try_into().ok())
            .map(Identity::Key)
            .ok_or_else(|| invalid("sha256 is not 64 hex digits")),
        (Some(_), _, _) => Err(invalid(
            "sha256 next to issuer or bound_claims: an entry is a key or a federated caller, not both",
        )),
        (None, None, _) => Err(invalid("sha256 (a key's digest) or issuer is required")),
        (None, Some(_), None) => Err(invalid("bound_claims is required with issuer")),
        (None, Some(issuer), Some(bound)) => {
            if issuers.get(issuer).is_none() {
                return Err(invalid(
                    "issuer is not the name of an entry of TRUSTED_ISSUERS",
                ));
            }
            let bound_claims =
                BoundClaims::parse(bound).map_err(|why| invalid(&format!("bound_claims: {why}")))?;
            Ok(Identity::Federated {
                issuer: issuer.clone(),
                bound_claims,
            })
        }
    }
}

/// True when one presented key or token could be both identities.
fn same_token(a: &Identity, b: &Identity) -> bool {
    match (a, b) {
        (Identity::Key(x), Identity::Key(y)) => x == y,
        (
            Identity::Federated {
                issuer: i,
                bound_claims: x,
            },
            Identity::Federated {
                issuer: j,
                bound_claims: y,
            },
        ) => i == j && overlap(x, y),
        _ => false,
    }
}

/// The hex SHA-256 of a caller key, as written in `CALLER_KEYS`.
pub fn key_digest_hex(key: &CallerKey) -> String {
    crate::hex::encode(&Sha256::digest(key.secret().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<CallerRegistry, ConfigError> {
        CallerRegistry::from_json(text, TrustedIssuers::default())
    }

    fn registry() -> CallerRegistry {
        let a = key_digest_hex(&CallerKey::new("key-a"));
        let admin = key_digest_hex(&CallerKey::new("key-admin"));
        parse(&format!(
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
        let r = parse(&format!(
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

        let e = parse(&format!(
            r#"{{"x":{{"sha256":"{}","credentials":"*","scopes":"*","admin":true,"role":"viewer"}}}}"#,
            d("x")
        ))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "CALLER_KEYS is invalid: caller x: admin is true but role is not \"admin\""
        );
        let e = parse(&format!(
            r#"{{"x":{{"sha256":"{}","credentials":"*","scopes":"*","role":"root"}}}}"#,
            d("x")
        ))
        .unwrap_err();
        assert!(e.to_string().contains("role must be"), "{e}");
    }

    #[test]
    fn two_callers_with_one_digest_are_refused_naming_both() {
        let d = key_digest_hex(&CallerKey::new("shared"));
        let e = parse(&format!(
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
            parse(" "),
            Err(ConfigError::Missing {
                setting: "CALLER_KEYS".into()
            })
        );
        let e = parse(r#"{"a":{"sha256":"abcd","credentials":"*","scopes":"*"}}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "CALLER_KEYS is invalid: caller a: sha256 is not 64 hex digits"
        );
        let e = parse(r#"{"a":{"sha256":"secretish-value","credentials":"*"}}"#).unwrap_err();
        assert!(!e.to_string().contains("secretish"), "{e}");
        let e = parse("{not json").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("CALLER_KEYS is invalid: not valid JSON"),
            "{e}"
        );
        let e = parse(r#"{"a":{"sha256":"00","credentials":"all","scopes":"*"}}"#);
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
            assert!(parse(text).is_ok(), "{text}");
        }
        let twice = parse(&ok[3]).unwrap();
        assert!(
            twice.callers[0].may_use("anything"),
            "the last entry counts"
        );
        let wrong_type = "sha256 and issuer must be strings, credentials and scopes \"*\" or a list of strings, admin true or false, role a string";
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
            ("{\"a\":{}}".into(), "no credentials"),
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
            let e = parse(text).unwrap_err().to_string();
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
                parse(whole).unwrap_err().to_string(),
                "CALLER_KEYS is invalid: JSON of the wrong shape: not an object of callers"
            );
        }
        let e = parse(r#"{"secret-ish value":{"x":1}}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "CALLER_KEYS is invalid: JSON of the wrong shape: a caller: an unknown field"
        );
        let e = parse(&one(r#","credentials":"*","scopes":"*","x-secret":1"#)).unwrap_err();
        assert!(!e.to_string().contains("x-secret"), "{e}");
        let e = parse(&format!(r#"{{"a-1":{}}}"#, entry(r#","scopes":"*""#)));
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
                parse(text).unwrap_err().to_string(),
                format!("CALLER_KEYS is invalid: not valid JSON ({at})"),
                "{text:?}"
            );
        }
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200));
        let e = parse(&deep).unwrap_err().to_string();
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

    fn issuers() -> TrustedIssuers {
        crate::workload_identity::parse_trusted_issuers(
            r#"{"github":{"issuer":"https://token.actions.githubusercontent.com","audience":"ims-broker"},
                "access":{"issuer":"https://acme.cloudflareaccess.com","audience":"aud-tag"}}"#,
        )
        .unwrap()
    }

    fn federated(entries: &str) -> Result<CallerRegistry, ConfigError> {
        CallerRegistry::from_json(entries, issuers())
    }

    fn claims(json: serde_json::Value) -> Map<String, Value> {
        json.as_object().unwrap().clone()
    }

    #[test]
    fn a_federated_entry_is_the_caller_its_bound_claims_match() {
        let key = key_digest_hex(&CallerKey::new("key-a"));
        let r = federated(&format!(
            r#"{{"site-deploy":{{"issuer":"github","bound_claims":{{"repository":"acme/site","ref":["refs/heads/main","refs/tags/*"]}},
                               "credentials":["default"],"scopes":["openid"]}},
                "ci":{{"issuer":"github","bound_claims":{{"repository":"acme/ci"}},"credentials":"*","scopes":"*"}},
                "robot":{{"issuer":"access","bound_claims":{{"common_name":"robot.acme"}},"credentials":"*","scopes":"*","role":"viewer"}},
                "svc-a":{{"sha256":"{key}","credentials":"*","scopes":"*"}}}}"#
        ))
        .unwrap();
        let main = claims(serde_json::json!({"repository": "acme/site", "ref": "refs/heads/main"}));
        assert_eq!(r.federated("github", &main).unwrap().id, "site-deploy");
        let tag = claims(serde_json::json!({"repository": "acme/site", "ref": "refs/tags/v1.2"}));
        assert_eq!(r.federated("github", &tag).unwrap().id, "site-deploy");
        let branch =
            claims(serde_json::json!({"repository": "acme/site", "ref": "refs/heads/dev"}));
        assert_eq!(r.federated("github", &branch), Err(JwtError::NoCaller));
        // The same claims from another issuer are not that caller.
        assert_eq!(r.federated("access", &main), Err(JwtError::NoCaller));
        let robot = claims(serde_json::json!({"common_name": "robot.acme", "sub": ""}));
        let found = r.federated("access", &robot).unwrap();
        assert_eq!((found.id.as_str(), found.role), ("robot", Role::Viewer));
        // A federated caller has no key: no presented key is it.
        assert!(r.authenticate(&CallerKey::new("")).is_none());
        assert_eq!(
            r.authenticate(&CallerKey::new("key-a")).unwrap().id,
            "svc-a"
        );
        assert_eq!(r.issuers().iter().count(), 2);
    }

    #[test]
    fn federated_entries_are_checked_at_load_naming_caller_and_field() {
        let cases = [
            (
                r#"{"x":{"issuer":"gitlab","bound_claims":{"sub":"a"},"credentials":"*","scopes":"*"}}"#,
                "caller x: issuer is not the name of an entry of TRUSTED_ISSUERS",
            ),
            (
                r#"{"x":{"issuer":"github","credentials":"*","scopes":"*"}}"#,
                "caller x: bound_claims is required with issuer",
            ),
            (
                r#"{"x":{"issuer":"github","bound_claims":{},"credentials":"*","scopes":"*"}}"#,
                "caller x: bound_claims: bound claims must bind at least one claim",
            ),
            (
                r#"{"x":{"issuer":"github","bound_claims":{"sub":1},"credentials":"*","scopes":"*"}}"#,
                "caller x: bound_claims: bound claims must be an object",
            ),
            (
                r#"{"x":{"issuer":"github","bound_claims":{"sub":[]},"credentials":"*","scopes":"*"}}"#,
                "caller x: bound_claims: bound claims must be an object",
            ),
            (
                r#"{"x":{"bound_claims":{"sub":"a"},"credentials":"*","scopes":"*"}}"#,
                "caller x: sha256 (a key's digest) or issuer is required",
            ),
            (
                r#"{"x":{"sha256":"ab","issuer":"github","bound_claims":{"sub":"a"},"credentials":"*","scopes":"*"}}"#,
                "caller x: sha256 next to issuer or bound_claims",
            ),
            (
                r#"{"x":{"issuer":"github","bound_claims":{"sub":"a"},"credentials":"*","scopes":"*","issuer":"access"}}"#,
                "given twice",
            ),
        ];
        for (text, want) in cases {
            let e = federated(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
        // Without TRUSTED_ISSUERS no federated entry can load.
        let e = parse(r#"{"x":{"issuer":"github","bound_claims":{"sub":"a"},"credentials":"*","scopes":"*"}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("issuer is not the name of an entry"), "{e}");
    }

    #[test]
    fn two_entries_one_token_could_match_are_refused_at_load() {
        let overlapping = [
            // The second binds less: every token of the first matches it too.
            (
                r#"{"repository":"acme/site","ref":"refs/heads/main"}"#,
                r#"{"repository":"acme/site"}"#,
            ),
            // Globs that share a string.
            (r#"{"repository":"acme/*"}"#, r#"{"repository":"*/site"}"#),
            // Different claims, both satisfiable at once.
            (
                r#"{"repository":"acme/site"}"#,
                r#"{"ref":"refs/heads/main"}"#,
            ),
        ];
        for (a, b) in overlapping {
            let text = format!(
                r#"{{"one":{{"issuer":"github","bound_claims":{a},"credentials":"*","scopes":"*"}},
                    "two":{{"issuer":"github","bound_claims":{b},"credentials":"*","scopes":"*"}}}}"#
            );
            let e = federated(&text).unwrap_err().to_string();
            assert!(
                e.contains("callers one and two have bound claims"),
                "{a} / {b}: {e}"
            );
        }
        // Disjoint on a single-string claim, or on different issuers: fine.
        let apart = r#"{"one":{"issuer":"github","bound_claims":{"repository":"acme/site"},"credentials":"*","scopes":"*"},
                        "two":{"issuer":"github","bound_claims":{"repository":"acme/ci"},"credentials":"*","scopes":"*"},
                        "three":{"issuer":"access","bound_claims":{"repository":"acme/site"},"credentials":"*","scopes":"*"}}"#;
        assert_eq!(federated(apart).unwrap().len(), 3);
    }

    #[test]
    fn a_token_matching_two_entries_through_a_list_claim_is_refused() {
        let r = federated(
            r#"{"ops":{"issuer":"github","bound_claims":{"groups":"ops"},"credentials":"*","scopes":"*"},
                "dev":{"issuer":"github","bound_claims":{"groups":"dev"},"credentials":"*","scopes":"*"}}"#,
        )
        .unwrap();
        let both = claims(serde_json::json!({"groups": ["dev", "ops"]}));
        assert_eq!(r.federated("github", &both), Err(JwtError::AmbiguousCaller));
        let one = claims(serde_json::json!({"groups": ["ops", "qa"]}));
        assert_eq!(r.federated("github", &one).unwrap().id, "ops");
    }
}
