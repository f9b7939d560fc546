//! `GET /healthz`: liveness, no authentication.

use crate::reply::Reply;

/// `200 {"status":"ok"}`.
pub fn healthz() -> Reply {
    Reply::json(200, r#"{"status":"ok"}"#.into())
}
