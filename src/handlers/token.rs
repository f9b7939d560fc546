//! `POST /v1/token`: the broker's own token API.
//!
//! `Authorization: Bearer <caller key>`, optional JSON body
//! `{"credential":"default","scopes":["openid","AdobeID"]}` (`scopes` may also be Adobe's comma
//! string). Answers `{"access_token","token_type":"bearer","expires_in","expires_at","scope",
//! "credential"}`, where `expires_in`/`expires_at` count down to the last instant the caller may
//! use the token (its expiry less the safety margin).

use super::body;
use crate::api_error::{json_response, ApiError};
use crate::auth;
use crate::routes::Ctx;
use crate::tokens;
use ims_core::ScopeSet;
use serde::Deserialize;
use serde_json::json;
use worker::{Request, Response};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    credential: Option<String>,
    scopes: Option<Scopes>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Scopes {
    List(Vec<String>),
    Comma(String),
}

fn parse_body(bytes: &[u8]) -> Result<TokenBody, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(TokenBody::default());
    }
    let bad = |e: &dyn std::fmt::Display| {
        ApiError::InvalidRequest(format!(
            "body must be a JSON object with optional \"credential\" (string) and \"scopes\" (list of strings): {e}"
        ))
    };
    // serde's derived struct reader also takes a JSON array (`["extra","openid"]` would be read
    // field by field), so the body must first be an object.
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| bad(&e))?;
    if !value.is_object() {
        return Err(bad(&"not an object"));
    }
    serde_json::from_value(value).map_err(|e| bad(&e))
}

/// Handles `POST /v1/token`.
pub async fn issue(mut req: Request, c: &mut Ctx) -> Result<Response, ApiError> {
    let caller = auth::authenticate(&c.env, auth::bearer_key(&req))?;
    c.log.caller = Some(caller.id.clone());
    let media_type = body::media_type(&req);
    let bytes = body::read(&mut req).await?;
    if !bytes.is_empty() && media_type.as_deref() != Some("application/json") {
        return Err(ApiError::UnsupportedMediaType("application/json"));
    }
    let parsed = parse_body(&bytes)?;
    let scopes = match parsed.scopes {
        None => None,
        Some(Scopes::List(list)) => Some(ScopeSet::from_names(&list)),
        Some(Scopes::Comma(text)) => Some(ScopeSet::from_comma(&text)),
    };
    let grant = tokens::grant(c, &caller, parsed.credential.as_deref(), scopes).await?;
    let body = json!({
        "access_token": grant.token.access_token.secret(),
        "token_type": "bearer",
        "expires_in": grant.expires_in_s,
        "expires_at": ims_core::time::rfc3339(grant.token.usable_until_ms()),
        "scope": grant.token.scope,
        "credential": grant.credential,
    });
    Ok(json_response(
        200,
        &body,
        &[("cache-control", "no-store".into())],
    ))
}
