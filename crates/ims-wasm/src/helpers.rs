//! Pure helpers for callers who bring their own HTTP: scopes, the cache key, the token
//! request, parsing the token response, the JWT claims and the cache decision at a given clock.

use crate::error;
use crate::host::{ms, response_parts};
use crate::json::{self, field, Obj};
use crate::options::{self, Config};
use ims_core::ims::{self, ClientAuth, TokenEndpoint};
use ims_core::policy::{CachedToken, Freshness};
use ims_core::{jwt, AccessToken};
use wasm_bindgen::prelude::*;

fn endpoint_of(separator: Option<String>) -> Result<TokenEndpoint, JsValue> {
    match separator.as_deref() {
        None | Some(",") => Ok(TokenEndpoint::Adobe),
        Some(" ") => Ok(TokenEndpoint::Rfc6749 {
            auth: ClientAuth::Basic,
        }),
        Some(_) => Err(error::invalid("separator must be \",\" or \" \"")),
    }
}

/// The canonical form of a scope list (trimmed, de-duplicated, sorted, checked):
/// `{ list, comma, space }`. A string is split on `separator` (`","` by default, or `" "`).
#[wasm_bindgen(js_name = canonicalScopes)]
pub fn canonical_scopes(scopes: JsValue, separator: Option<String>) -> Result<JsValue, JsValue> {
    let set = options::scopes(&scopes, endpoint_of(separator)?)?;
    Ok(Obj::new()
        .set("list", json::strings(set.iter()))
        .set("comma", set.to_comma())
        .set("space", set.to_space())
        .into())
}

/// The cache key (and store key) of a credential name, client id and scope list.
#[wasm_bindgen(js_name = cacheKey)]
pub fn cache_key(credential: &str, client_id: &str, scopes: JsValue) -> Result<String, JsValue> {
    let set = options::scopes(&scopes, TokenEndpoint::Adobe)?;
    Ok(ims_core::cache_key::cache_key(credential, client_id, &set))
}

/// The token request for `{ tokenUrl?, clientId, clientSecret, scopes?, protocol?, clientAuth? }`:
/// `{ method, url, headers, body }`. The body (or the Authorization header) holds the client
/// secret: send it, never log it.
#[wasm_bindgen(js_name = tokenRequest)]
pub fn token_request(options: JsValue) -> Result<JsValue, JsValue> {
    let c = Config::read(&options)?;
    let req = ims::endpoint_request(c.endpoint, &c.token_url, &c.client_id, &c.secret, &c.scopes);
    let mut headers = Obj::new();
    for (name, value) in req.headers {
        headers = headers.set(&name, value);
    }
    Ok(Obj::new()
        .set("method", req.method)
        .set("url", req.url)
        .set("headers", headers)
        .set("body", String::from_utf8_lossy(&req.body).into_owned())
        .into())
}

/// Parses a token endpoint's answer (`{ status, headers?, body }`, body a string or bytes) to a
/// request sent at `sentAt` (epoch ms): `{ accessToken, expiresAt }` (the endpoint's expiry,
/// epoch ms), or throws an `ImsError` (`upstream_invalid_client`, `invalid_scope`, …).
#[wasm_bindgen(js_name = parseTokenResponse)]
pub fn parse_token_response(response: JsValue, sent_at: f64) -> Result<JsValue, JsValue> {
    if !response.is_object() {
        return Err(error::invalid(
            "response must be { status, headers?, body }",
        ));
    }
    let resp = response_parts(&response)
        .to_response()
        .ok_or_else(|| error::invalid("response.status must be a number"))?;
    let issued = ims::parse_token_response(&resp, ms(sent_at)).map_err(|e| error::to_js(&e))?;
    Ok(Obj::new()
        .set("accessToken", issued.access_token.secret())
        .set("expiresAt", json::num(issued.expires_at_ms))
        .into())
}

/// The `created_at` / `expires_in` claims of an IMS access token (a JWT; the signature is not
/// checked): `{ createdAt, expiresIn, expiresAt }` in ms.
#[wasm_bindgen(js_name = decodeClaims)]
pub fn decode_claims(token: &str) -> Result<JsValue, JsValue> {
    let c = jwt::decode_claims(token).map_err(|e| error::to_js(&e))?;
    Ok(Obj::new()
        .set("createdAt", json::num(c.created_at_ms))
        .set("expiresIn", json::num(c.expires_in_ms))
        .set("expiresAt", json::num(c.expires_at_ms()))
        .into())
}

/// What the cache does with a token sent at `sentAt` that expires at `expiresAt`, at `now`
/// (all epoch ms): `{ freshness: "fresh" | "stale" | "unusable", lifetimeMs, skewMs,
/// usableUntil, refreshAt, expiresIn, storeTtl }`.
#[wasm_bindgen(js_name = cacheDecision)]
pub fn cache_decision(token: JsValue, now: f64) -> Result<JsValue, JsValue> {
    let read = |key: &str| field(&token, key).as_f64().filter(|v| v.is_finite());
    let (Some(sent_at), Some(expires_at)) = (read("sentAt"), read("expiresAt")) else {
        return Err(error::invalid(
            "token must be { sentAt, expiresAt } (epoch ms)",
        ));
    };
    let (sent, expires) = (ms(sent_at), ms(expires_at));
    if expires <= sent {
        return Err(error::invalid("expiresAt must be after sentAt"));
    }
    let cached = CachedToken {
        access_token: AccessToken::new(""),
        scope: String::new(),
        sent_at_ms: sent,
        expires_at_ms: expires,
    };
    let now = ms(now);
    let freshness = match cached.freshness(now) {
        Freshness::Fresh => "fresh",
        Freshness::Stale => "stale",
        Freshness::Unusable => "unusable",
    };
    Ok(Obj::new()
        .set("freshness", freshness)
        .set("lifetimeMs", json::num(cached.lifetime_ms()))
        .set("skewMs", json::num(cached.skew_ms()))
        .set("usableUntil", json::num(cached.usable_until_ms()))
        .set("refreshAt", json::num(cached.refresh_at_ms()))
        .set("expiresIn", json::num(cached.caller_expires_in_s(now)))
        .set("storeTtl", json::num(cached.kv_ttl_s(now)))
        .into())
}

/// The package's defaults: `{ tokenUrl, ioApiBaseUrl, managementScopes }`.
#[wasm_bindgen]
pub fn defaults() -> JsValue {
    Obj::new()
        .set("tokenUrl", ims::DEFAULT_TOKEN_URL)
        .set("ioApiBaseUrl", ims_core::io_api::DEFAULT_IO_API_BASE_URL)
        .set(
            "managementScopes",
            json::strings(ims_core::io_api::MANAGEMENT_SCOPES),
        )
        .into()
}
