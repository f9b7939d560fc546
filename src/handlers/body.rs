//! Request bodies: the size limit and the content-type check.

use crate::api_error::ApiError;
use crate::incoming::Headers;

/// A request's body as the entry point left it: routes whose handler reads the body have it
/// read in JS, capped at [`MAX_BODY`], before the Worker's code runs (see `crate::entry`); other
/// requests leave it unread.
pub enum Body {
    /// Not read: the route takes no body.
    Unread,
    /// Read by the entry point.
    Read(Vec<u8>),
    /// Over [`MAX_BODY`]; the entry point stopped reading one byte past it.
    TooLarge,
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

/// The body the entry point read, refused with 413 past [`MAX_BODY`]. A route whose body the
/// entry point did not read gets none: nothing here reads a body without the cap.
pub fn take(body: &mut Body) -> Result<Vec<u8>, ApiError> {
    match std::mem::replace(body, Body::Unread) {
        Body::Read(bytes) if bytes.len() <= MAX_BODY => Ok(bytes),
        Body::Read(_) | Body::TooLarge => Err(ApiError::PayloadTooLarge(MAX_BODY)),
        Body::Unreadable | Body::Unread => Err(ApiError::InvalidRequest(
            "the request body could not be read".into(),
        )),
    }
}
