//! Every error the broker answers with, and the one place errors become HTTP responses.
//!
//! Bodies are always `{"error":"<stable code>","error_description":"<text>"}`. 4xx echo the cause;
//! 5xx say little (the details go to the log line), except Adobe's `x-debug-id`, which support
//! asks for. Which setting is misconfigured is shown to admin callers only; everyone else gets a
//! generic description, and the log keeps the details. `/oauth/token` answers in the exact vocabulary of
//! [RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2) ([`ApiError::oauth`]).

use crate::reply::Reply;
use ims_core::{ConfigError, ImsError};
use serde::Serialize;

/// The body of every error answer. Members in alphabetical order, as callers have always
/// received them.
#[derive(Serialize)]
struct ErrorBody<'a> {
    /// Adobe's `x-debug-id`, when Adobe answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    debug_id: Option<&'a str>,
    error: &'a str,
    error_description: String,
}

impl From<ims_core::client_auth::ClientAuthError> for ApiError {
    fn from(e: ims_core::client_auth::ClientAuthError) -> Self {
        match e {
            ims_core::client_auth::ClientAuthError::Invalid => Self::Unauthenticated,
            other => Self::InvalidRequest(other.to_string()),
        }
    }
}

/// A failed request, by cause.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed body, wrong shape, bad parameter (400).
    #[error("{0}")]
    InvalidRequest(String),
    /// Bad scope names, or IMS refused the scopes (400 `invalid_scope`).
    #[error("{0}")]
    InvalidScope(String),
    /// No caller key, or one the broker does not know (401).
    #[error("a valid caller key is required")]
    Unauthenticated,
    /// A workload identity token that is refused: malformed, not signed by its issuer's key,
    /// expired, for another audience, or matching no caller (401). The reason names no value.
    #[error("the identity token was refused: {0}")]
    IdentityRejected(ims_core::workload_identity::JwtError),
    /// The token's issuer's keys could not be fetched and none are cached (503); carries the
    /// seconds until the broker asks the issuer again.
    #[error("the identity token's issuer could not be reached for its keys; retry in {0} s")]
    IssuerUnavailable(u64),
    /// `/oauth/token` with a `grant_type` other than `client_credentials` (400).
    #[error("only the client_credentials grant is supported")]
    UnsupportedGrantType,
    /// A known caller asked for a credential it may not use (403).
    #[error("{0}")]
    CredentialForbidden(String),
    /// A known caller asked for a scope it may not request: outside the credential's scopes,
    /// reserved for the broker, or outside its own list (403).
    #[error("{0}")]
    ScopeForbidden(String),
    /// A viewer asked for a token or a change (403).
    #[error("this caller key is read-only (role viewer): it gets no tokens and changes nothing")]
    ReadOnlyCaller,
    /// A caller caused more mints of new scope sets in the last minute than
    /// `MAX_NEW_SCOPE_SETS_PER_MIN` allows (429); carries the seconds until it may again.
    #[error("this caller asked for too many new scope sets in the last minute; retry in {0} s or use scope sets already cached")]
    TooManyNewScopeSets(u64),
    /// A credential name that is not configured (404).
    #[error("unknown credential {0:?}")]
    UnknownCredential(String),
    /// A browser call from another origin (403).
    #[error("cross-origin requests are not accepted")]
    CrossOrigin,
    /// No such route (404).
    #[error("no such route")]
    NotFound,
    /// The route exists with other methods (405); carries the `Allow` value.
    #[error("method not allowed")]
    MethodNotAllowed(&'static str),
    /// Body over the limit (413).
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// Body of a content type the route does not take (415).
    #[error("content type must be {0}")]
    UnsupportedMediaType(&'static str),
    /// A setting is missing or malformed (500); names the setting, never its value.
    #[error(transparent)]
    Misconfigured(#[from] ConfigError),
    /// KV could not be read or written, or a stored record is unreadable (500).
    #[error("storage error: {0}")]
    Storage(String),
    /// The I/O Management API failed or refused (502).
    #[error(transparent)]
    Management(ims_core::io_api::IoApiError),
    /// The request conflicts with the current state, e.g. deleting the active secret (409).
    #[error("{0}")]
    Conflict(String),
    /// A change (rotate, delete) asked by a caller that is not an admin (403).
    #[error("this endpoint is for admin callers")]
    AdminOnly,
    /// An operator's read endpoint called by a caller that is neither admin nor viewer (403).
    #[error("this endpoint is for admin and viewer callers")]
    OperatorsOnly,
    /// The credential has never been rotated (404).
    #[error("this credential has no rotation yet")]
    NoRotation,
    /// No such secret at Adobe (404).
    #[error("no secret {0:?} at Adobe for this credential")]
    UnknownSecret(String),
    /// IMS failed or refused (4xx/5xx per [`ImsError::http_status`]).
    #[error(transparent)]
    Upstream(#[from] ImsError),
}

impl ApiError {
    /// The stable code of the `/v1` API.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidScope(_) => "invalid_scope",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::Unauthenticated | Self::IdentityRejected(_) => "unauthorized",
            Self::IssuerUnavailable(_) => "issuer_unavailable",
            Self::CredentialForbidden(_) | Self::ScopeForbidden(_) | Self::ReadOnlyCaller => {
                "forbidden"
            }
            Self::TooManyNewScopeSets(_) => "too_many_new_scope_sets",
            Self::OperatorsOnly => "forbidden",
            Self::UnknownCredential(_) => "unknown_credential",
            Self::NotFound => "not_found",
            Self::CrossOrigin => "cross_origin_forbidden",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::Misconfigured(_) => "misconfigured",
            Self::Storage(_) => "storage_error",
            Self::Management(_) => "upstream_management_error",
            Self::Conflict(_) => "conflict",
            Self::AdminOnly => "forbidden",
            Self::UnknownSecret(_) => "unknown_secret",
            Self::NoRotation => "no_rotation",
            Self::Upstream(e) => e.code(),
        }
    }

    /// What the log line says of the error besides its code: the detail of a 5xx (no secrets by
    /// construction), and why an identity token was refused (a reason, never a claim's value).
    pub fn log_detail(&self) -> Option<String> {
        (self.status() >= 500 || matches!(self, Self::IdentityRejected(_)))
            .then(|| self.to_string())
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidRequest(_) | Self::InvalidScope(_) | Self::UnsupportedGrantType => 400,
            Self::Unauthenticated | Self::IdentityRejected(_) => 401,
            Self::IssuerUnavailable(_) => 503,
            Self::CredentialForbidden(_)
            | Self::ScopeForbidden(_)
            | Self::CrossOrigin
            | Self::ReadOnlyCaller
            | Self::OperatorsOnly => 403,
            Self::TooManyNewScopeSets(_) => 429,
            Self::UnknownCredential(_) | Self::NotFound => 404,
            Self::MethodNotAllowed(_) => 405,
            Self::PayloadTooLarge(_) => 413,
            Self::UnsupportedMediaType(_) => 415,
            Self::Misconfigured(_) | Self::Storage(_) => 500,
            Self::Management(_) => 502,
            Self::Conflict(_) => 409,
            Self::AdminOnly => 403,
            Self::UnknownSecret(_) | Self::NoRotation => 404,
            Self::Upstream(e) => e.http_status(),
        }
    }

    /// The text callers see; `admin`: the caller is an admin, who may read which setting is
    /// misconfigured.
    fn description(&self, admin: bool) -> String {
        match self {
            Self::Upstream(e) => e.public_description(),
            Self::Misconfigured(e) if admin => format!("the broker is misconfigured: {e}"),
            Self::Misconfigured(_) => {
                "the broker is misconfigured; an admin can read which setting in its log".into()
            }
            Self::Storage(_) => "the broker's storage failed; try again".into(),
            Self::Management(e) => match e.status() {
                Some(s) => format!("the Adobe I/O Management API answered {s}"),
                None => "the Adobe I/O Management API could not be reached".into(),
            },
            other => other.to_string(),
        }
    }

    /// The RFC 6749 §5.2 code used by `/oauth/token`.
    fn oauth_code(&self) -> &'static str {
        match self {
            Self::Unauthenticated | Self::IdentityRejected(_) => "invalid_client",
            Self::InvalidScope(_) | Self::ScopeForbidden(_) => "invalid_scope",
            Self::CredentialForbidden(_) | Self::ReadOnlyCaller => "unauthorized_client",
            Self::InvalidRequest(_)
            | Self::UnknownCredential(_)
            | Self::PayloadTooLarge(_)
            | Self::UnsupportedMediaType(_) => "invalid_request",
            other => other.code(),
        }
    }

    /// The response for the `/v1` API and every other route; `admin`: the caller is an admin.
    pub fn into_response(self, admin: bool) -> Reply {
        self.respond(
            self.status(),
            self.code(),
            "Bearer realm=\"ims-broker\"",
            admin,
        )
    }

    /// The response for `/oauth/token`, per RFC 6749 §5.2; `admin`: the caller is an admin.
    pub fn oauth(self, admin: bool) -> Reply {
        let status = match self {
            Self::Unauthenticated | Self::IdentityRejected(_) => 401,
            Self::CredentialForbidden(_)
            | Self::ScopeForbidden(_)
            | Self::ReadOnlyCaller
            | Self::UnknownCredential(_)
            | Self::UnsupportedMediaType(_) => 400,
            _ => self.status(),
        };
        self.respond(
            status,
            self.oauth_code(),
            "Basic realm=\"ims-broker\"",
            admin,
        )
    }

    fn respond(&self, status: u16, code: &str, challenge: &'static str, admin: bool) -> Reply {
        let debug_id = match self {
            Self::Upstream(e) => e.debug_id(),
            Self::Management(e) => e.debug_id(),
            _ => None,
        };
        let body = ErrorBody {
            debug_id,
            error: code,
            error_description: self.description(admin),
        };
        let mut reply = Reply::json(status, &body).no_store();
        if let Some(id) = debug_id {
            reply = reply.header("x-debug-id", id);
        }
        let retry_after = match self {
            Self::Upstream(e) => e.retry_after_s(),
            Self::TooManyNewScopeSets(s) | Self::IssuerUnavailable(s) => Some(*s),
            _ => None,
        };
        if let Some(s) = retry_after {
            reply = reply.header("retry-after", &s.to_string());
        }
        match self {
            Self::Unauthenticated => reply.static_header("www-authenticate", challenge),
            Self::IdentityRejected(_) => reply.static_header(
                "www-authenticate",
                if challenge.starts_with("Basic") {
                    challenge
                } else {
                    "Bearer realm=\"ims-broker\", error=\"invalid_token\""
                },
            ),
            Self::MethodNotAllowed(allow) => reply.static_header("allow", allow),
            _ => reply,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ims_core::io_api::IoApiError;
    use ims_core::workload_identity::JwtError;

    /// One error of every kind. The match has no catch-all arm: a new variant does not compile
    /// until it is added here, and so to the README's table below.
    fn one_of_each() -> Vec<ApiError> {
        let upstream = [
            ImsError::InvalidClient {
                description: String::new(),
                debug_id: None,
            },
            ImsError::InvalidScope {
                description: String::new(),
                debug_id: None,
            },
            ImsError::Rejected {
                status: 400,
                error: String::new(),
                debug_id: None,
            },
            ImsError::Unavailable {
                status: 503,
                retry_after_s: None,
                debug_id: None,
            },
            ImsError::BadResponse {
                status: 200,
                reason: "",
                debug_id: None,
            },
            ImsError::Timeout(1),
            ImsError::Network(String::new()),
            ImsError::CredentialUnavailable {
                retry_after_s: None,
            },
        ];
        let mut all = vec![
            ApiError::InvalidRequest(String::new()),
            ApiError::InvalidScope(String::new()),
            ApiError::Unauthenticated,
            ApiError::IdentityRejected(JwtError::Expired),
            ApiError::IssuerUnavailable(1),
            ApiError::UnsupportedGrantType,
            ApiError::CredentialForbidden(String::new()),
            ApiError::ScopeForbidden(String::new()),
            ApiError::ReadOnlyCaller,
            ApiError::TooManyNewScopeSets(1),
            ApiError::UnknownCredential(String::new()),
            ApiError::CrossOrigin,
            ApiError::NotFound,
            ApiError::MethodNotAllowed("GET"),
            ApiError::PayloadTooLarge(1),
            ApiError::UnsupportedMediaType("application/json"),
            ApiError::Misconfigured(ConfigError::Missing {
                setting: "X".into(),
            }),
            ApiError::Storage(String::new()),
            ApiError::Management(IoApiError::Transport(String::new())),
            ApiError::Conflict(String::new()),
            ApiError::AdminOnly,
            ApiError::OperatorsOnly,
            ApiError::NoRotation,
            ApiError::UnknownSecret(String::new()),
        ];
        all.extend(upstream.into_iter().map(ApiError::Upstream));
        for e in &all {
            match e {
                ApiError::InvalidRequest(_)
                | ApiError::InvalidScope(_)
                | ApiError::Unauthenticated
                | ApiError::IdentityRejected(_)
                | ApiError::IssuerUnavailable(_)
                | ApiError::UnsupportedGrantType
                | ApiError::CredentialForbidden(_)
                | ApiError::ScopeForbidden(_)
                | ApiError::ReadOnlyCaller
                | ApiError::TooManyNewScopeSets(_)
                | ApiError::UnknownCredential(_)
                | ApiError::CrossOrigin
                | ApiError::NotFound
                | ApiError::MethodNotAllowed(_)
                | ApiError::PayloadTooLarge(_)
                | ApiError::UnsupportedMediaType(_)
                | ApiError::Misconfigured(_)
                | ApiError::Storage(_)
                | ApiError::Management(_)
                | ApiError::Conflict(_)
                | ApiError::AdminOnly
                | ApiError::OperatorsOnly
                | ApiError::NoRotation
                | ApiError::UnknownSecret(_)
                | ApiError::Upstream(
                    ImsError::InvalidClient { .. }
                    | ImsError::InvalidScope { .. }
                    | ImsError::Rejected { .. }
                    | ImsError::Unavailable { .. }
                    | ImsError::BadResponse { .. }
                    | ImsError::Timeout(_)
                    | ImsError::Network(_)
                    | ImsError::CredentialUnavailable { .. },
                ) => {}
            }
        }
        all
    }

    /// The `| status | `code` |` rows of the README's error table.
    fn readme_rows() -> Vec<(u16, String)> {
        let readme = include_str!("../README.md");
        let table = readme
            .split("### Errors")
            .nth(1)
            .expect("README has an Errors section");
        table
            .lines()
            .skip_while(|l| !l.starts_with("| status |"))
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .filter_map(|row| {
                let mut cells = row.split('|').map(str::trim).skip(1);
                let status = cells.next()?.parse().ok()?;
                let code = cells.next()?.trim_matches('`').to_owned();
                Some((status, code))
            })
            .collect()
    }

    #[test]
    fn the_readme_error_table_lists_every_code_with_its_status() {
        let rows = readme_rows();
        assert!(rows.len() > 10, "rows read: {rows:?}");
        let mut missing = Vec::new();
        for e in one_of_each() {
            let row = (e.status(), e.code().to_owned());
            if !rows.contains(&row) {
                missing.push(row);
            }
        }
        missing.dedup();
        assert!(
            missing.is_empty(),
            "not in README's error table: {missing:?}"
        );
        // And nothing in the table that the code never answers.
        let answered: Vec<(u16, String)> = one_of_each()
            .iter()
            .map(|e| (e.status(), e.code().to_owned()))
            .collect();
        let stale: Vec<_> = rows.iter().filter(|r| !answered.contains(r)).collect();
        assert!(
            stale.is_empty(),
            "README lists codes never answered: {stale:?}"
        );
    }

    #[test]
    fn the_readme_names_every_oauth_token_error_code() {
        let readme = include_str!("../README.md");
        for e in one_of_each() {
            let code = e.oauth_code();
            assert!(
                readme.contains(&format!("`{code}`")),
                "/oauth/token answers {code}, which README never names"
            );
        }
    }
}
