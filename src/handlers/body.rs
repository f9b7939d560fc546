//! Reading request bodies with a size limit and a content-type check.

use crate::api_error::ApiError;
use worker::Request;

/// Largest body any endpoint reads.
pub const MAX_BODY: usize = 16 * 1024;

/// The media type of the request, lower-cased, without parameters (`application/json`).
pub fn media_type(req: &Request) -> Option<String> {
    let value = req.headers().get("content-type").ok().flatten()?;
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    (!essence.is_empty()).then_some(essence)
}

/// The body, refused with 413 past [`MAX_BODY`] (by `Content-Length` first, then by what arrived).
pub async fn read(req: &mut Request) -> Result<Vec<u8>, ApiError> {
    let declared = req
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        return Err(ApiError::PayloadTooLarge(MAX_BODY));
    }
    let bytes = req
        .bytes()
        .await
        .map_err(|_| ApiError::InvalidRequest("the request body could not be read".into()))?;
    if bytes.len() > MAX_BODY {
        return Err(ApiError::PayloadTooLarge(MAX_BODY));
    }
    Ok(bytes)
}
