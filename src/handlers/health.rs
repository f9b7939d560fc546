//! `GET /healthz`: liveness, no authentication.

use crate::reply::Reply;
use serde::Serialize;

/// The answer.
#[derive(Serialize)]
struct Health {
    status: &'static str,
}

/// `200 {"status":"ok"}`.
pub fn healthz() -> Reply {
    Reply::json(200, &Health { status: "ok" })
}
