//! Static files: the operator console of `www/` and the OpenAPI document (`/openapi.json`),
//! embedded in the Worker at build time (no asset binding to configure, nothing served from a
//! CDN), with a strict Content-Security-Policy (no inline script or style, same-origin only).

use worker::Response;

const INDEX_HTML: &str = include_str!("../../www/index.html");
const APP_JS: &str = include_str!("../../www/app.js");
const APP_CSS: &str = include_str!("../../www/app.css");
const OPENAPI: &str = include_str!("../openapi/openapi.json");

/// The console's Content-Security-Policy.
pub const CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// True when the console serves `path`.
pub fn has(path: &str) -> bool {
    matches!(
        path,
        "/" | "/index.html" | "/app.js" | "/app.css" | "/openapi.json"
    )
}

/// The file at `path`, if the console has one.
pub fn asset(path: &str) -> Option<Response> {
    let (body, content_type) = match path {
        "/" | "/index.html" => (INDEX_HTML, "text/html; charset=utf-8"),
        "/app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "/app.css" => (APP_CSS, "text/css; charset=utf-8"),
        "/openapi.json" => (OPENAPI, "application/json"),
        _ => return None,
    };
    let mut builder = Response::builder().with_status(200);
    for (name, value) in [
        ("content-type", content_type),
        ("content-security-policy", CSP),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
        ("cache-control", "no-cache"),
    ] {
        builder = builder.with_header(name, value).ok()?;
    }
    Some(builder.fixed(body.as_bytes().to_vec()))
}
