//! `GET /healthz`: liveness, no authentication.

use crate::api_error::json_response;
use worker::Response;

/// `200 {"status":"ok"}`.
pub fn healthz() -> Response {
    json_response(200, r#"{"status":"ok"}"#.into(), &[])
}
