//! `POST /v1/token`: the broker's own token API.
//!
//! `Authorization: Bearer <caller key>`, optional JSON body
//! `{"credential":"default","scopes":["openid","AdobeID"]}` (`scopes` may also be Adobe's comma
//! string). Answers `{"access_token","token_type":"bearer","expires_in","expires_at","scope",
//! "credential"}`, where `expires_in`/`expires_at` count down to the last instant the caller may
//! use the token (its expiry less the safety margin).

use super::body;
use crate::api_error::ApiError;
use crate::auth;
use crate::incoming::Incoming;
use crate::reply::Reply;
use crate::routes::Ctx;
use crate::tokens;
use ims_core::json::Obj;
use ims_core::token_body::parse_body;

/// Handles `POST /v1/token`.
pub async fn issue(mut req: Incoming, c: &mut Ctx) -> Result<Reply, ApiError> {
    let caller = auth::authenticate(&c.env, auth::bearer_key(&req))?;
    c.log.caller = Some(caller.id.clone());
    let media_type = body::media_type(&req);
    let bytes = body::read(&mut req, &mut c.body).await?;
    if !bytes.is_empty() && media_type.as_deref() != Some("application/json") {
        return Err(ApiError::UnsupportedMediaType("application/json"));
    }
    let parsed = parse_body(&bytes).map_err(|e| ApiError::InvalidRequest(e.to_string()))?;
    let scopes = parsed.scopes.as_ref().map(|s| s.to_set());
    let grant = tokens::grant(c, &caller, parsed.credential.as_deref(), scopes).await?;
    // Keys in serde_json's (sorted) order, as this body was written before; one allocation.
    let token = grant.token.access_token.secret();
    let room = token.len() + grant.token.scope.len() + grant.credential.len() + 128;
    let body = Obj::with_capacity(room)
        .str("access_token", token)
        .str("credential", &grant.credential)
        .str(
            "expires_at",
            &ims_core::time::rfc3339(grant.token.usable_until_ms()),
        )
        .u64("expires_in", grant.expires_in_s)
        .str("scope", &grant.token.scope)
        .str("token_type", "bearer")
        .end();
    Ok(Reply::json(200, body).no_store())
}
