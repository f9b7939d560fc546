//! `POST /v1/token`: the broker's own token API.
//!
//! `Authorization: Bearer <caller key>`, optional JSON body
//! `{"credential":"default","scopes":["openid","AdobeID"]}` (`scopes` may also be Adobe's comma
//! string; `"refused": "<hex SHA-256 of a token>"` reports a token an Adobe API refused, which the
//! broker then replaces, at most once a minute per scope set: `ims_core::refused`). Answers `{"access_token","client_id","credential","expires_at","expires_in","scope",
//! "token_type":"bearer"}`, where `client_id` is the credential's (Adobe APIs want it as
//! `x-api-key` next to the token), and `expires_in`/`expires_at` count down to the last instant the caller may
//! use the token (its expiry less the safety margin).

use crate::api_error::ApiError;
use crate::auth;
use crate::context::Ctx;
use crate::reply::Reply;
use crate::request::Request;
use crate::tokens;
use ims_core::token_body::parse_body;
use serde::Serialize;
use serde_json::value::RawValue;

/// The answer. Members in alphabetical order, as clients have always received them.
#[derive(Serialize)]
struct Answer<'a> {
    /// The token as a JSON string.
    access_token: &'a RawValue,
    /// The credential's client id, for the `x-api-key` header Adobe APIs require.
    client_id: &'a str,
    credential: &'a str,
    /// RFC 3339, UTC.
    expires_at: String,
    expires_in: u64,
    /// Adobe's comma-separated scope list.
    scope: &'a str,
    token_type: &'static str,
}

/// Handles `POST /v1/token`.
pub async fn issue(mut req: Request, c: &mut Ctx) -> Result<Reply, ApiError> {
    // A body over the limit is refused first, whoever sent it: it was read no further.
    let bytes = req.take_body()?;
    let caller = auth::caller_of(c, &req).await?;
    if !bytes.is_empty() && req.media_type().as_deref() != Some("application/json") {
        return Err(ApiError::UnsupportedMediaType("application/json"));
    }
    let asked = c
        .isolate
        .token_bodies
        .borrow_mut()
        .parse(bytes, parse_body)
        .map_err(|e| ApiError::InvalidRequest(e.to_string()))?;
    let scopes = asked.scopes.as_ref().map(|s| s.to_set());
    let grant = tokens::grant(
        c,
        &caller,
        asked.credential.as_deref(),
        scopes,
        asked.refused.as_ref(),
    )
    .await?;
    let quoted = c.isolate.quoted_tokens.borrow_mut().quoted(&grant.token);
    let answer = Answer {
        access_token: &quoted,
        client_id: &grant.client_id,
        credential: &grant.credential,
        expires_at: ims_core::time::rfc3339(grant.token.usable_until_ms()),
        expires_in: grant.expires_in_s,
        scope: &grant.token.scope,
        token_type: "bearer",
    };
    Ok(Reply::json(200, &answer).no_store())
}
