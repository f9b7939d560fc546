//! Workload identity's two read-only endpoints:
//! - `GET /.well-known/oauth-authorization-server`: the broker's
//!   [RFC 8414](https://www.rfc-editor.org/rfc/rfc8414) metadata, no authentication, so that
//!   OAuth2 libraries that discover find the token endpoint and the client authentication methods;
//! - `GET /v1/identity` (admins and viewers): the trusted issuers and the federated callers with
//!   their bound claims. No token, key or digest is in it.

use crate::api_error::ApiError;
use crate::auth;
use crate::context::Ctx;
use crate::reply::Reply;
use crate::request::Request;
use ims_core::callers::{Allowed, Identity};
use ims_core::server_metadata::{origin_of, server_metadata as metadata};
use serde::Serialize;
use std::collections::BTreeMap;

/// Handles `GET /.well-known/oauth-authorization-server`: the issuer is the origin the request
/// came to.
pub fn server_metadata(req: &Request) -> Reply {
    match origin_of(&req.url) {
        Some(origin) => Reply::json(200, &metadata(&origin)),
        None => ApiError::NotFound.into_response(false),
    }
}

/// The answer of `GET /v1/identity`.
#[derive(Serialize)]
struct Answer<'a> {
    issuers: Vec<IssuerView<'a>>,
    callers: Vec<CallerView<'a>>,
}

#[derive(Serialize)]
struct IssuerView<'a> {
    name: &'a str,
    issuer: &'a str,
    audiences: &'a [String],
    algorithms: Vec<&'static str>,
    max_ttl_s: u64,
    /// `null` when the keys are found through the issuer's OpenID configuration.
    jwks_url: Option<&'a str>,
}

#[derive(Serialize)]
struct CallerView<'a> {
    id: &'a str,
    issuer: &'a str,
    bound_claims: BTreeMap<&'a str, &'a [String]>,
    credentials: AllowedView<'a>,
    scopes: AllowedView<'a>,
    role: &'static str,
}

/// `"*"` or the list of names.
#[derive(Serialize)]
#[serde(untagged)]
enum AllowedView<'a> {
    All(&'static str),
    Only(Vec<&'a str>),
}

impl<'a> From<&'a Allowed> for AllowedView<'a> {
    fn from(allowed: &'a Allowed) -> Self {
        match allowed {
            Allowed::All => Self::All("*"),
            Allowed::Only(names) => Self::Only(names.iter().map(String::as_str).collect()),
        }
    }
}

/// Handles `GET /v1/identity`.
pub async fn identity(req: &Request, c: &mut Ctx) -> Result<Reply, ApiError> {
    auth::operator_reader(c, req).await?;
    let registry = c.isolate.callers(&c.env)?;
    let answer = Answer {
        issuers: registry
            .issuers()
            .iter()
            .map(|(name, i)| IssuerView {
                name,
                issuer: &i.issuer,
                audiences: &i.audiences,
                algorithms: i.algorithms.iter().map(|a| a.as_str()).collect(),
                max_ttl_s: i.max_ttl_s,
                jwks_url: i.jwks_url.as_deref(),
            })
            .collect(),
        callers: registry
            .iter()
            .filter_map(|caller| match &caller.identity {
                Identity::Key(_) => None,
                Identity::Federated {
                    issuer,
                    bound_claims,
                } => Some(CallerView {
                    id: &caller.id,
                    issuer,
                    bound_claims: bound_claims.iter().collect(),
                    credentials: (&caller.credentials).into(),
                    scopes: (&caller.scopes).into(),
                    role: caller.role.as_str(),
                }),
            })
            .collect(),
    };
    Ok(Reply::json(200, &answer).no_store())
}
