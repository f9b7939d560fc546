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

    /// A setting that is not valid JSON, described by position only: the text around it could
    /// quote the value, and some settings are secrets. `at` is the byte offset where reading
    /// stopped ([`crate::json::Json::parse_at`]).
    pub(crate) fn json_syntax(setting: &str, text: &str, at: usize) -> Self {
        let before = &text.as_bytes()[..at.min(text.len())];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let column = 1 + before.iter().rev().take_while(|&&b| b != b'\n').count();
        Self::invalid(
            setting,
            format!("not valid JSON (line {line}, column {column})"),
        )
    }

    /// A setting that is JSON of the wrong shape; `what` says where and what was expected, by
    /// names only (never a value).
    pub(crate) fn json_shape(setting: &str, what: &str) -> Self {
        Self::invalid(setting, format!("JSON of the wrong shape: {what}"))
    }
}
