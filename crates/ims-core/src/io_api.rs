//! The Adobe I/O Management API's client-secret endpoints: build requests, parse answers.
//!
//! `{base}/console/organizations/{orgId}/credentials/{credentialId}/secrets`, with
//! `Authorization: Bearer <token>` and `x-api-key: <client_id>`. List (`GET`) never returns
//! values; add (`POST`) returns the new secret's plaintext once; delete (`DELETE …/{uuid}`).
//! Adobe documents 201/204 and its spec 200: any 2xx is success. Times are millisecond strings.

use crate::http::{HttpRequest, HttpResponse};
use crate::jwt::Millis;
use crate::record_json::from_object;
use crate::secret::{AccessToken, ClientSecret};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
    BadResponse(Cow<'static, str>),
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

/// A value of the documented type, or anything else (read, and ignored): Adobe's answers are
/// read leniently, field by field.
#[derive(Deserialize)]
#[serde(untagged)]
enum Lenient<T> {
    /// The documented type.
    Is(T),
    /// Something else.
    Other(IgnoredAny),
}

impl<T> Lenient<T> {
    fn ok(self) -> Option<T> {
        match self {
            Self::Is(v) => Some(v),
            Self::Other(_) => None,
        }
    }
}

/// The gateway's error body, `{ error_code?, message? }`: each field once; on any mismatch,
/// neither is used.
#[derive(Deserialize)]
struct GatewayError {
    #[serde(default)]
    error_code: Option<Value>,
    #[serde(default)]
    message: Option<String>,
}

fn check(response: &HttpResponse) -> Result<(), IoApiError> {
    if (200..300).contains(&response.status) {
        return Ok(());
    }
    let body: Option<GatewayError> = from_object(&response.body);
    let (code, message) = body.map_or((None, None), |b| (b.error_code, b.message));
    Err(IoApiError::Status {
        status: response.status,
        // A string as it is; another value as its JSON text.
        code: code.map(|c| match c {
            Value::String(s) => s,
            other => other.to_string(),
        }),
        message: message.map(|m| m.chars().take(200).collect()),
        retry_after_s: response
            .header("retry-after")
            .and_then(|v| v.trim().parse().ok()),
        debug_id: response.header("x-debug-id").map(str::to_owned),
    })
}

/// A listed secret: its `uuid` (required), `created_at` and the `last_used_at` of its usages.
#[derive(Deserialize)]
struct Listed {
    uuid: Option<Lenient<String>>,
    created_at: Option<Millis>,
    secret_usages: Option<Lenient<Vec<Lenient<Usage>>>>,
}

/// One usage of a listed secret.
#[derive(Deserialize)]
struct Usage {
    last_used_at: Option<Millis>,
}

/// The members of an answer that is a JSON object (a map first: of a member given twice the
/// last counts), as `T`; `None` when the answer is another value.
fn object<T: for<'de> Deserialize<'de>>(body: Value) -> Option<T> {
    body.is_object()
        .then(|| T::deserialize(body).ok())
        .flatten()
}

fn info(v: Value) -> Option<SecretInfo> {
    let listed: Listed = object(v)?;
    let last_used_at_ms = listed.secret_usages.and_then(Lenient::ok).and_then(|uses| {
        uses.into_iter()
            .filter_map(|u| u.ok()?.last_used_at?.get())
            .max()
    });
    Some(SecretInfo {
        uuid: listed.uuid?.ok()?,
        created_at_ms: listed.created_at.and_then(|m| m.get()).unwrap_or(0),
        last_used_at_ms,
    })
}

/// The list answer: `{ client_secrets: [...] }`.
#[derive(Deserialize)]
struct ListAnswer {
    client_secrets: Option<Lenient<Vec<Value>>>,
}

/// Parses the list answer.
pub fn parse_list(response: &HttpResponse) -> Result<Vec<SecretInfo>, IoApiError> {
    check(response)?;
    let body: Value = serde_json::from_slice(&response.body)
        .map_err(|_| IoApiError::BadResponse(Cow::Borrowed("not JSON")))?;
    object::<ListAnswer>(body)
        .and_then(|a| a.client_secrets?.ok())
        .ok_or(IoApiError::BadResponse(Cow::Borrowed(
            "no client_secrets list",
        )))?
        .into_iter()
        .map(|v| {
            info(v).ok_or(IoApiError::BadResponse(Cow::Borrowed(
                "a secret without uuid",
            )))
        })
        .collect()
}

/// The add answer: `{ uuid, client_secret, created_at }`.
#[derive(Deserialize)]
struct AddAnswer {
    uuid: Option<Lenient<String>>,
    client_secret: Option<Lenient<String>>,
    created_at: Option<Millis>,
}

/// Parses the add answer, wrapping the plaintext at once.
pub fn parse_add(response: &HttpResponse) -> Result<NewSecret, IoApiError> {
    check(response)?;
    let body: Value = serde_json::from_slice(&response.body)
        .map_err(|_| IoApiError::BadResponse(Cow::Borrowed("not JSON")))?;
    let added: Option<AddAnswer> = object(body);
    let (uuid, secret, created_at) = added.map_or((None, None, None), |a| {
        (a.uuid, a.client_secret, a.created_at)
    });
    let uuid = uuid
        .and_then(Lenient::ok)
        .ok_or(IoApiError::BadResponse(Cow::Borrowed("no uuid")))?;
    let secret = secret
        .and_then(Lenient::ok)
        .filter(|s| !s.is_empty())
        .ok_or(IoApiError::BadResponse(Cow::Borrowed("no client_secret")))?;
    Ok(NewSecret {
        uuid,
        client_secret: ClientSecret::new(secret),
        created_at_ms: created_at.and_then(|m| m.get()).unwrap_or(0),
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
        let odd = r#"{"client_secrets":[{"uuid":"c","created_at":5,"secret_usages":[7,
            {"last_used_at":"9"},{"last_used_at":"x"},{"last_used_at":12}]}]}"#;
        let list = parse_list(&resp(200, odd)).unwrap();
        assert_eq!(
            (list[0].created_at_ms, list[0].last_used_at_ms),
            (5, Some(12))
        );
        for bad in [
            r#"{"client_secrets":[{"uuid":5}]}"#,
            r#"{"client_secrets":[["c"]]}"#,
            r#"{"client_secrets":{}}"#,
            "[]",
            "<html>",
        ] {
            assert!(parse_list(&resp(200, bad)).is_err(), "{bad}");
        }
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
        assert!(parse_add(&resp(200, r#"{"uuid":"u","client_secret":""}"#)).is_err());
        assert!(parse_add(&resp(200, r#"["u","p8e-x"]"#)).is_err());
        let odd = parse_add(&resp(
            200,
            r#"{"uuid":"u","client_secret":"s","created_at":[1]}"#,
        ))
        .unwrap();
        assert_eq!(odd.created_at_ms, 0);
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
        assert_eq!(code(r#"["403003","m"]"#), (None, None));
        assert_eq!(code("<html>"), (None, None));
        assert!(parse_delete(&resp(404, "")).is_ok());
        assert!(parse_delete(&resp(204, "")).is_ok());
        assert!(parse_delete(&resp(500, "")).is_err());
    }
}
