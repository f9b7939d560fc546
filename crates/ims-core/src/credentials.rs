//! The Adobe credentials the broker holds, from Worker vars.
//!
//! - The default credential, named `default`: `CLIENT_ID` (var), `SCOPES` (var, Adobe's comma
//!   list) and the Worker secret `CLIENT_SECRET`; for secret management also `ORG_ID` (the
//!   numeric Developer Console org id) and `CREDENTIAL_ID` (vars).
//! - More credentials in the `CREDENTIALS` var, JSON keyed by name:
//!   `{"analytics": {"client_id": "…", "scopes": "openid,AdobeID", "org_id": "…",
//!   "credential_id": "…"}}` (the last two optional). Each one's secret is the
//!   Worker secret `CLIENT_SECRET_<NAME>` (upper-cased, `-` → `_`), e.g. `CLIENT_SECRET_ANALYTICS`.
//!
//! A credential that is named but incompletely configured stays listed with the name of the
//! missing setting, so a request for it gets a clear error rather than "unknown credential".
//!
//! A credential's configured scopes are its **ceiling**: the most any caller, admin or not, can
//! get from it ([`Credential::refused_scope`]). The scopes of Adobe's I/O Management API that
//! read and change client secrets ([`BROKER_ONLY_SCOPES`]) are never part of it, whatever the
//! configuration says: the broker mints them for its own secret management only.

use crate::config::{ConfigError, Entries};
use crate::scope::ScopeSet;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The name of the credential configured by `CLIENT_ID`/`CLIENT_SECRET`/`SCOPES`.
pub const DEFAULT_CREDENTIAL: &str = "default";

/// Scopes that let a token list, add and delete the credential's client secrets at Adobe (an
/// add returns the new secret's plaintext). The broker mints them for itself; no caller gets
/// them.
pub const BROKER_ONLY_SCOPES: [&str; 2] = ["read_client_secret", "manage_client_secrets"];

/// Why a caller may not have a scope of a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeRefusal {
    /// One of [`BROKER_ONLY_SCOPES`].
    #[error("scope {0:?} is reserved for the broker's own secret management")]
    BrokerOnly(String),
    /// Not among the credential's configured scopes.
    #[error("scope {scope:?} is not among the scopes of credential {credential:?}")]
    OutsideCredential {
        /// The scope asked for.
        scope: String,
        /// The credential's name.
        credential: String,
    },
}

/// One Adobe OAuth Server-to-Server credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// Its name in the broker's API.
    pub name: String,
    /// Adobe's client id (public: also the `x-api-key`).
    pub client_id: String,
    /// Its configured scopes without [`BROKER_ONLY_SCOPES`]: what a caller that names none
    /// gets, and the most any caller can get.
    pub default_scopes: ScopeSet,
    /// The Worker secret that holds its client secret.
    pub secret_binding: String,
    /// Numeric Developer Console org id, for the I/O Management API.
    pub org_id: Option<String>,
    /// Developer Console credential id, for the I/O Management API.
    pub credential_id: Option<String>,
}

/// One entry of `CREDENTIALS`, before its name and values are checked: every field once, no
/// other field; `org_id` and `credential_id` optional, `null` meaning absent.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredential {
    client_id: String,
    scopes: String,
    #[serde(default)]
    org_id: Option<String>,
    #[serde(default)]
    credential_id: Option<String>,
}

impl Credential {
    /// The first scope of `asked` that no caller may get from this credential: a broker-only
    /// scope, or one outside its configured scopes. `None`: every scope is within the ceiling.
    pub fn refused_scope(&self, asked: &ScopeSet) -> Option<ScopeRefusal> {
        if let Some(reserved) = asked.iter().find(|s| BROKER_ONLY_SCOPES.contains(s)) {
            return Some(ScopeRefusal::BrokerOnly(reserved.to_owned()));
        }
        asked
            .iter()
            .find(|s| !self.default_scopes.contains(s))
            .map(|scope| ScopeRefusal::OutsideCredential {
                scope: scope.to_owned(),
                credential: self.name.clone(),
            })
    }
}

/// All configured credentials: usable ones, and named ones with what is wrong with them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials(BTreeMap<String, Result<Credential, ConfigError>>);

/// True for names of `[a-z0-9_-]{1,32}`.
pub fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'))
}

/// The Worker secret holding the client secret of credential `name`.
pub fn secret_binding(name: &str) -> String {
    if name == DEFAULT_CREDENTIAL {
        "CLIENT_SECRET".into()
    } else {
        format!(
            "CLIENT_SECRET_{}",
            name.to_ascii_uppercase().replace('-', "_")
        )
    }
}

fn build(
    name: &str,
    client_id: &str,
    scopes: &str,
    scopes_setting: &str,
) -> Result<Credential, ConfigError> {
    let configured = ScopeSet::from_comma(scopes)
        .map_err(|e| ConfigError::invalid(scopes_setting, e.to_string()))?;
    if configured.is_empty() {
        return Err(ConfigError::Missing {
            setting: scopes_setting.into(),
        });
    }
    let scopes = ScopeSet::from_names(
        configured
            .iter()
            .filter(|s| !BROKER_ONLY_SCOPES.contains(s)),
    )
    .map_err(|e| ConfigError::invalid(scopes_setting, e.to_string()))?;
    if scopes.is_empty() {
        return Err(ConfigError::invalid(
            scopes_setting,
            "it holds only scopes reserved for the broker's secret management",
        ));
    }
    Ok(Credential {
        name: name.to_owned(),
        client_id: client_id.to_owned(),
        default_scopes: scopes,
        secret_binding: secret_binding(name),
        org_id: None,
        credential_id: None,
    })
}

impl Credentials {
    /// Reads the configuration through `var` (name → non-empty value). An unreadable
    /// `CREDENTIALS` is an error for the whole configuration.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut map = BTreeMap::new();
        let client_id = var("CLIENT_ID").filter(|v| !v.trim().is_empty());
        let default = match client_id {
            Some(id) => build(
                DEFAULT_CREDENTIAL,
                id.trim(),
                &var("SCOPES").unwrap_or_default(),
                "SCOPES",
            ),
            None => Err(ConfigError::Missing {
                setting: "CLIENT_ID".into(),
            }),
        }
        .map(|c| Credential {
            org_id: var("ORG_ID").map(|v| v.trim().to_owned()),
            credential_id: var("CREDENTIAL_ID").map(|v| v.trim().to_owned()),
            ..c
        });
        map.insert(DEFAULT_CREDENTIAL.to_owned(), default);
        if let Some(text) = var("CREDENTIALS").filter(|v| !v.trim().is_empty()) {
            let entries = Entries {
                setting: "CREDENTIALS",
                whole: "an object of credentials",
                who: |name| {
                    if valid_name(name) {
                        format!("credential {name}")
                    } else {
                        "a credential".into()
                    }
                },
                wrong_type: "client_id and scopes must be strings, org_id and credential_id strings or null",
                own: &[],
            }
            .read::<RawCredential>(&text)?;
            // Every entry was checked; of a name given twice the last entry counts.
            let raw: BTreeMap<String, RawCredential> = entries.into_iter().collect();
            for (name, entry) in raw {
                if !valid_name(&name) || name == DEFAULT_CREDENTIAL {
                    return Err(ConfigError::invalid(
                        "CREDENTIALS",
                        "names use a-z 0-9 _ - (at most 32) and \"default\" is set by CLIENT_ID",
                    ));
                }
                let setting = format!("CREDENTIALS.{name}.scopes");
                let cred = if entry.client_id.trim().is_empty() {
                    Err(ConfigError::Missing {
                        setting: format!("CREDENTIALS.{name}.client_id"),
                    })
                } else {
                    build(&name, entry.client_id.trim(), &entry.scopes, &setting).map(|c| {
                        Credential {
                            org_id: entry.org_id.filter(|v| !v.trim().is_empty()),
                            credential_id: entry.credential_id.filter(|v| !v.trim().is_empty()),
                            ..c
                        }
                    })
                };
                map.insert(name, cred);
            }
        }
        Ok(Self(map))
    }

    /// The credential called `name`: `None` if no such name is configured, `Some(Err)` if it is
    /// named but misconfigured.
    pub fn get(&self, name: &str) -> Option<Result<&Credential, &ConfigError>> {
        self.0.get(name).map(Result::as_ref)
    }

    /// Every configured credential by name, usable or with what is wrong with it.
    pub fn all(&self) -> impl Iterator<Item = (&str, Result<&Credential, &ConfigError>)> {
        self.0.iter().map(|(name, c)| (name.as_str(), c.as_ref()))
    }

    /// Every usable credential.
    pub fn usable(&self) -> impl Iterator<Item = &Credential> {
        self.0.values().filter_map(|c| c.as_ref().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn default_credential_from_vars() {
        let c =
            Credentials::from_vars(vars(&[("CLIENT_ID", "cid"), ("SCOPES", "openid, AdobeID")]))
                .unwrap();
        let d = c.get("default").unwrap().unwrap();
        assert_eq!(d.client_id, "cid");
        assert_eq!(d.default_scopes.to_comma(), "AdobeID,openid");
        assert_eq!(d.secret_binding, "CLIENT_SECRET");
        assert!(c.get("other").is_none());
    }

    #[test]
    fn missing_settings_are_named() {
        let c = Credentials::from_vars(vars(&[("SCOPES", "openid")])).unwrap();
        assert_eq!(
            c.get("default").unwrap().unwrap_err().to_string(),
            "CLIENT_ID is not set"
        );
        let c = Credentials::from_vars(vars(&[("CLIENT_ID", "cid")])).unwrap();
        assert_eq!(
            c.get("default").unwrap().unwrap_err().to_string(),
            "SCOPES is not set"
        );
        let c = Credentials::from_vars(vars(&[("CLIENT_ID", "c"), ("SCOPES", "open id")])).unwrap();
        assert!(c
            .get("default")
            .unwrap()
            .unwrap_err()
            .to_string()
            .starts_with("SCOPES is invalid"));
    }

    #[test]
    fn configured_scopes_are_the_ceiling_and_broker_only_scopes_are_never_in_it() {
        let c = Credentials::from_vars(vars(&[
            ("CLIENT_ID", "cid"),
            (
                "SCOPES",
                "openid,AdobeID,read_organizations,read_client_secret,manage_client_secrets",
            ),
        ]))
        .unwrap();
        let d = c.get("default").unwrap().unwrap();
        assert_eq!(
            d.default_scopes.to_comma(),
            "AdobeID,openid,read_organizations"
        );
        let set = |s: &str| ScopeSet::from_comma(s).unwrap();
        assert_eq!(d.refused_scope(&set("openid,AdobeID")), None);
        assert_eq!(d.refused_scope(&set("")), None);
        assert_eq!(
            d.refused_scope(&set("openid,read_client_secret")),
            Some(ScopeRefusal::BrokerOnly("read_client_secret".into()))
        );
        let outside = d.refused_scope(&set("openid,adobeio_api")).unwrap();
        assert_eq!(
            outside.to_string(),
            "scope \"adobeio_api\" is not among the scopes of credential \"default\""
        );
        let only_reserved = Credentials::from_vars(vars(&[
            ("CLIENT_ID", "cid"),
            ("SCOPES", "manage_client_secrets"),
        ]))
        .unwrap();
        assert!(only_reserved
            .get("default")
            .unwrap()
            .unwrap_err()
            .to_string()
            .starts_with("SCOPES is invalid"));
    }

    #[test]
    fn named_credentials_from_json() {
        let c = Credentials::from_vars(vars(&[
            ("CLIENT_ID", "cid"),
            ("SCOPES", "openid"),
            (
                "CREDENTIALS",
                r#"{"analytics-eu":{"client_id":"c2","scopes":"openid,AdobeID"},"broken":{"client_id":"","scopes":"x"}}"#,
            ),
        ]))
        .unwrap();
        let a = c.get("analytics-eu").unwrap().unwrap();
        assert_eq!(a.secret_binding, "CLIENT_SECRET_ANALYTICS_EU");
        assert_eq!(
            c.get("broken").unwrap().unwrap_err().to_string(),
            "CREDENTIALS.broken.client_id is not set"
        );
        assert_eq!(c.usable().count(), 2);
    }

    #[test]
    fn unreadable_credentials_var_is_an_error() {
        for bad in [
            "{",
            r#"{"Bad Name":{"client_id":"c","scopes":"s"}}"#,
            r#"{"default":{"client_id":"c","scopes":"s"}}"#,
        ] {
            let e = Credentials::from_vars(vars(&[("CREDENTIALS", bad)])).unwrap_err();
            assert!(e.to_string().starts_with("CREDENTIALS is invalid"), "{e}");
        }
    }

    /// What an entry may look like, and what is said when it does not, by names only.
    #[test]
    fn entries_are_strict_and_errors_name_fields_only() {
        let parse = |text: &str| {
            Credentials::from_vars(vars(&[
                ("CLIENT_ID", "c"),
                ("SCOPES", "s"),
                ("CREDENTIALS", text),
            ]))
        };
        for text in [
            r#"{"a":{"client_id":"c","scopes":"s","org_id":null,"credential_id":"x"}}"#,
            r#"{"a":{"client_id":"c","scopes":"s"},"a":{"client_id":"d","scopes":"s"}}"#,
        ] {
            assert!(parse(text).is_ok(), "{text}");
        }
        let c = parse(r#"{"a":{"client_id":"c","scopes":"s"},"a":{"client_id":"d","scopes":"s"}}"#)
            .unwrap();
        assert_eq!(
            c.get("a").unwrap().unwrap().client_id,
            "d",
            "the last counts"
        );
        let wrong_type =
            "client_id and scopes must be strings, org_id and credential_id strings or null";
        for (text, why) in [
            (
                r#"{"a":{"client_id":"c","scopes":"s","org_id":1}}"#,
                wrong_type,
            ),
            (r#"{"a":{"client_id":null,"scopes":"s"}}"#, wrong_type),
            (r#"{"a":{"client_id":"c"}}"#, "no scopes"),
            (r#"{"a":{}}"#, "no client_id"),
            (
                r#"{"a":{"client_id":"c","scopes":"s","token":"x"}}"#,
                "an unknown field",
            ),
            (
                r#"{"a":{"client_id":"c","scopes":"s","org_id":null,"org_id":null}}"#,
                "a field given twice",
            ),
            (
                r#"{"a":5,"a":{"client_id":"c","scopes":"s"}}"#,
                "not an object",
            ),
            (r#"{"a":["c","s"]}"#, "not an object"),
        ] {
            assert_eq!(
                parse(text).unwrap_err().to_string(),
                format!("CREDENTIALS is invalid: JSON of the wrong shape: credential a: {why}"),
                "{text}"
            );
        }
        assert_eq!(
            parse("[]").unwrap_err().to_string(),
            "CREDENTIALS is invalid: JSON of the wrong shape: not an object of credentials"
        );
        assert_eq!(
            parse(r#"{"a":{"client_id":"c","scopes":"s"}"#)
                .unwrap_err()
                .to_string(),
            "CREDENTIALS is invalid: not valid JSON (line 1, column 35)"
        );
    }
}
