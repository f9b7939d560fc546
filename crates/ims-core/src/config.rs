//! Errors in the broker's configuration (vars and Worker secrets), naming the setting at fault,
//! and the reading of the settings that are JSON objects of named entries (`CALLER_KEYS`,
//! `CREDENTIALS`) without quoting a value in an error.

use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// A setting that is missing or malformed. Never carries the setting's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigError {
    /// A required setting is absent or empty.
    #[error("{setting} is not set")]
    Missing {
        /// The var or secret name.
        setting: String,
    },
    /// A setting is present but cannot be used.
    #[error("{setting} is invalid: {reason}")]
    Invalid {
        /// The var or secret name.
        setting: String,
        /// What is wrong, without quoting the value.
        reason: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(setting: &str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            setting: setting.to_owned(),
            reason: reason.into(),
        }
    }

    /// A setting that is not valid JSON, described by position only: the text around it could
    /// quote the value, and some settings are secrets.
    fn json_syntax(setting: &str, e: &serde_json::Error) -> Self {
        Self::invalid(
            setting,
            format!("not valid JSON (line {}, column {})", e.line(), e.column()),
        )
    }

    /// A setting that is JSON of the wrong shape; `what` says where and what was expected, by
    /// names only (never a value).
    pub(crate) fn json_shape(setting: &str, what: &str) -> Self {
        Self::invalid(setting, format!("JSON of the wrong shape: {what}"))
    }
}

/// The members of a JSON object in document order, a name given twice kept twice, each value
/// as its JSON text: every entry of a setting is checked, even one a later one replaces.
pub(crate) struct Members<'a>(pub(crate) Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Each;
        impl<'de> Visitor<'de> for Each {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(Each)
    }
}

/// How a setting of named entries is read.
pub(crate) struct Entries<'a> {
    /// The setting's name.
    pub setting: &'a str,
    /// What the whole value must be, e.g. `an object of callers`.
    pub whole: &'a str,
    /// How an entry is named in an error, from its name: the name when it is a valid one (a
    /// name the setting could not accept might be a value pasted in the wrong place).
    pub who: fn(&str) -> String,
    /// What is wrong when a field has the wrong type.
    pub wrong_type: &'a str,
    /// Errors of the entry type's own checks, kept as they are (they quote no value).
    pub own: &'a [&'a str],
}

impl Entries<'_> {
    /// Reads `text`, a JSON object of entries of type `T`, in document order (a name given
    /// twice appears twice; the caller keeps the last). Errors say where the text stops being
    /// JSON, or which entry is of the wrong shape and how, by names only.
    pub(crate) fn read<T: DeserializeOwned>(
        &self,
        text: &str,
    ) -> Result<Vec<(String, T)>, ConfigError> {
        // The whole text first, as a value: a syntax error anywhere is reported as one, and
        // nesting is bounded by serde_json's recursion limit.
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ConfigError::json_syntax(self.setting, &e))?;
        let shape = |what: &str| ConfigError::json_shape(self.setting, what);
        if !value.is_object() {
            return Err(shape(&format!("not {}", self.whole)));
        }
        let members: Members =
            serde_json::from_str(text).map_err(|_| shape(&format!("not {}", self.whole)))?;
        members
            .0
            .into_iter()
            .map(|(name, raw)| {
                let entry = if raw.get().starts_with('{') {
                    serde_json::from_str(raw.get()).map_err(|e| self.reason(&e))
                } else {
                    // An array would be read field by field: only an object is an entry.
                    Err("not an object".to_owned())
                };
                entry
                    .map(|entry| (name.clone(), entry))
                    .map_err(|why| shape(&format!("{}: {why}", (self.who)(&name))))
            })
            .collect()
    }

    /// What is wrong with an entry, by names only. serde's messages name the schema's fields
    /// (kept) and may quote the value or an unknown field's name (never shown).
    fn reason(&self, e: &serde_json::Error) -> String {
        let text = e.to_string();
        let message = text
            .rfind(" at line ")
            .map_or(text.as_str(), |i| &text[..i]);
        if let Some(field) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.strip_suffix('`'))
        {
            format!("no {field}")
        } else if message.starts_with("unknown field") {
            "an unknown field".to_owned()
        } else if message.starts_with("duplicate field") {
            "a field given twice".to_owned()
        } else if self.own.contains(&message) {
            message.to_owned()
        } else {
            self.wrong_type.to_owned()
        }
    }
}

/// For `#[serde(default, deserialize_with = "present")]`: an optional field that may be left
/// out but, when given, must be a `T` (`null` is refused, unlike a plain `Option`).
pub(crate) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}
