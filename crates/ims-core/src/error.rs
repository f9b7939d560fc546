//! What can go wrong when asking IMS for a token, with the stable code and HTTP status each
//! failure is answered with.
//!
//! Codes are part of the broker's API: callers match on them, so they never change meaning.

/// A failed token request to IMS. No variant carries a secret or a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImsError {
    /// IMS rejected the client id or secret (`invalid_client`,
    /// [RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2)). Final: not retried.
    #[error("IMS rejected the client credentials: {description}")]
    InvalidClient {
        /// Adobe's `error_description`.
        description: String,
        /// Adobe's `x-debug-id` header.
        debug_id: Option<String>,
    },
    /// IMS rejected the requested scopes (`invalid_scope`). Final: not retried.
    #[error("IMS rejected the scopes: {description}")]
    InvalidScope {
        /// Adobe's `error_description`.
        description: String,
        /// Adobe's `x-debug-id` header.
        debug_id: Option<String>,
    },
    /// Any other OAuth error body on a 4xx answer (`invalid_request`, `unauthorized_client`, …).
    /// Final: not retried.
    #[error("IMS refused the request ({status} {error})")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// Adobe's `error` code.
        error: String,
        /// Adobe's `x-debug-id` header.
        debug_id: Option<String>,
    },
    /// IMS answered 429, or 5xx: retryable; `retry_after_s` from its `Retry-After` header.
    #[error("IMS is unavailable (HTTP {status})")]
    Unavailable {
        /// The HTTP status.
        status: u16,
        /// Seconds to wait, from `Retry-After`.
        retry_after_s: Option<u64>,
        /// Adobe's `x-debug-id` header.
        debug_id: Option<String>,
    },
    /// The answer could not be used: not JSON, no token, wrong token type, no usable expiry, or an
    /// unexpected status without an OAuth error body. Retried once.
    #[error("IMS sent an unusable answer (HTTP {status}): {reason}")]
    BadResponse {
        /// The HTTP status.
        status: u16,
        /// What was wrong, in words that hold no part of the body.
        reason: &'static str,
        /// Adobe's `x-debug-id` header.
        debug_id: Option<String>,
    },
    /// No answer within the timeout. Retryable.
    #[error("IMS did not answer within {0} ms")]
    Timeout(u64),
    /// The connection failed or broke. Retryable.
    #[error("could not reach IMS: {0}")]
    Network(String),
}

impl ImsError {
    /// The stable error code answered to callers.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidClient { .. } => "upstream_invalid_client",
            Self::InvalidScope { .. } => "invalid_scope",
            Self::Rejected { .. } => "upstream_rejected",
            Self::Unavailable { .. } => "upstream_unavailable",
            Self::BadResponse { .. } => "upstream_bad_response",
            Self::Timeout(_) => "upstream_timeout",
            Self::Network(_) => "upstream_unreachable",
        }
    }

    /// The HTTP status the broker answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::InvalidScope { .. } => 400,
            Self::Unavailable { .. } => 503,
            Self::Timeout(_) => 504,
            _ => 502,
        }
    }

    /// Adobe's `x-debug-id`, when IMS answered at all.
    pub fn debug_id(&self) -> Option<&str> {
        match self {
            Self::InvalidClient { debug_id, .. }
            | Self::InvalidScope { debug_id, .. }
            | Self::Rejected { debug_id, .. }
            | Self::Unavailable { debug_id, .. }
            | Self::BadResponse { debug_id, .. } => debug_id.as_deref(),
            Self::Timeout(_) | Self::Network(_) => None,
        }
    }

    /// Seconds Adobe asked us to wait, if it did.
    pub fn retry_after_s(&self) -> Option<u64> {
        match self {
            Self::Unavailable { retry_after_s, .. } => *retry_after_s,
            _ => None,
        }
    }

    /// The HTTP status IMS answered with, if it answered.
    pub fn upstream_status(&self) -> Option<u16> {
        match self {
            Self::Rejected { status, .. }
            | Self::Unavailable { status, .. }
            | Self::BadResponse { status, .. } => Some(*status),
            Self::InvalidClient { .. } | Self::InvalidScope { .. } => Some(400),
            Self::Timeout(_) | Self::Network(_) => None,
        }
    }

    /// True for the errors a later attempt may cure: network, timeout, 429, 5xx, garbage.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Unavailable { .. }
                | Self::BadResponse { .. }
                | Self::Timeout(_)
                | Self::Network(_)
        )
    }

    /// The description a caller may see. Adobe's own words for final OAuth errors; short fixed
    /// sentences otherwise, since 5xx answers say little.
    pub fn public_description(&self) -> String {
        match self {
            Self::InvalidClient { description, .. } | Self::InvalidScope { description, .. } => {
                description.clone()
            }
            Self::Rejected { error, .. } => {
                format!("Adobe IMS refused the token request ({error})")
            }
            Self::Unavailable { .. } => "Adobe IMS is unavailable; try again later".into(),
            Self::BadResponse { .. } => "Adobe IMS sent an unusable answer".into(),
            Self::Timeout(_) => "Adobe IMS did not answer in time".into(),
            Self::Network(_) => "Adobe IMS could not be reached".into(),
        }
    }
}
