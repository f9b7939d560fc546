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
    /// No client secret of the credential can be used here: its authority (the credential's
    /// Durable Object) could not be reached and this isolate has learnt no secret from it. IMS
    /// was not called. Not retried; `retry_after_s` says when to ask again.
    #[error("the credential's secrets cannot be reached")]
    CredentialUnavailable {
        /// Seconds to wait before asking again.
        retry_after_s: Option<u64>,
    },
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
            Self::CredentialUnavailable { .. } => "credential_unavailable",
        }
    }

    /// The HTTP status the broker answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::InvalidScope { .. } => 400,
            Self::Unavailable { .. } | Self::CredentialUnavailable { .. } => 503,
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
            Self::Timeout(_) | Self::Network(_) | Self::CredentialUnavailable { .. } => None,
        }
    }

    /// Seconds Adobe asked us to wait, if it did.
    pub fn retry_after_s(&self) -> Option<u64> {
        match self {
            Self::Unavailable { retry_after_s, .. }
            | Self::CredentialUnavailable { retry_after_s } => *retry_after_s,
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
            Self::Timeout(_) | Self::Network(_) | Self::CredentialUnavailable { .. } => None,
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
            Self::CredentialUnavailable { .. } => {
                "the credential's client secrets cannot be reached now; try again later".into()
            }
        }
    }
}

/// An [`ImsError`] as it travels between the Worker and its coordinator (Durable Object).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WireError {
    /// [`ImsError::code`].
    pub code: String,
    /// The status IMS answered, if it did.
    pub upstream_status: Option<u16>,
    /// [`ImsError::public_description`].
    pub description: String,
    /// Adobe's `x-debug-id`.
    pub debug_id: Option<String>,
    /// `Retry-After` seconds.
    pub retry_after_s: Option<u64>,
}

impl ImsError {
    /// The error for the wire.
    pub fn to_wire(&self) -> WireError {
        WireError {
            code: self.code().to_owned(),
            upstream_status: self.upstream_status(),
            description: self.public_description(),
            debug_id: self.debug_id().map(str::to_owned),
            retry_after_s: self.retry_after_s(),
        }
    }

    /// The error back from the wire: same code, status, description, debug id and
    /// `Retry-After` as the original.
    pub fn from_wire(w: WireError) -> Self {
        let status = w.upstream_status.unwrap_or(502);
        match w.code.as_str() {
            "upstream_invalid_client" => Self::InvalidClient {
                description: w.description,
                debug_id: w.debug_id,
            },
            "invalid_scope" => Self::InvalidScope {
                description: w.description,
                debug_id: w.debug_id,
            },
            "upstream_rejected" => Self::Rejected {
                status,
                error: "rejected".into(),
                debug_id: w.debug_id,
            },
            "upstream_unavailable" => Self::Unavailable {
                status,
                retry_after_s: w.retry_after_s,
                debug_id: w.debug_id,
            },
            "upstream_timeout" => Self::Timeout(0),
            "upstream_unreachable" => Self::Network(w.description),
            "credential_unavailable" => Self::CredentialUnavailable {
                retry_after_s: w.retry_after_s,
            },
            _ => Self::BadResponse {
                status,
                reason: "reported by the coordinator",
                debug_id: w.debug_id,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_round_trip_keeps_what_callers_see() {
        let errors = [
            ImsError::InvalidClient {
                description: "invalid client_secret parameter".into(),
                debug_id: Some("d".into()),
            },
            ImsError::InvalidScope {
                description: "bad".into(),
                debug_id: None,
            },
            ImsError::Unavailable {
                status: 429,
                retry_after_s: Some(7),
                debug_id: Some("d".into()),
            },
            ImsError::BadResponse {
                status: 200,
                reason: "x",
                debug_id: None,
            },
            ImsError::Timeout(10_000),
            ImsError::Network("reset".into()),
            ImsError::Rejected {
                status: 401,
                error: "unauthorized_client".into(),
                debug_id: None,
            },
        ];
        for e in errors {
            let back = ImsError::from_wire(e.to_wire());
            assert_eq!(
                (
                    back.code(),
                    back.http_status(),
                    back.debug_id(),
                    back.retry_after_s()
                ),
                (e.code(), e.http_status(), e.debug_id(), e.retry_after_s()),
                "{e:?}"
            );
        }
    }
}
