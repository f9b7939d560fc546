//! `POST /oauth/token`: the client_credentials grant of
//! [RFC 6749 §4.4](https://www.rfc-editor.org/rfc/rfc6749#section-4.4) for callers that use a
//! standard OAuth2 library.
//!
//! The caller id and key are the `client_id`/`client_secret`, sent either by HTTP Basic
//! ([§2.3.1](https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1), `client_secret_basic`) or in
//! the form (`client_secret_post`), never both; or the caller presents an identity token as a
//! JWT client assertion ([RFC 7523 §2.2](https://www.rfc-editor.org/rfc/rfc7523#section-2.2)),
//! checked as in `crate::identity`. `scope` is space-separated as in the RFC and
//! becomes Adobe's comma list; an optional `credential` parameter picks the credential. Errors
//! follow [§5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2).

use crate::api_error::ApiError;
use crate::auth;
use crate::context::Ctx;
use crate::identity;
use crate::reply::Reply;
use crate::request::Request;
use crate::tokens;
use ims_core::client_auth::{self, ClientAuth};
use ims_core::ScopeSet;
use serde::Serialize;

/// The answer of [RFC 6749 §5.1](https://www.rfc-editor.org/rfc/rfc6749#section-5.1). Members
/// in alphabetical order, as clients have always received them.
#[derive(Serialize)]
struct Answer<'a> {
    access_token: &'a str,
    expires_in: u64,
    /// Space-separated, as in the RFC.
    scope: String,
    token_type: &'static str,
}

/// Handles `POST /oauth/token`; every error is answered per RFC 6749 §5.2.
pub async fn token(req: Request, c: &mut Ctx) -> Result<Reply, ApiError> {
    match grant(req, c).await {
        Ok(r) => Ok(r),
        Err(e) => {
            c.log.error = Some(e.code());
            c.log.detail = e.log_detail();
            Ok(e.oauth(c.admin()))
        }
    }
}

async fn grant(mut req: Request, c: &mut Ctx) -> Result<Reply, ApiError> {
    // A body over the limit is refused first, before authentication: it was read no further.
    let bytes = req.take_body()?;
    if req.media_type().as_deref() != Some("application/x-www-form-urlencoded") {
        return Err(ApiError::InvalidRequest(
            "content type must be application/x-www-form-urlencoded".into(),
        ));
    }
    let authorization = req.authorization.as_ref().map(|a| a.expose());
    let mut form = client_auth::parse_form(&bytes)?;
    // RFC 6749 §3.1: "Parameters sent without a value MUST be treated as if they were omitted
    // from the request." So `client_id=&client_secret=` next to Basic is not a second
    // authentication method, and `credential=` is the default credential.
    form.retain(|_, value| !value.is_empty());
    let caller = match client_auth::client_auth(authorization, &mut form)? {
        ClientAuth::Secret { id, key } => auth::authenticate(c, Some(key), Some(&id))?,
        ClientAuth::Assertion { token, client_id } => {
            identity::authenticate(c, &token, client_id.as_deref()).await?
        }
    };
    match form.get("grant_type").map(String::as_str) {
        None => return Err(ApiError::InvalidRequest("grant_type is required".into())),
        Some("client_credentials") => {}
        Some(_) => return Err(ApiError::UnsupportedGrantType),
    }
    let scopes = form.get("scope").map(|s| ScopeSet::from_space(s));
    let grant = tokens::grant(
        c,
        &caller,
        form.get("credential").map(String::as_str),
        scopes,
        None,
    )
    .await?;
    let answer = Answer {
        access_token: grant.token.access_token.secret(),
        expires_in: grant.expires_in_s,
        scope: ScopeSet::from_comma(&grant.token.scope)
            .map(|s| s.to_space())
            .unwrap_or_default(),
        token_type: "Bearer",
    };
    Ok(Reply::json(200, &answer)
        .no_store()
        .static_header("pragma", "no-cache"))
}
