//! The Adobe I/O Management API's client-secret endpoints: build requests, parse answers.
//!
//! `{base}/console/organizations/{orgId}/credentials/{credentialId}/secrets`, with
//! `Authorization: Bearer <token>` and `x-api-key: <client_id>`. List (`GET`) never returns
//! values; add (`POST`) returns the new secret's plaintext once; delete (`DELETE …/{uuid}`).
//! Adobe documents 201/204 and its spec 200: any 2xx is success. Times are millisecond strings.

use crate::http::{HttpRequest, HttpResponse};
use crate::json::{self, Json};
use crate::jwt::millis;
use crate::secret::{AccessToken, ClientSecret};

/// Adobe's production I/O Management API.
pub const DEFAULT_IO_API_BASE_URL: &str = "https://api.adobe.io";

/// Scopes the token used against the I/O Management API must carry.
pub const MANAGEMENT_SCOPES: [&str; 8] = [
    "AdobeID",
    "openid",
    "read_organizations",
    "additional_info.projectedProductContext",
    "additional_info.roles",
    "adobeio_api",
    "read_client_secret",
    "manage_client_secrets",
];

/// Which Developer Console credential the calls address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRef {
    /// API base URL (`IO_API_BASE_URL`).
    pub base_url: String,
    /// Numeric Developer Console org id.
    pub org_id: String,
    /// Developer Console credential id.
    pub credential_id: String,
    /// The credential's client id, sent as `x-api-key`.
    pub client_id: String,
}

/// A client secret as listed (no value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretInfo {
    /// Adobe's id for the secret.
    pub uuid: String,
    /// Creation time, epoch ms.
    pub created_at_ms: u64,
    /// Last successful use, epoch ms, if any.
    pub last_used_at_ms: Option<u64>,
}

/// A secret just added: its only appearance in plaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSecret {
    /// Adobe's id for the secret.
    pub uuid: String,
    /// The plaintext, redacted in `Debug`.
    pub client_secret: ClientSecret,
    /// Creation time, epoch ms.
    pub created_at_ms: u64,
}

/// A failed management call. Never carries a secret or token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IoApiError {
    /// Non-2xx answer; `code`/`message` from Adobe's gateway body when present.
    #[error("I/O Management API answered {status}{}", .message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    Status {
        /// HTTP status.
        status: u16,
        /// Adobe's `error_code`.
        code: Option<String>,
        /// Adobe's `message`.
        message: Option<String>,
        /// `Retry-After` seconds, if sent.
        retry_after_s: Option<u64>,
        /// Adobe's `x-debug-id`.
        debug_id: Option<String>,
    },
    /// A 2xx answer that is not the documented shape.
    #[error("I/O Management API sent an unusable answer: {0}")]
    BadResponse(&'static str),
    /// No answer (network error or timeout).
    #[error("I/O Management API could not be reached: {0}")]
    Transport(String),
}

impl IoApiError {
    /// The HTTP status Adobe answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Adobe's `x-debug-id`, if any.
    pub fn debug_id(&self) -> Option<&str> {
        match self {
            Self::Status { debug_id, .. } => debug_id.as_deref(),
            _ => None,
        }
    }
}

fn url(c: &CredentialRef, tail: &str) -> String {
    format!(
        "{}/console/organizations/{}/credentials/{}/secrets{tail}",
        c.base_url.trim_end_matches('/'),
        c.org_id,
        c.credential_id
    )
}

fn request(
    method: &'static str,
    url: String,
    c: &CredentialRef,
    token: &AccessToken,
) -> HttpRequest {
    HttpRequest {
        method,
        url,
        headers: vec![
            ("authorization".into(), format!("Bearer {}", token.secret())),
            ("x-api-key".into(), c.client_id.clone()),
            ("accept".into(), "application/json".into()),
        ],
        body: Vec::new(),
    }
}

/// `GET …/secrets`.
pub fn list_request(c: &CredentialRef, token: &AccessToken) -> HttpRequest {
    request("GET", url(c, ""), c, token)
}

/// `POST …/secrets` (no body).
pub fn add_request(c: &CredentialRef, token: &AccessToken) -> HttpRequest {
    request("POST", url(c, ""), c, token)
}

/// `DELETE …/secrets/{uuid}`.
pub fn delete_request(c: &CredentialRef, token: &AccessToken, uuid: &str) -> HttpRequest {
    let uuid: String = uuid
        .chars()
        .filter(|ch| ch.is_ascii_alphanumeric() || *ch == '-')
        .collect();
    request("DELETE", url(c, &format!("/{uuid}")), c, token)
}

fn check(response: &HttpResponse) -> Result<(), IoApiError> {
    if (200..300).contains(&response.status) {
        return Ok(());
    }
    // `{ error_code?, message? }`, read as a record: on any mismatch, neither.
    let (mut code, mut message) = (None, None);
    let mut r = json::Reader::new(&response.body);
    let body = r
        .object(&mut |r, key| match key.as_str() {
            "error_code" => json::set(&mut code, r.value()?),
            "message" => json::set(&mut message, r.opt_string()?),
            _ => r.skip(),
        })
        .and_then(|()| r.end())
        .is_ok();
    let (code, message) = if body {
        (code.filter(|c| *c != Json::Null), message.flatten())
    } else {
        (None, None)
    };
    Err(IoApiError::Status {
        status: response.status,
        code: code.map(|c| match c {
            Json::Str(s) => s,
            other => {
                let mut text = String::new();
                other.write(&mut text);
                text
            }
        }),
        message: message.map(|m| m.chars().take(200).collect()),
        retry_after_s: response
            .header("retry-after")
            .and_then(|v| v.trim().parse().ok()),
        debug_id: response.header("x-debug-id").map(str::to_owned),
    })
}

fn info(v: &Json) -> Option<SecretInfo> {
    let uuid = v.get("uuid")?.as_str()?.to_owned();
    let last_used_at_ms = v
        .get("secret_usages")
        .and_then(Json::as_array)
        .and_then(|uses| {
            uses.iter()
                .filter_map(|u| millis(u.get("last_used_at")))
                .max()
        });
    Some(SecretInfo {
        uuid,
        created_at_ms: millis(v.get("created_at")).unwrap_or(0),
        last_used_at_ms,
    })
}

/// Parses the list answer.
pub fn parse_list(response: &HttpResponse) -> Result<Vec<SecretInfo>, IoApiError> {
    check(response)?;
    let body = Json::parse(&response.body).map_err(|_| IoApiError::BadResponse("not JSON"))?;
    body.get("client_secrets")
        .and_then(Json::as_array)
        .ok_or(IoApiError::BadResponse("no client_secrets list"))?
        .iter()
        .map(|v| info(v).ok_or(IoApiError::BadResponse("a secret without uuid")))
        .collect()
}

/// Parses the add answer, wrapping the plaintext at once.
pub fn parse_add(response: &HttpResponse) -> Result<NewSecret, IoApiError> {
    check(response)?;
    let body = Json::parse(&response.body).map_err(|_| IoApiError::BadResponse("not JSON"))?;
    let uuid = body
        .get("uuid")
        .and_then(Json::as_str)
        .ok_or(IoApiError::BadResponse("no uuid"))?;
    let secret = body
        .get("client_secret")
        .and_then(Json::as_str)
        .filter(|s| !s.is_empty())
        .ok_or(IoApiError::BadResponse("no client_secret"))?;
    Ok(NewSecret {
        uuid: uuid.to_owned(),
        client_secret: ClientSecret::new(secret),
        created_at_ms: millis(body.get("created_at")).unwrap_or(0),
    })
}

/// Parses the delete answer. A 404 means the secret is already gone, which is what a retried
/// delete wants: it counts as success.
pub fn parse_delete(response: &HttpResponse) -> Result<(), IoApiError> {
    if response.status == 404 {
        return Ok(());
    }
    check(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cref() -> CredentialRef {
        CredentialRef {
            base_url: "https://api.adobe.io/".into(),
            org_id: "123".into(),
            credential_id: "456".into(),
            client_id: "cid".into(),
        }
    }

    fn resp(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: vec![("x-debug-id".into(), "d1".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn requests_carry_token_and_api_key() {
        let t = AccessToken::new("tok");
        let r = list_request(&cref(), &t);
        assert_eq!(
            r.url,
            "https://api.adobe.io/console/organizations/123/credentials/456/secrets"
        );
        assert!(r
            .headers
            .contains(&("authorization".into(), "Bearer tok".into())));
        assert!(r.headers.contains(&("x-api-key".into(), "cid".into())));
        assert_eq!(add_request(&cref(), &t).method, "POST");
        let d = delete_request(&cref(), &t, "11ede8ab/../x");
        assert_eq!(
            (d.method, d.url.ends_with("/secrets/11ede8abx")),
            ("DELETE", true)
        );
    }

    #[test]
    fn parses_the_documented_list() {
        let body = r#"{"client_id":"e053","client_secrets":[
            {"uuid":"a","created_at":"1682448485000","expires_at":"PERMANENT","secret_usages":null},
            {"uuid":"b","created_at":"1683000000000","expires_at":"PERMANENT",
             "secret_usages":[{"last_used_at":"1683162010101","grant_type":"client_credentials"}]}]}"#;
        let list = parse_list(&resp(200, body)).unwrap();
        assert_eq!(
            list[0],
            SecretInfo {
                uuid: "a".into(),
                created_at_ms: 1_682_448_485_000,
                last_used_at_ms: None
            }
        );
        assert_eq!(list[1].last_used_at_ms, Some(1_683_162_010_101));
    }

    #[test]
    fn add_returns_the_plaintext_once_redacted() {
        let n = parse_add(&resp(
            201,
            r#"{"uuid":"u","client_secret":"p8e-x","created_at":"5"}"#,
        ))
        .unwrap();
        assert_eq!(
            (n.uuid.as_str(), n.client_secret.secret(), n.created_at_ms),
            ("u", "p8e-x", 5)
        );
        assert!(!format!("{n:?}").contains("p8e-x"));
        assert!(parse_add(&resp(200, r#"{"uuid":"u"}"#)).is_err());
    }

    #[test]
    fn gateway_errors_keep_code_message_and_debug_id() {
        let e = parse_list(&resp(
            401,
            r#"{"error_code":"401013","message":"Oauth token is not valid"}"#,
        ))
        .unwrap_err();
        assert_eq!(e.status(), Some(401));
        assert_eq!(e.debug_id(), Some("d1"));
        assert_eq!(
            e.to_string(),
            "I/O Management API answered 401: Oauth token is not valid"
        );
        let code = |body: &str| match parse_list(&resp(403, body)).unwrap_err() {
            IoApiError::Status { code, message, .. } => (code, message),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            code(r#"{"error_code":403003}"#).0.as_deref(),
            Some("403003")
        );
        assert_eq!(
            code(r#"{"error_code":{"b":[true,null],"a":"x","b":-2},"message":null}"#),
            (Some(r#"{"a":"x","b":-2}"#.into()), None)
        );
        assert_eq!(
            code(r#"{"error_code":null,"message":"m"}"#),
            (None, Some("m".into()))
        );
        assert_eq!(code(r#"{"message":"m","message":"n"}"#), (None, None));
        assert_eq!(code("<html>"), (None, None));
        assert!(parse_delete(&resp(404, "")).is_ok());
        assert!(parse_delete(&resp(204, "")).is_ok());
        assert!(parse_delete(&resp(500, "")).is_err());
    }
}
