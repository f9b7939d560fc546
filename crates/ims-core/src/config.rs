//! Errors in the broker's configuration (vars and Worker secrets), naming the setting at fault.

/// A setting that is missing or malformed. Never carries the setting's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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

    /// Describes a JSON parse failure by position and category only: serde's own messages can
    /// quote parts of the value, and some settings are secrets.
    pub(crate) fn json(setting: &str, err: &serde_json::Error) -> Self {
        let what = match err.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                "not valid JSON"
            }
            _ => "JSON of the wrong shape",
        };
        Self::invalid(
            setting,
            format!("{what} (line {}, column {})", err.line(), err.column()),
        )
    }
}
