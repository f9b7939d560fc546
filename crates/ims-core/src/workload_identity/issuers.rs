//! `TRUSTED_ISSUERS`: which issuers' tokens are accepted, for which audiences, signed how.

use super::*;

/// One trusted issuer: whose tokens are accepted, for which audience, signed how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedIssuer {
    /// The exact `iss` of its tokens.
    pub issuer: String,
    /// The audiences accepted; a token's `aud` must contain one. Never empty.
    pub audiences: Vec<String>,
    /// Where its keys are (JWKS), when not found by OIDC discovery from `issuer`.
    pub jwks_url: Option<String>,
    /// The algorithms allowed. Never empty.
    pub algorithms: Vec<Algorithm>,
    /// The longest token lifetime accepted, in seconds (> 0).
    pub max_ttl_s: u64,
}

impl TrustedIssuer {
    /// `Ok` when `alg` is one this issuer allows.
    pub fn check_algorithm(&self, alg: Algorithm) -> Result<(), JwtError> {
        if self.algorithms.contains(&alg) {
            Ok(())
        } else {
            Err(JwtError::AlgorithmNotAllowed)
        }
    }
}

/// The `TRUSTED_ISSUERS` setting: issuer name → issuer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedIssuers(BTreeMap<String, TrustedIssuer>);

impl TrustedIssuers {
    /// The issuer named `name`.
    pub fn get(&self, name: &str) -> Option<&TrustedIssuer> {
        self.0.get(name)
    }

    /// The issuer, and its name, whose `issuer` is exactly `iss` (at most one: see
    /// [`parse_trusted_issuers`]).
    pub fn by_iss(&self, iss: &str) -> Option<(&str, &TrustedIssuer)> {
        self.0
            .iter()
            .find(|(_, i)| i.issuer == iss)
            .map(|(n, i)| (n.as_str(), i))
    }

    /// True when no issuer is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The issuers by name, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &TrustedIssuer)> {
        self.0.iter().map(|(n, i)| (n.as_str(), i))
    }
}

/// An entry of `TRUSTED_ISSUERS` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIssuer {
    issuer: String,
    audience: NonEmptyStrings,
    #[serde(default, deserialize_with = "crate::config::present")]
    jwks_url: Option<String>,
    #[serde(default, deserialize_with = "crate::config::present")]
    algorithms: Option<Vec<String>>,
    #[serde(default, deserialize_with = "crate::config::present")]
    max_ttl_s: Option<u64>,
}

/// True for issuer names of `[a-z0-9_-]{1,32}`.
pub fn valid_name(name: &str) -> bool {
    crate::credentials::valid_name(name)
}

/// Parses the `TRUSTED_ISSUERS` setting, a JSON object of issuer name → `{"issuer", "audience",
/// "jwks_url"?, "algorithms"?, "max_ttl_s"?}`. Empty or blank text means no issuers.
///
/// Errors name the setting as `TRUSTED_ISSUERS.<name>.<field>` (`TRUSTED_ISSUERS` for bad JSON,
/// a bad name, or a whole entry of the wrong shape) and never quote a value. Two entries with
/// the same `issuer` are refused: a token's `iss` must lead to one entry.
pub fn parse_trusted_issuers(text: &str) -> Result<TrustedIssuers, ConfigError> {
    if text.trim().is_empty() {
        return Ok(TrustedIssuers::default());
    }
    let whole: Value = serde_json::from_str(text).map_err(|e| {
        ConfigError::invalid(
            SETTING,
            format!("not valid JSON (line {}, column {})", e.line(), e.column()),
        )
    })?;
    let Value::Object(entries) = whole else {
        return Err(ConfigError::invalid(SETTING, "not an object of issuers"));
    };
    // A name given twice would leave one entry unchecked and unused: refused.
    let members: crate::config::Members = serde_json::from_str(text)
        .map_err(|_| ConfigError::invalid(SETTING, "not an object of issuers"))?;
    let mut seen = std::collections::BTreeSet::new();
    if let Some((name, _)) = members
        .0
        .iter()
        .find(|(name, _)| !seen.insert(name.as_str()))
    {
        let at = if valid_name(name) {
            format!("{SETTING}.{name}")
        } else {
            SETTING.to_owned()
        };
        return Err(ConfigError::invalid(&at, "an issuer name given twice"));
    }
    let mut out = BTreeMap::new();
    for (name, entry) in entries {
        if !valid_name(&name) {
            return Err(ConfigError::invalid(
                SETTING,
                "an issuer name must be 1 to 32 of a-z, 0-9, _ and -",
            ));
        }
        let issuer = parse_entry(&name, entry)?;
        if out
            .values()
            .any(|i: &TrustedIssuer| i.issuer == issuer.issuer)
        {
            return Err(ConfigError::invalid(
                &format!("{SETTING}.{name}.issuer"),
                "the same issuer as another entry",
            ));
        }
        out.insert(name, issuer);
    }
    Ok(TrustedIssuers(out))
}

/// One entry, checked field by field.
fn parse_entry(name: &str, entry: Value) -> Result<TrustedIssuer, ConfigError> {
    let at = |field: &str| format!("{SETTING}.{name}.{field}");
    let Value::Object(fields) = &entry else {
        return Err(ConfigError::invalid(
            &format!("{SETTING}.{name}"),
            "not an object",
        ));
    };
    let raw = match RawIssuer::deserialize(&entry) {
        Ok(raw) => raw,
        Err(e) => return Err(entry_error(name, fields, &e)),
    };
    upstream_url::check(&at("issuer"), &raw.issuer)?;
    if raw.audience.0.iter().any(String::is_empty) {
        return Err(ConfigError::invalid(&at("audience"), "an empty audience"));
    }
    if let Some(url) = &raw.jwks_url {
        upstream_url::check(&at("jwks_url"), url)?;
    }
    let algorithms = match raw.algorithms {
        None => Algorithm::ALL.to_vec(),
        Some(names) if names.is_empty() => {
            return Err(ConfigError::invalid(&at("algorithms"), "an empty list"));
        }
        Some(names) => {
            let mut algs = Vec::new();
            for n in &names {
                let alg = Algorithm::from_name(n).ok_or_else(|| {
                    ConfigError::invalid(&at("algorithms"), "only RS256 and ES256 are accepted")
                })?;
                if !algs.contains(&alg) {
                    algs.push(alg);
                }
            }
            algs
        }
    };
    let max_ttl_s = raw.max_ttl_s.unwrap_or(DEFAULT_MAX_TTL_S);
    if max_ttl_s == 0 {
        return Err(ConfigError::invalid(
            &at("max_ttl_s"),
            "must be greater than 0",
        ));
    }
    Ok(TrustedIssuer {
        issuer: raw.issuer.trim().to_owned(),
        audiences: raw.audience.0,
        jwks_url: raw.jwks_url.map(|u| u.trim().to_owned()),
        algorithms,
        max_ttl_s,
    })
}

/// A field's name, what it must be, and whether a value is that.
type FieldCheck = (&'static str, &'static str, fn(&Value) -> bool);

/// The error of an entry that did not deserialize, naming the field at fault.
fn entry_error(name: &str, fields: &Map<String, Value>, e: &serde_json::Error) -> ConfigError {
    let message = e.to_string();
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        return ConfigError::Missing {
            setting: format!("{SETTING}.{name}.{field}"),
        };
    }
    if message.starts_with("unknown field") {
        return ConfigError::invalid(&format!("{SETTING}.{name}"), "an unknown field");
    }
    // A value of the wrong type: find which, by reading each field alone.
    let wrong: [FieldCheck; 5] = [
        ("issuer", "must be a string", |v| v.is_string()),
        (
            "audience",
            "must be a string or a non-empty list of strings",
            |v| NonEmptyStrings::deserialize(v).is_ok(),
        ),
        ("jwks_url", "must be a string", |v| v.is_string()),
        ("algorithms", "must be a list of strings", |v| {
            Vec::<String>::deserialize(v).is_ok()
        }),
        ("max_ttl_s", "must be a non-negative integer", |v| {
            v.is_u64()
        }),
    ];
    for (field, reason, ok) in wrong {
        if fields.get(field).is_some_and(|v| !ok(v)) {
            return ConfigError::invalid(&format!("{SETTING}.{name}.{field}"), reason);
        }
    }
    ConfigError::invalid(&format!("{SETTING}.{name}"), "JSON of the wrong shape")
}
