//! The single routing function: every endpoint the fake serves is listed here.
//!
//! Fixed paths are matched as strings; paths with parameters (the I/O Management API's, and the
//! control API's per-client secret paths) are matched on their percent-decoded segments.

use serde_json::json;

use crate::console;
use crate::control;
use crate::http::{self, Reply, Request, Response};
use crate::ims;
use crate::profile;
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
        (profile::PROFILE_PATH, "GET") => return profile::handle(shared, req),
        (profile::PROFILE_PATH, _) => method_not_allowed("GET"),
        ("/__fake/stats", "GET") => control::stats(shared),
        ("/__fake/secrets", "GET") => control::secrets(shared),
        ("/__fake/reset", "POST") => control::reset(shared),
        ("/__fake/config", "GET") => control::config(shared, req, false),
        ("/__fake/config", "POST") => control::config(shared, req, true),
        ("/__fake/faults", "POST") => control::faults(shared, req),
        ("/__fake/clients", "POST") => control::clients(shared, req),
        ("/__fake/credentials", "POST") => control::credentials(shared, req),
        ("/__fake/revoke", "POST") => control::revoke(shared, req),
        ("/__fake/stats" | "/__fake/secrets", _) => method_not_allowed("GET"),
        ("/__fake/config", _) => method_not_allowed("GET, POST"),
        (
            "/__fake/reset"
            | "/__fake/faults"
            | "/__fake/clients"
            | "/__fake/credentials"
            | "/__fake/revoke",
            _,
        ) => method_not_allowed("POST"),
        _ => return route_parameterized(shared, req),
    };
    Reply::Send(resp)
}

/// Routes the paths that carry parameters.
fn route_parameterized(shared: &Shared, req: &Request) -> Reply {
    let Some(segments) = http::path_segments(&req.path) else {
        return Reply::Send(not_found());
    };
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    if let Some(api) = console::parse_path(&segs) {
        return console::route(shared, req, &api);
    }
    let resp = match (segs.as_slice(), req.method.as_str()) {
        (["__fake", "clients", id, "secrets"], "GET") => control::client_secrets(shared, id),
        (["__fake", "clients", id, "secrets"], "POST") => {
            control::add_client_secret(shared, req, id)
        }
        (["__fake", "clients", _, "secrets"], _) => method_not_allowed("GET, POST"),
        (["__fake", "clients", id, "secrets", uuid], "DELETE") => {
            control::delete_client_secret(shared, id, uuid)
        }
        (["__fake", "clients", _, "secrets", _], _) => method_not_allowed("DELETE"),
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
        assert_eq!(r("GET", "/__fake/credentials"), 405);
        assert_eq!(r("GET", "/__fake/revoke"), 405);
        assert_eq!(r("POST", "/__fake/revoke"), 200);
        assert_eq!(r("GET", "/api/v1/profile"), 403);
        assert_eq!(r("GET", "/api/v1/profile?x=1"), 403);
        assert_eq!(r("POST", "/api/v1/profile"), 405);
        assert_eq!(r("GET", "/api/v1/profile/"), 404);
        assert_eq!(r("GET", "/__fake/clients/nope/secrets"), 404);
        assert_eq!(r("PUT", "/__fake/clients/nope/secrets"), 405);
        assert_eq!(r("GET", "/__fake/clients/nope/secrets/u"), 405);
        assert_eq!(r("DELETE", "/__fake/clients/nope/secrets/u"), 404);
        assert_eq!(r("GET", "/__fake/clients/nope/secrets/u/v"), 404);
        let api = "/console/organizations/1/credentials/2/secrets";
        assert_eq!(r("GET", api), 403);
        assert_eq!(r("POST", api), 403);
        assert_eq!(r("PATCH", api), 405);
        assert_eq!(r("DELETE", &format!("{api}/u")), 403);
        assert_eq!(r("POST", &format!("{api}/u")), 405);
        assert_eq!(r("GET", &format!("{api}/")), 404);
        assert_eq!(r("GET", "/console/organizations/1/credentials/2"), 404);
        assert_eq!(r("GET", "/a%zz"), 404);
    }
}
