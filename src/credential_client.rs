//! The wire between an isolate and a credential's Durable Object (`crate::credential_object`),
//! and the asking side.
//!
//! One object per credential (named by the credential's name) is the only authority for its
//! secrets record, its rotations and deletes, and its minting. An isolate asks it on a token miss
//! (`POST …/token`: [`Ask`], [`Answer`]; the answer carries the record, so the isolate learns the
//! current secrets) and for every operator call on the credential's secrets (`GET …/record`,
//! `GET …/secrets`, `POST …/rotate`, `DELETE …/secrets/{uuid}`: [`Outcome`]). Every check of the
//! caller runs in the isolate before it asks. An error the object meets crosses as
//! [`ObjectError`] and becomes the same `ApiError` on this side.
//!
//! When the object cannot be reached, a token miss mints in the isolate with the secrets it last
//! learnt (logged `credential_object_unreachable`), or answers 503 `credential_unavailable` when
//! it learnt none; an operator call answers 503 `credential_unavailable`: nothing that changes
//! state runs outside the object.

use crate::api_error::ApiError;
use crate::log::Fields;
use ims_core::cache::{Failure, Minted, TokenSpec, UpstreamCall};
use ims_core::cache_key::TokenUse;
use ims_core::error::WireError;
use ims_core::io_api::{IoApiError, SecretInfo};
use ims_core::policy::CachedToken;
use ims_core::record_json::from_object;
use ims_core::rotation::CredentialState;
use ims_core::{ConfigError, ImsError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use worker::ObjectNamespace;

/// The Durable Object binding.
pub const BINDING: &str = "CREDENTIAL_OBJECTS";

/// How long a caller is told to wait when the credential's object cannot be reached, seconds.
pub const UNAVAILABLE_RETRY_S: u64 = 5;

/// An isolate's question: `{"credential":…,"scopes":…,"use":…,"refused":…}` (scopes in Adobe's comma form;
/// `use` is `broker` for the broker's own management token, else absent: a callers' token).
/// Read with unknown fields skipped and each field once.
#[derive(Serialize, Deserialize)]
pub struct Ask {
    /// The credential's name.
    pub credential: String,
    /// The scope set, in Adobe's comma form.
    pub scopes: String,
    /// Whose token: the callers' or the broker's own.
    #[serde(
        rename = "use",
        default,
        skip_serializing_if = "is_callers",
        with = "token_use"
    )]
    pub use_: TokenUse,
    /// The SHA-256 (hex) of a token a caller reported refused: the object does not serve it
    /// again, and replaces it unless it replaced this key's token less than a minute ago.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

fn is_callers(u: &TokenUse) -> bool {
    *u == TokenUse::Callers
}

/// `use` on the wire: `"broker"`, or absent for a callers' token (any other value is refused).
mod token_use {
    use ims_core::cache_key::TokenUse;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(u: &TokenUse, s: S) -> Result<S::Ok, S::Error> {
        match u {
            TokenUse::Broker => s.serialize_str("broker"),
            TokenUse::Callers => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TokenUse, D::Error> {
        match String::deserialize(d)?.as_str() {
            "broker" => Ok(TokenUse::Broker),
            _ => Err(serde::de::Error::custom("use must be \"broker\" or absent")),
        }
    }
}

/// The object's answer: every field, in this order, `null` when absent; read with unknown
/// fields skipped, a field given twice refused, a missing field absent.
#[derive(Serialize, Deserialize)]
pub struct Answer {
    /// The token entry, as stored in KV (`CachedToken::to_stored`).
    pub token: Option<String>,
    /// The IMS error that is the answer, if any.
    pub error: Option<WireError>,
    /// The IMS exchange the object made for this answer, if any.
    pub upstream: Option<UpstreamCall>,
    /// The object could not answer the ask at all (its settings or its record cannot be
    /// used): the error the asker answers its caller with.
    pub refusal: Option<ObjectError>,
    /// The credential's record as the object holds it (stored secrets sealed), so that the
    /// asker learns the current secrets.
    #[serde(default)]
    pub record: Option<CredentialState>,
}

impl Ask {
    /// The message's JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The message read from `body`; `None` when it is not one.
    pub fn from_json(body: &[u8]) -> Option<Self> {
        from_object(body)
    }
}

impl Answer {
    /// The message's JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The message read from `body`; `None` when it is not one.
    pub fn from_json(body: &[u8]) -> Option<Self> {
        from_object(body)
    }
}

/// An error the object met, as it crosses to the isolate: the `ApiError` variants an object
/// can produce, with their payloads.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectError {
    /// `ApiError::Misconfigured`.
    Misconfigured(ConfigError),
    /// `ApiError::Storage`.
    Storage(String),
    /// `ApiError::Management`.
    Management(IoApiError),
    /// `ApiError::Upstream`.
    Upstream(WireError),
    /// `ApiError::Conflict`.
    Conflict(String),
    /// `ApiError::UnknownSecret`.
    UnknownSecret(String),
}

impl From<ApiError> for ObjectError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Misconfigured(c) => Self::Misconfigured(c),
            ApiError::Management(m) => Self::Management(m),
            ApiError::Upstream(u) => Self::Upstream(u.to_wire()),
            ApiError::Conflict(m) => Self::Conflict(m),
            ApiError::UnknownSecret(u) => Self::UnknownSecret(u),
            ApiError::Storage(m) => Self::Storage(m),
            other => Self::Storage(other.to_string()),
        }
    }
}

impl From<ObjectError> for ApiError {
    fn from(e: ObjectError) -> Self {
        match e {
            ObjectError::Misconfigured(c) => Self::Misconfigured(c),
            ObjectError::Management(m) => Self::Management(m),
            ObjectError::Upstream(u) => Self::Upstream(ImsError::from_wire(u)),
            ObjectError::Conflict(m) => Self::Conflict(m),
            ObjectError::UnknownSecret(u) => Self::UnknownSecret(u),
            ObjectError::Storage(m) => Self::Storage(m),
        }
    }
}

/// The answer to an operator call: what it asked for, or the error.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome<T> {
    /// Done.
    Ok(T),
    /// Refused or failed.
    Error(ObjectError),
}

impl<T> From<Result<T, ApiError>> for Outcome<T> {
    fn from(r: Result<T, ApiError>) -> Self {
        match r {
            Ok(v) => Self::Ok(v),
            Err(e) => Self::Error(e.into()),
        }
    }
}

/// `GET …/record`.
#[derive(Serialize, Deserialize)]
pub struct RecordAnswer {
    /// The record.
    pub record: CredentialState,
}

/// `GET …/secrets`: the record and what Adobe holds, listed by the object.
#[derive(Serialize, Deserialize)]
pub struct SecretsAnswer {
    /// The record.
    pub record: CredentialState,
    /// Adobe's list.
    pub adobe: Vec<SecretInfo>,
}

/// `POST …/rotate`.
#[derive(Serialize, Deserialize)]
pub struct RotateAnswer {
    /// The record after the run.
    pub record: CredentialState,
    /// True when a run was already at work: this call did nothing.
    pub busy: bool,
}

/// `DELETE …/secrets/{uuid}`.
#[derive(Serialize, Deserialize)]
pub struct Deleted {}

/// What the object answered a token ask with.
pub enum Asked {
    /// A token or IMS's failure, and the record as the object holds it.
    Answered(Minted, Option<Box<CredentialState>>),
    /// The object could not answer at all: the error for the caller.
    Refused(ApiError),
}

/// The credentials' objects, as an isolate reaches them.
pub struct CredentialObjects {
    ns: ObjectNamespace,
}

impl CredentialObjects {
    /// The binding, when configured.
    pub fn of(env: &worker::Env) -> Option<Self> {
        env.durable_object(BINDING).ok().map(|ns| Self { ns })
    }

    async fn call(
        &self,
        credential: &str,
        method: &str,
        op: &str,
        body: &[u8],
    ) -> worker::Result<Vec<u8>> {
        let stub = self.ns.id_from_name(credential)?.get_stub()?;
        let url = format!("https://credential-object/{credential}/{op}");
        let req = crate::platform::request(&url, method, &[], body)?;
        let mut resp = stub.fetch_with_request(req).await?;
        resp.bytes().await
    }

    /// An operator call: the object's answer, or 503 `credential_unavailable` when the object
    /// cannot be reached (logged).
    async fn operate<T: DeserializeOwned>(
        &self,
        credential: &str,
        method: &str,
        op: &str,
    ) -> Result<T, ApiError> {
        let answer = self
            .call(credential, method, op, &[])
            .await
            .and_then(|bytes| {
                serde_json::from_slice::<Outcome<T>>(&bytes)
                    .map_err(|e| worker::Error::from(format!("an unreadable answer: {e}")))
            });
        match answer {
            Ok(Outcome::Ok(v)) => Ok(v),
            Ok(Outcome::Error(e)) => Err(e.into()),
            Err(e) => {
                unreachable_logged(credential, &e, "none: the operator call is refused");
                Err(ApiError::Upstream(ImsError::CredentialUnavailable {
                    retry_after_s: Some(UNAVAILABLE_RETRY_S),
                }))
            }
        }
    }

    /// The credential's record.
    pub async fn record(&self, credential: &str) -> Result<CredentialState, ApiError> {
        let a: RecordAnswer = self.operate(credential, "GET", "record").await?;
        Ok(a.record)
    }

    /// The record and Adobe's list of the credential's secrets.
    pub async fn secrets(&self, credential: &str) -> Result<SecretsAnswer, ApiError> {
        self.operate(credential, "GET", "secrets").await
    }

    /// Starts or resumes the credential's rotation.
    pub async fn rotate(&self, credential: &str) -> Result<RotateAnswer, ApiError> {
        self.operate(credential, "POST", "rotate").await
    }

    /// Deletes a secret at Adobe, if the record allows it.
    pub async fn delete(&self, credential: &str, uuid: &str) -> Result<(), ApiError> {
        let _: Deleted = self
            .operate(credential, "DELETE", &format!("secrets/{uuid}"))
            .await?;
        Ok(())
    }

    /// Asks the credential's object for a usable, non-stale token of `spec`. `Err` when the
    /// object is unreachable or answered something unreadable (logged): the caller decides what
    /// to do without it.
    pub async fn token(&self, spec: &TokenSpec) -> Result<Asked, ()> {
        let body = Ask {
            credential: spec.credential.clone(),
            scopes: spec.scopes.to_comma(),
            use_: ims_core::cache_key::use_of(&spec.key),
            refused: spec.refused.as_ref().map(|r| r.to_hex()),
        }
        .to_json();
        let answer = self
            .call(&spec.credential, "POST", "token", body.as_bytes())
            .await
            .and_then(|bytes| {
                Answer::from_json(&bytes).ok_or_else(|| worker::Error::from("an unreadable answer"))
            });
        let answer = match answer {
            Ok(a) => a,
            Err(e) => {
                let fallback = if spec.secrets.is_empty() {
                    "none: no secret learnt yet, 503 credential_unavailable"
                } else {
                    "the secrets this isolate learnt last"
                };
                unreachable_logged(&spec.credential, &e, fallback);
                return Err(());
            }
        };
        if let Some(refusal) = answer.refusal {
            return Ok(Asked::Refused(refusal.into()));
        }
        let upstream = answer.upstream;
        if let Some(error) = answer.error {
            let failure = Failure {
                error: ImsError::from_wire(error),
                upstream,
            };
            return Ok(Asked::Answered(Err(failure), answer.record.map(Box::new)));
        }
        let Some(token) = answer.token.as_deref().and_then(CachedToken::from_stored) else {
            unreachable_logged(
                &spec.credential,
                &"an answer without a token",
                "as unreachable",
            );
            return Err(());
        };
        Ok(Asked::Answered(
            Ok((token, upstream)),
            answer.record.map(Box::new),
        ))
    }
}

/// The `credential_object_unreachable` log line.
fn unreachable_logged(credential: &str, e: &dyn std::fmt::Display, fallback: &str) {
    crate::log::event(
        "credential_object_unreachable",
        Fields::new()
            .str("level", "warn")
            .str("credential", credential)
            .str("error", &e.to_string())
            .str("fallback", fallback),
        None,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_back_what_was_written() {
        let ask = Ask {
            credential: "c\"1".into(),
            scopes: "a,b".into(),
            use_: TokenUse::Callers,
            refused: None,
        };
        let text = ask.to_json();
        assert_eq!(text, r#"{"credential":"c\"1","scopes":"a,b"}"#);
        let back = Ask::from_json(text.as_bytes()).expect("ask");
        assert_eq!((back.credential, back.scopes), (ask.credential, ask.scopes));
        assert!(Ask::from_json(br#"{"credential":"c"}"#).is_none());
        let broker = Ask {
            credential: "c\"1".into(),
            scopes: "a,b".into(),
            use_: TokenUse::Broker,
            refused: Some("ab".repeat(32)),
        };
        let text = broker.to_json();
        assert_eq!(
            text,
            format!(
                r#"{{"credential":"c\"1","scopes":"a,b","use":"broker","refused":"{}"}}"#,
                "ab".repeat(32)
            )
        );
        assert_eq!(
            Ask::from_json(text.as_bytes()).expect("ask").use_,
            TokenUse::Broker
        );
        assert!(Ask::from_json(br#"{"credential":"c","scopes":"a","use":"x"}"#).is_none());

        let answer = Answer {
            token: None,
            error: Some(WireError {
                code: "upstream_unavailable".into(),
                upstream_status: Some(503),
                description: "d".into(),
                debug_id: None,
                retry_after_s: Some(7),
            }),
            upstream: Some(UpstreamCall {
                status: Some(503),
                ms: 5,
                attempts: 3,
                debug_id: Some("x".into()),
                secret_index: 0,
            }),
            refusal: None,
            record: None,
        };
        let text = answer.to_json();
        assert_eq!(
            text,
            r#"{"token":null,"error":{"code":"upstream_unavailable","upstream_status":503,"description":"d","debug_id":null,"retry_after_s":7},"upstream":{"status":503,"ms":5,"attempts":3,"debug_id":"x","secret_index":0},"refusal":null,"record":null}"#
        );
        let back = Answer::from_json(text.as_bytes()).expect("answer");
        assert_eq!(back.error, answer.error);
        assert_eq!(back.upstream, answer.upstream);
        assert!(back.token.is_none() && back.refusal.is_none() && back.record.is_none());

        // Missing optional fields are absent, unknown ones skipped; a field twice is refused.
        let back = Answer::from_json(br#"{"token":"t","x":[1,{}]}"#).expect("short answer");
        assert_eq!(back.token.as_deref(), Some("t"));
        assert!(back.error.is_none() && back.upstream.is_none());
        assert!(Answer::from_json(br#"{"token":"t","token":"u"}"#).is_none());
        assert!(Answer::from_json(br#"{"upstream":{"ms":1}}"#).is_none());
        assert!(Answer::from_json(
            br#"{"upstream":{"status":70000,"ms":1,"attempts":1,"secret_index":0}}"#
        )
        .is_none());
    }
}
