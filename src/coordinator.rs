//! The refresh coordinator's wire: what an isolate asks the `REFRESHER` Durable Object (see
//! `crate::refresher`) and what it answers, and [`ask`], the asking side.
//!
//! An isolate that misses in memory and KV asks the cache key's object (through the coordinator
//! of `crate::runtime::WorkerPlatform`); if the object cannot be reached, the isolate falls back
//! to its own single flight and logs it.

use crate::log::Fields;
use ims_core::cache::{Failure, Minted, TokenSpec, UpstreamCall};
use ims_core::cache_key::TokenUse;
use ims_core::error::WireError;
use ims_core::policy::CachedToken;
use ims_core::record_json::from_object;
use ims_core::ImsError;
use serde::{Deserialize, Serialize};
use worker::ObjectNamespace;

/// The Durable Object binding.
pub const BINDING: &str = "REFRESHER";

/// An isolate's question: `{"credential":…,"scopes":…,"use":…}` (scopes in Adobe's comma form;
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
    /// The object could not use the configuration for this ask (no IMS error: the asker, which
    /// reads the same configuration, finds and reports it itself).
    pub misconfigured: Option<String>,
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

/// Asks the key's object for a usable, non-stale token of `spec`. `None` when the object is
/// unreachable or answered something unreadable: the caller mints itself.
pub async fn ask(ns: &ObjectNamespace, spec: &TokenSpec) -> Option<Minted> {
    let result = async {
        let stub = ns.id_from_name(&spec.key)?.get_stub()?;
        let body = Ask {
            credential: spec.credential.clone(),
            scopes: spec.scopes.to_comma(),
            use_: ims_core::cache_key::use_of(&spec.key),
        }
        .to_json();
        let req =
            crate::platform::request("https://refresher/token", "POST", &[], body.as_bytes())?;
        let mut resp = stub.fetch_with_request(req).await?;
        let bytes = resp.bytes().await?;
        Answer::from_json(&bytes).ok_or_else(|| worker::Error::from("an unreadable answer"))
    }
    .await;
    let answer = match result {
        Ok(a) => a,
        Err(e) => {
            crate::log::event(
                "coordinator_unreachable",
                Fields::new()
                    .str("level", "warn")
                    .str("credential", &spec.credential)
                    .str("error", &e.to_string())
                    .str("fallback", "this isolate's own single flight"),
                None,
            );
            return None;
        }
    };
    if let Some(reason) = answer.misconfigured {
        crate::log::event(
            "coordinator_misconfigured",
            Fields::new()
                .str("level", "error")
                .str("credential", &spec.credential)
                .str("error", &reason)
                .str("fallback", "this isolate's own single flight"),
            None,
        );
        return None;
    }
    let upstream = answer.upstream;
    if let Some(error) = answer.error {
        return Some(Err(Failure {
            error: ImsError::from_wire(error),
            upstream,
        }));
    }
    let token = CachedToken::from_stored(answer.token.as_deref()?)?;
    Some(Ok((token, upstream)))
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
        };
        let text = broker.to_json();
        assert_eq!(
            text,
            r#"{"credential":"c\"1","scopes":"a,b","use":"broker"}"#
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
            misconfigured: None,
        };
        let text = answer.to_json();
        assert_eq!(
            text,
            r#"{"token":null,"error":{"code":"upstream_unavailable","upstream_status":503,"description":"d","debug_id":null,"retry_after_s":7},"upstream":{"status":503,"ms":5,"attempts":3,"debug_id":"x","secret_index":0},"misconfigured":null}"#
        );
        let back = Answer::from_json(text.as_bytes()).expect("answer");
        assert_eq!(back.error, answer.error);
        assert_eq!(back.upstream, answer.upstream);
        assert!(back.token.is_none() && back.misconfigured.is_none());

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
