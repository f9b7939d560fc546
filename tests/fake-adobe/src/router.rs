//! The single routing function: every endpoint the fake serves is listed here.

use serde_json::json;

use crate::control;
use crate::http::{Reply, Request, Response};
use crate::ims;
use crate::state::Shared;

/// The 404 every unknown path gets (Adobe gateway style).
pub fn not_found() -> Response {
    Response::json_value(404, &json!({"error_code": "404", "message": "not found"}))
}

/// A 405 for a known path, listing the allowed methods.
pub fn method_not_allowed(allow: &str) -> Response {
    Response::json_value(
        405,
        &json!({"error_code": "405", "message": "method not allowed"}),
    )
    .with_header("Allow", allow)
}

/// Dispatches one request. The server adds `x-debug-id` to whatever comes back.
pub fn route(shared: &Shared, req: &Request) -> Reply {
    let method = req.method.as_str();
    let resp = match (req.path.as_str(), method) {
        (ims::TOKEN_PATH, "POST") => return ims::token(shared, req),
        (ims::TOKEN_PATH, _) => method_not_allowed("POST"),
        ("/__fake/stats", "GET") => control::stats(shared),
        ("/__fake/secrets", "GET") => control::secrets(shared),
        ("/__fake/reset", "POST") => control::reset(shared),
        ("/__fake/config", "GET") => control::config(shared, req, false),
        ("/__fake/config", "POST") => control::config(shared, req, true),
        ("/__fake/faults", "POST") => control::faults(shared, req),
        ("/__fake/clients", "POST") => control::clients(shared, req),
        ("/__fake/stats" | "/__fake/secrets", _) => method_not_allowed("GET"),
        ("/__fake/config", _) => method_not_allowed("GET, POST"),
        ("/__fake/reset" | "/__fake/faults" | "/__fake/clients", _) => method_not_allowed("POST"),
        _ => not_found(),
    };
    Reply::Send(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{shared, State};

    fn status(reply: Reply) -> u16 {
        match reply {
            Reply::Send(r) => r.status,
            Reply::Drop => 0,
        }
    }

    #[test]
    fn routes() {
        let sh = shared(State::new());
        let r = |m: &str, p: &str| status(route(&sh, &Request::new(m, p, &[], b"")));
        assert_eq!(r("GET", "/nope"), 404);
        assert_eq!(r("GET", "/ims/token/v3"), 405);
        assert_eq!(r("GET", "/__fake/stats"), 200);
        assert_eq!(r("POST", "/__fake/stats"), 405);
        assert_eq!(r("GET", "/__fake/secrets"), 200);
        assert_eq!(r("POST", "/__fake/reset"), 200);
        assert_eq!(r("GET", "/__fake/config"), 200);
        assert_eq!(r("POST", "/__fake/faults"), 400);
        assert_eq!(r("POST", "/ims/token/v3"), 400);
    }
}
