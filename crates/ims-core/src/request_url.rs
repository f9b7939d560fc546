//! What the Worker reads from a request's URL: its path, whether it is same-origin with a
//! browser's `Origin` header, and a query parameter.
//!
//! The runtime hands the URL over already serialized by the WHATWG URL Standard (lower-case
//! scheme and host, the default port left out, `?` and `#` inside the path percent-encoded), so
//! slicing the string is exact and the Worker links no URL parser (the `url` crate and its
//! tables are about 15 KB of the gzipped Worker).

/// The path of `url`, without query or fragment (`/` when the URL has none).
///
/// ```
/// use ims_core::request_url::path;
/// assert_eq!(path("https://b.example/v1/token?x=1"), "/v1/token");
/// assert_eq!(path("https://b.example"), "/");
/// ```
pub fn path(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let Some(start) = after_scheme.find(['/', '?', '#']) else {
        return "/";
    };
    let path = &after_scheme[start..];
    if !path.starts_with('/') {
        return "/";
    }
    path.find(['?', '#']).map_or(path, |end| &path[..end])
}

/// True when `origin` (an `Origin` header value, e.g. `https://broker.example.com`) is the
/// origin of `url`: its scheme, host and port, without user info, path, query or fragment.
///
/// ```
/// use ims_core::request_url::same_origin;
/// assert!(same_origin("https://b.example/v1/token?x=1", "https://b.example"));
/// assert!(!same_origin("https://b.example/v1/token", "https://evil.example"));
/// ```
pub fn same_origin(url: &str, origin: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.find(['/', '?', '#']).map_or(rest, |end| &rest[..end]);
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    !host_port.is_empty()
        && origin.len() == scheme.len() + 3 + host_port.len()
        && origin.starts_with(scheme)
        && origin[scheme.len()..].starts_with("://")
        && origin.ends_with(host_port)
}

/// The value of the first query parameter called `name`, form-decoded (`+` is a space, `%XX`
/// a byte), or `None` when there is none.
///
/// ```
/// use ims_core::request_url::query_param;
/// let url = "https://b.example/v1/metrics?x=1&format=prometheus#top";
/// assert_eq!(query_param(url, "format").as_deref(), Some("prometheus"));
/// assert_eq!(query_param(url, "top"), None);
/// ```
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let (_, after) = url.split_once('?')?;
    let query = after.split_once('#').map_or(after, |(q, _)| q);
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_is_what_follows_the_authority_up_to_query_or_fragment() {
        assert_eq!(path("http://127.0.0.1:8787/v1/token"), "/v1/token");
        assert_eq!(path("https://b.example/v1/token?x=/y"), "/v1/token");
        assert_eq!(path("https://b.example/oauth/token#f"), "/oauth/token");
        assert_eq!(path("https://b.example/"), "/");
        assert_eq!(path("https://b.example?q=/x"), "/");
        assert_eq!(path("https://u:p@b.example:8443/a/b/"), "/a/b/");
    }

    #[test]
    fn origin_is_scheme_host_and_port() {
        assert!(same_origin(
            "http://127.0.0.1:8787/v1/token",
            "http://127.0.0.1:8787"
        ));
        assert!(same_origin("https://b.example/", "https://b.example"));
        assert!(same_origin("https://b.example?q", "https://b.example"));
        assert!(same_origin("https://b.example#f", "https://b.example"));
        assert!(same_origin("https://b.example", "https://b.example"));
    }

    #[test]
    fn another_scheme_host_or_port_is_another_origin() {
        let url = "https://b.example:8443/v1/token";
        assert!(same_origin(url, "https://b.example:8443"));
        assert!(!same_origin(url, "http://b.example:8443"));
        assert!(!same_origin(url, "https://b.example"));
        assert!(!same_origin(url, "https://b.example:844"));
        assert!(!same_origin(url, "https://c.example:8443"));
        assert!(!same_origin(url, "https://b.example:8443/"));
        assert!(!same_origin(url, "https//b.example:8443"));
        assert!(!same_origin(url, "null"));
        assert!(!same_origin(url, ""));
    }

    #[test]
    fn user_info_is_not_part_of_the_origin() {
        let url = "https://user:pw@b.example/v1/token";
        assert!(same_origin(url, "https://b.example"));
        assert!(!same_origin(url, "https://user:pw@b.example"));
    }

    #[test]
    fn a_url_without_scheme_or_host_matches_nothing() {
        assert!(!same_origin("/v1/token", "/v1/token"));
        assert!(!same_origin("https:///v1/token", "https://"));
    }

    #[test]
    fn query_parameters_are_form_decoded() {
        let url = "https://b.example/m?a=1&format=json+x%2Fy&format=second";
        assert_eq!(query_param(url, "format").as_deref(), Some("json x/y"));
        assert_eq!(query_param(url, "a").as_deref(), Some("1"));
        assert_eq!(query_param(url, "b"), None);
        assert_eq!(
            query_param("https://b.example/m?format", "format").as_deref(),
            Some("")
        );
    }

    #[test]
    fn no_query_or_only_a_fragment_has_no_parameters() {
        assert_eq!(query_param("https://b.example/m", "format"), None);
        assert_eq!(query_param("https://b.example/m#format=x", "format"), None);
        assert_eq!(query_param("https://b.example/m?#format=x", "format"), None);
    }
}
