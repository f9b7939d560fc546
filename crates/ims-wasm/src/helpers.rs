//! Pure helpers for callers who bring their own HTTP: scopes, the cache key, the token
//! request, parsing the token response, the JWT claims and the cache decision at a given clock.

use crate::error;
use crate::host::{ms, response_parts};
use crate::json::{field, num, to_js, Pairs};
use crate::options::{self, Config};
use ims_core::ims::{self, ClientAuth, TokenEndpoint};
use ims_core::policy::{CachedToken, Freshness};
use ims_core::{jwt, AccessToken};
use serde::Serialize;
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
    #[derive(Serialize)]
    struct Canonical<'a> {
        list: Vec<&'a str>,
        comma: String,
        space: String,
    }
    let set = options::scopes(&scopes, endpoint_of(separator)?)?;
    Ok(to_js(&Canonical {
        list: set.iter().collect(),
        comma: set.to_comma(),
        space: set.to_space(),
    }))
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
    #[derive(Serialize)]
    struct TokenRequest<'a> {
        method: &'a str,
        url: &'a str,
        headers: Pairs<'a>,
        body: std::borrow::Cow<'a, str>,
    }
    let req = ims::endpoint_request(c.endpoint, &c.token_url, &c.client_id, &c.secret, &c.scopes);
    Ok(to_js(&TokenRequest {
        method: req.method,
        url: &req.url,
        headers: Pairs(&req.headers),
        body: String::from_utf8_lossy(&req.body),
    }))
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
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Issued<'a> {
        access_token: &'a str,
        expires_at: f64,
    }
    let issued = ims::parse_token_response(&resp, ms(sent_at)).map_err(|e| error::to_js(&e))?;
    Ok(to_js(&Issued {
        access_token: issued.access_token.secret(),
        expires_at: num(issued.expires_at_ms),
    }))
}

/// The `created_at` / `expires_in` claims of an IMS access token (a JWT; the signature is not
/// checked): `{ createdAt, expiresIn, expiresAt }` in ms.
#[wasm_bindgen(js_name = decodeClaims)]
pub fn decode_claims(token: &str) -> Result<JsValue, JsValue> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Claims {
        created_at: f64,
        expires_in: f64,
        expires_at: f64,
    }
    let c = jwt::decode_claims(token).map_err(|e| error::to_js(&e))?;
    Ok(to_js(&Claims {
        created_at: num(c.created_at_ms),
        expires_in: num(c.expires_in_ms),
        expires_at: num(c.expires_at_ms()),
    }))
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
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Decision {
        freshness: &'static str,
        lifetime_ms: f64,
        skew_ms: f64,
        usable_until: f64,
        refresh_at: f64,
        expires_in: f64,
        store_ttl: f64,
    }
    Ok(to_js(&Decision {
        freshness,
        lifetime_ms: num(cached.lifetime_ms()),
        skew_ms: num(cached.skew_ms()),
        usable_until: num(cached.usable_until_ms()),
        refresh_at: num(cached.refresh_at_ms()),
        expires_in: num(cached.caller_expires_in_s(now)),
        store_ttl: num(cached.kv_ttl_s(now)),
    }))
}

/// The package's defaults: `{ tokenUrl, ioApiBaseUrl, managementScopes }`.
#[wasm_bindgen]
pub fn defaults() -> JsValue {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Defaults {
        token_url: &'static str,
        io_api_base_url: &'static str,
        management_scopes: [&'static str; 8],
    }
    to_js(&Defaults {
        token_url: ims::DEFAULT_TOKEN_URL,
        io_api_base_url: ims_core::io_api::DEFAULT_IO_API_BASE_URL,
        management_scopes: ims_core::io_api::MANAGEMENT_SCOPES,
    })
}
