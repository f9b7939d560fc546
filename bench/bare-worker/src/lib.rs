//! Comparison Worker (b) for `make bench`: a workers-rs fetch handler that only answers "ok".
use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
async fn fetch(_req: Request, _env: Env, _ctx: Context) -> Result<Response> {
    Response::ok("ok")
}
