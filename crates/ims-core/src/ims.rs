//! The IMS token endpoint's wire format: the `client_credentials` grant
//! ([RFC 6749 §4.4](https://www.rfc-editor.org/rfc/rfc6749#section-4.4)) as Adobe speaks it.
//!
//! [`token_request`] builds the form POST (parameters in the body, scopes comma-joined);
//! [`parse_token_response`] turns IMS's answer into an [`IssuedToken`] or an [`ImsError`].
//! Neither does I/O.

use crate::error::ImsError;
use crate::http::{HttpRequest, HttpResponse};
use crate::jwt;
use crate::record_json::from_object as read_object;
use crate::scope::ScopeSet;
use crate::secret::{AccessToken, ClientSecret};
use serde::Deserialize;

/// Adobe's production token endpoint.
pub const DEFAULT_TOKEN_URL: &str = "https://ims-na1.adobelogin.com/ims/token/v3";

/// Longest error description echoed from IMS, in characters.
const MAX_DESCRIPTION: usize = 200;

/// Builds the token request ([RFC 6749 §4.4.2](https://www.rfc-editor.org/rfc/rfc6749#section-4.4.2)):
/// `grant_type`, `client_id`, `client_secret` and Adobe's comma-separated `scope`, form-encoded in
/// the body (never the query string, which gets logged).
pub fn token_request(
    token_url: &str,
    client_id: &str,
    client_secret: &ClientSecret,
    scopes: &ScopeSet,
) -> HttpRequest {
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "client_credentials")
        .append_pair("client_id", client_id)
        .append_pair("client_secret", client_secret.secret())
        .append_pair("scope", &scopes.to_comma())
        .finish();
    HttpRequest {
        method: "POST",
        url: token_url.to_owned(),
        headers: vec![
            (
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            ),
            ("accept".into(), "application/json".into()),
        ],
        body: body.into_bytes(),
    }
}

/// How a token endpoint wants its `client_credentials` request: Adobe's dialect, or plain
/// [RFC 6749 §4.4](https://www.rfc-editor.org/rfc/rfc6749#section-4.4) for any other OAuth2
/// server. The caching rules are the same for both; only the request differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenEndpoint {
    /// Adobe IMS: comma-separated scopes, client id and secret in the form ([`token_request`]).
    #[default]
    Adobe,
    /// A standard OAuth2 server: space-separated scopes, client authentication as given.
    Rfc6749 {
        /// How the client authenticates.
        auth: ClientAuth,
    },
}

/// Client authentication at an RFC 6749 token endpoint
/// ([§2.3.1](https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// `client_secret_basic`: `Authorization: Basic base64(urlenc(id) ":" urlenc(secret))`.
    #[default]
    Basic,
    /// `client_secret_post`: `client_id` and `client_secret` in the form body.
    Post,
}

/// Builds the token request for `endpoint`: [`token_request`] for Adobe; for RFC 6749 the form
/// `grant_type=client_credentials[&scope=a b]` (the scope omitted when empty) with the client
/// authenticated by Basic or in the body. Parameters always go in the body.
pub fn endpoint_request(
    endpoint: TokenEndpoint,
    token_url: &str,
    client_id: &str,
    client_secret: &ClientSecret,
    scopes: &ScopeSet,
) -> HttpRequest {
    let TokenEndpoint::Rfc6749 { auth } = endpoint else {
        return token_request(token_url, client_id, client_secret, scopes);
    };
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "client_credentials");
    let mut headers = vec![
        (
            "content-type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        ),
        ("accept".to_owned(), "application/json".to_owned()),
    ];
    match auth {
        ClientAuth::Basic => {
            use base64::Engine;
            let encode =
                |v: &str| form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
            let pair = format!("{}:{}", encode(client_id), encode(client_secret.secret()));
            let b64 = base64::engine::general_purpose::STANDARD.encode(pair);
            headers.push(("authorization".to_owned(), format!("Basic {b64}")));
        }
        ClientAuth::Post => {
            form.append_pair("client_id", client_id);
            form.append_pair("client_secret", client_secret.secret());
        }
    }
    if !scopes.is_empty() {
        form.append_pair("scope", &scopes.to_space());
    }
    HttpRequest {
        method: "POST",
        url: token_url.to_owned(),
        headers,
        body: form.finish().into_bytes(),
    }
}

/// A token IMS issued, with its absolute expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The access token.
    pub access_token: AccessToken,
    /// When it expires, epoch milliseconds: `sent_at + expires_in`, or the JWT claims'
    /// `created_at + expires_in` when the answer's `expires_in` is unusable.
    pub expires_at_ms: u64,
}

/// The fields of a success answer the broker reads: other fields are skipped, a field given
/// twice is an error, `null` is absent.
#[derive(Deserialize)]
struct SuccessBody {
    access_token: Option<String>,
    token_type: Option<String>,
    /// Any value: only a positive integer is used.
    expires_in: Option<serde_json::Value>,
}

impl SuccessBody {
    /// `expires_in`, when it is a positive integer.
    fn expires_in(&self) -> Option<u64> {
        self.expires_in
            .as_ref()
            .and_then(serde_json::Value::as_u64)
            .filter(|s| *s > 0)
    }
}

/// An RFC 6749 §5.2 error answer.
#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// Parses `Retry-After`: delay-seconds, or an HTTP-date relative to `now_ms`.
pub fn parse_retry_after(value: &str, now_ms: u64) -> Option<u64> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(secs);
    }
    let at = crate::time::parse_http_date(value)?;
    Some(at.saturating_sub(now_ms).div_ceil(1000))
}

/// Parses IMS's answer to a token request sent at `sent_at_ms`
/// ([RFC 6749 §5.1](https://www.rfc-editor.org/rfc/rfc6749#section-5.1) success,
/// [§5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2) error).
///
/// The expiry clock starts when the request was SENT, so the broker errs on the early side.
pub fn parse_token_response(
    response: &HttpResponse,
    sent_at_ms: u64,
) -> Result<IssuedToken, ImsError> {
    let status = response.status;
    let debug_id = response.header("x-debug-id").map(str::to_owned);
    let bad = |reason: &'static str| ImsError::BadResponse {
        status,
        reason,
        debug_id: debug_id.clone(),
    };
    if status == 429 || status >= 500 {
        return Err(ImsError::Unavailable {
            status,
            retry_after_s: response
                .header("retry-after")
                .and_then(|v| parse_retry_after(v, sent_at_ms)),
            debug_id,
        });
    }
    if (400..500).contains(&status) {
        let Some(err) = read_object::<ErrorBody>(&response.body) else {
            return Err(bad("error status without an OAuth error body"));
        };
        let description: String = err
            .error_description
            .unwrap_or_default()
            .chars()
            .take(MAX_DESCRIPTION)
            .collect();
        return Err(match err.error.as_str() {
            "invalid_client" => ImsError::InvalidClient {
                description,
                debug_id,
            },
            "invalid_scope" => ImsError::InvalidScope {
                description,
                debug_id,
            },
            other => ImsError::Rejected {
                status,
                error: other.chars().take(64).collect(),
                debug_id,
            },
        });
    }
    if !(200..300).contains(&status) {
        return Err(bad("unexpected status"));
    }
    let body = read_object::<SuccessBody>(&response.body)
        .ok_or_else(|| bad("body is not a JSON token response"))?;
    let expires_in = body.expires_in();
    let token = body
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| bad("no access_token"))?;
    if !body
        .token_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("bearer"))
    {
        return Err(bad("token_type is not bearer"));
    }
    let expires_at_ms = match expires_in {
        Some(secs) => sent_at_ms.saturating_add(secs.saturating_mul(1000)),
        None => jwt::decode_claims(&token)
            .map_err(|_| bad("no usable expires_in and no expiry claims"))?
            .expires_at_ms(),
    };
    if expires_at_ms <= sent_at_ms {
        return Err(bad("token already expired"));
    }
    Ok(IssuedToken {
        access_token: AccessToken::new(token),
        expires_at_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::fake_jwt;

    /// Which bodies are answers: one JSON object each, each field once, other fields skipped.
    #[test]
    fn bodies_are_json_objects_read_field_by_field() {
        let success = |body: &str| {
            read_object::<SuccessBody>(body.as_bytes())
                .map(|b| (b.access_token.clone(), b.token_type.clone(), b.expires_in()))
        };
        let t = || Some("t".to_owned());
        let bearer = || Some("bearer".to_owned());
        assert_eq!(
            success(r#"{"access_token":"t","token_type":"bearer","expires_in":86399}"#),
            Some((t(), bearer(), Some(86_399)))
        );
        for unusable in ["\"86399\"", "86399.5", "-1", "0", "null"] {
            let body = format!(
                r#"{{"access_token":"t","token_type":"bearer","expires_in":{unusable},"x":{{"y":[1]}}}}"#
            );
            assert_eq!(success(&body), Some((t(), bearer(), None)), "{body}");
        }
        assert_eq!(
            success(r#"{"access_token":null,"token_type":null}"#),
            Some((None, None, None))
        );
        for refused in [
            r#"{"access_token":"t","token_type":"bearer","expires_in":1e999}"#,
            r#"{"access_token":"t","access_token":"u"}"#,
            r#"{"access_token":1}"#,
            r#"["t","bearer",5]"#,
            r#"{"error":"x"} {}"#,
            "",
        ] {
            assert_eq!(success(refused), None, "{refused}");
        }
        let error = |body: &str| {
            read_object::<ErrorBody>(body.as_bytes()).map(|e| (e.error, e.error_description))
        };
        assert_eq!(
            error(r#"{"error":"invalid_client","error_description":"bad \ud83d\ude00"}"#),
            Some(("invalid_client".into(), Some("bad 😀".into())))
        );
        assert_eq!(
            error(r#"{"error":"invalid_client","error_description":null,"more":true}"#),
            Some(("invalid_client".into(), None))
        );
        for refused in [
            r#"{"error":"invalid_client","error":"x"}"#,
            r#"{"error":null}"#,
            r#"{"error_description":"x"}"#,
            r#"{"error":"\ud83d"}"#,
            r#"["invalid_client"]"#,
            "[]",
        ] {
            assert_eq!(error(refused), None, "{refused}");
        }
    }

    fn resp(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: vec![("X-Debug-Id".into(), "dbg-1".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn request_is_a_form_with_comma_scopes_in_the_body() {
        let scopes = ScopeSet::from_names(["openid", "AdobeID"]).unwrap();
        let req = token_request(
            DEFAULT_TOKEN_URL,
            "cid",
            &ClientSecret::new("s&=+ x"),
            &scopes,
        );
        assert_eq!(req.method, "POST");
        assert_eq!(req.url, DEFAULT_TOKEN_URL);
        let body = String::from_utf8(req.body.clone()).unwrap();
        assert_eq!(
            body,
            "grant_type=client_credentials&client_id=cid&client_secret=s%26%3D%2B+x&scope=AdobeID%2Copenid"
        );
        let form: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        assert!(form.contains(&("scope".into(), "AdobeID,openid".into())));
        assert!(form.contains(&("client_secret".into(), "s&=+ x".into())));
        assert!(!format!("{req:?}").contains("s&=+ x"));
    }

    fn form_of(req: &HttpRequest) -> Vec<(String, String)> {
        form_urlencoded::parse(&req.body).into_owned().collect()
    }

    #[test]
    fn adobe_endpoint_request_is_the_adobe_form() {
        let scopes = ScopeSet::from_names(["openid", "AdobeID"]).unwrap();
        let secret = ClientSecret::new("s");
        assert_eq!(
            endpoint_request(TokenEndpoint::Adobe, "u", "cid", &secret, &scopes),
            token_request("u", "cid", &secret, &scopes)
        );
        assert_eq!(TokenEndpoint::default(), TokenEndpoint::Adobe);
    }

    #[test]
    fn rfc6749_basic_puts_encoded_credentials_in_the_header_and_spaces_in_scope() {
        let scopes = ScopeSet::from_names(["write", "read"]).unwrap();
        let secret = ClientSecret::new("p:w d+");
        let endpoint = TokenEndpoint::Rfc6749 {
            auth: ClientAuth::Basic,
        };
        let req = endpoint_request(endpoint, "https://as/token", "my id", &secret, &scopes);
        assert_eq!((req.method, req.url.as_str()), ("POST", "https://as/token"));
        assert_eq!(
            form_of(&req),
            vec![
                ("grant_type".to_owned(), "client_credentials".to_owned()),
                ("scope".to_owned(), "read write".to_owned()),
            ]
        );
        let auth = req
            .headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .map(|(_, v)| v.clone())
            .unwrap();
        // base64("my+id:p%3Aw+d%2B"), RFC 6749 §2.3.1: each part form-urlencoded first.
        assert_eq!(auth, "Basic bXkraWQ6cCUzQXcrZCUyQg==");
        assert!(!format!("{req:?}").contains("p:w d+"));
    }

    #[test]
    fn rfc6749_post_puts_credentials_in_the_body_and_omits_empty_scope() {
        let endpoint = TokenEndpoint::Rfc6749 {
            auth: ClientAuth::Post,
        };
        let req = endpoint_request(
            endpoint,
            "u",
            "cid",
            &ClientSecret::new("s&x"),
            &ScopeSet::default(),
        );
        assert_eq!(
            form_of(&req),
            vec![
                ("grant_type".to_owned(), "client_credentials".to_owned()),
                ("client_id".to_owned(), "cid".to_owned()),
                ("client_secret".to_owned(), "s&x".to_owned()),
            ]
        );
        assert!(req.headers.iter().all(|(k, _)| k != "authorization"));
    }

    #[test]
    fn success_expiry_counts_from_sent_at() {
        let r = resp(
            200,
            r#"{"access_token":"abc","token_type":"bearer","expires_in":86399}"#,
        );
        let t = parse_token_response(&r, 1_000).unwrap();
        assert_eq!(t.access_token.secret(), "abc");
        assert_eq!(t.expires_at_ms, 1_000 + 86_399_000);
    }

    #[test]
    fn falls_back_to_claims_when_expires_in_is_unusable() {
        let jwt = fake_jwt(r#"{"created_at":"5000","expires_in":"60000"}"#);
        for exp in [
            "",
            r#","expires_in":0"#,
            r#","expires_in":-5"#,
            r#","expires_in":"abc""#,
            r#","expires_in":null"#,
        ] {
            let body = format!(r#"{{"access_token":"{jwt}","token_type":"bearer"{exp}}}"#);
            let t = parse_token_response(&resp(200, &body), 1_000).unwrap();
            assert_eq!(t.expires_at_ms, 65_000, "{exp}");
        }
    }

    #[test]
    fn no_usable_expiry_is_bad_response_not_forever() {
        let body = r#"{"access_token":"opaque","token_type":"bearer"}"#;
        let e = parse_token_response(&resp(200, body), 1_000).unwrap_err();
        assert_eq!(e.code(), "upstream_bad_response");
        assert_eq!(e.debug_id(), Some("dbg-1"));
    }

    #[test]
    fn garbage_and_wrong_shapes_are_bad_responses() {
        for body in [
            "<html>oops",
            r#"{"token_type":"bearer","expires_in":5}"#,
            r#"{"access_token":"","token_type":"bearer","expires_in":5}"#,
            r#"{"access_token":"a","token_type":"mac","expires_in":5}"#,
        ] {
            let e = parse_token_response(&resp(200, body), 0).unwrap_err();
            assert!(matches!(e, ImsError::BadResponse { .. }), "{body}: {e:?}");
            assert!(e.is_retryable());
        }
    }

    #[test]
    fn oauth_errors_are_final() {
        let e = parse_token_response(
            &resp(400, r#"{"error":"invalid_client","error_description":"invalid client_secret parameter"}"#),
            0,
        )
        .unwrap_err();
        assert_eq!(e.code(), "upstream_invalid_client");
        assert_eq!(e.http_status(), 502);
        assert_eq!(e.public_description(), "invalid client_secret parameter");
        assert!(!e.is_retryable());
        let e = parse_token_response(
            &resp(
                400,
                r#"{"error":"invalid_scope","error_description":"bad"}"#,
            ),
            0,
        )
        .unwrap_err();
        assert_eq!((e.code(), e.http_status()), ("invalid_scope", 400));
        let e =
            parse_token_response(&resp(401, r#"{"error":"unauthorized_client"}"#), 0).unwrap_err();
        assert_eq!(e.code(), "upstream_rejected");
        assert!(!e.is_retryable());
    }

    #[test]
    fn throttling_and_server_errors_are_retryable_with_retry_after() {
        let mut r = resp(429, r#"{"error":"too_many_requests"}"#);
        r.headers.push(("Retry-After".into(), "7".into()));
        let e = parse_token_response(&r, 0).unwrap_err();
        assert_eq!(e.retry_after_s(), Some(7));
        assert_eq!(e.http_status(), 503);
        assert!(e.is_retryable());
        let e = parse_token_response(&resp(500, "oops"), 0).unwrap_err();
        assert_eq!(
            (e.code(), e.retry_after_s()),
            ("upstream_unavailable", None)
        );
    }

    #[test]
    fn retry_after_accepts_seconds_and_dates() {
        assert_eq!(parse_retry_after(" 3 ", 0), Some(3));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_770_500),
            Some(7)
        );
        assert_eq!(parse_retry_after("soon", 0), None);
    }
}
