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

use crate::config::ConfigError;
use crate::scope::ScopeSet;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The name of the credential configured by `CLIENT_ID`/`CLIENT_SECRET`/`SCOPES`.
pub const DEFAULT_CREDENTIAL: &str = "default";

/// One Adobe OAuth Server-to-Server credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// Its name in the broker's API.
    pub name: String,
    /// Adobe's client id (public: also the `x-api-key`).
    pub client_id: String,
    /// Scopes minted when a caller names none.
    pub default_scopes: ScopeSet,
    /// The Worker secret that holds its client secret.
    pub secret_binding: String,
    /// Numeric Developer Console org id, for the I/O Management API.
    pub org_id: Option<String>,
    /// Developer Console credential id, for the I/O Management API.
    pub credential_id: Option<String>,
}

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
    let scopes = ScopeSet::from_comma(scopes)
        .map_err(|e| ConfigError::invalid(scopes_setting, e.to_string()))?;
    if scopes.is_empty() {
        return Err(ConfigError::Missing {
            setting: scopes_setting.into(),
        });
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
            let raw: BTreeMap<String, RawCredential> =
                serde_json::from_str(&text).map_err(|e| ConfigError::json("CREDENTIALS", &e))?;
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
}
