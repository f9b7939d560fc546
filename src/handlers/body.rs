//! Reading request bodies with a size limit and a content-type check.

use crate::api_error::ApiError;
use crate::incoming::{Headers, Incoming};

/// A request's body as the entry point left it: routes whose handler reads the body have it
/// read in JS before the Worker's code runs (see `crate::entry`); other requests leave it unread.
pub enum Body {
    /// Not read yet: [`read`] reads it.
    Unread,
    /// Read by the entry point.
    Read(Vec<u8>),
    /// The entry point's read failed (the client went away or sent a broken body).
    Unreadable,
}

/// Largest body any endpoint reads.
pub const MAX_BODY: usize = 16 * 1024;

/// The media type of the request, lower-cased, without parameters (`application/json`).
pub fn media_type(req: &impl Headers) -> Option<String> {
    let value = req.header("content-type")?;
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    (!essence.is_empty()).then_some(essence)
}

/// The body, refused with 413 past [`MAX_BODY`] (by `Content-Length` first, then by what arrived).
/// Takes it from `body` when the entry point read it already.
pub async fn read(req: &mut Incoming, body: &mut Body) -> Result<Vec<u8>, ApiError> {
    let unreadable = || ApiError::InvalidRequest("the request body could not be read".into());
    let bytes = match std::mem::replace(body, Body::Unread) {
        // The entry point read it only after checking `Content-Length`.
        Body::Read(bytes) => bytes,
        Body::Unreadable => return Err(unreadable()),
        Body::Unread => {
            let declared = req
                .header("content-length")
                .and_then(|v| v.trim().parse::<usize>().ok());
            if declared.is_some_and(|n| n > MAX_BODY) {
                return Err(ApiError::PayloadTooLarge(MAX_BODY));
            }
            match req {
                Incoming::Full(r) => r.bytes().await.map_err(|_| unreadable())?,
                // The entry point reads a body it routes this way, or fails to.
                Incoming::PreRead(_) => return Err(unreadable()),
            }
        }
    };
    if bytes.len() > MAX_BODY {
        return Err(ApiError::PayloadTooLarge(MAX_BODY));
    }
    Ok(bytes)
}
