//! The global single flight: one Durable Object per cache key (credential + client id + scope
//! set) performs the refreshes, so isolates that miss the same key at the same moment, in any
//! location, cause one IMS call in all.
//!
//! An isolate that misses in memory and KV asks the key's object ([`ask`], through the
//! coordinator of `crate::runtime::WorkerPlatform`); the object runs a token cache of its own
//! (memory, KV, one mint, KV write; separate from the isolate's request cache, whose flight for
//! the key is the one waiting for this answer) and answers every asker with the same token. If the object
//! cannot be reached, the isolate falls back to its own single flight and logs it. Cost: one
//! Durable Object request per miss, none per hit.

use crate::log::Fields;
use crate::tokens;
use ims_core::cache::{CacheOutcome, Failure, Minted, TokenSpec, UpstreamCall};
use ims_core::cache_key::TokenUse;
use ims_core::error::WireError;
use ims_core::policy::CachedToken;
use ims_core::record_json::from_object;
use ims_core::{ImsError, ScopeSet};
use serde::{Deserialize, Serialize};
use worker::{
    durable_object, DurableObject, Env, ObjectNamespace, Request, Response, Result, State,
};

/// The Durable Object binding.
pub const BINDING: &str = "REFRESHER";

thread_local! {
    /// The objects' own cache. Objects may share an isolate with ordinary requests, so they must
    /// not share those requests' single flights: a request's flight waits for the object.
    static OBJECT_CACHE: std::rc::Rc<ims_core::TokenCache> = std::rc::Rc::new(ims_core::TokenCache::new());
}

/// An isolate's question: `{"credential":…,"scopes":…,"use":…}` (scopes in Adobe's comma form;
/// `use` is `broker` for the broker's own management token, else absent: a callers' token).
/// Read with unknown fields skipped and each field once.
#[derive(Serialize, Deserialize)]
struct Ask {
    credential: String,
    scopes: String,
    #[serde(
        rename = "use",
        default,
        skip_serializing_if = "is_callers",
        with = "token_use"
    )]
    use_: TokenUse,
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
struct Answer {
    /// The token entry, as stored in KV (`CachedToken::to_stored`).
    token: Option<String>,
    error: Option<WireError>,
    /// The IMS exchange the object made for this answer, if any.
    upstream: Option<UpstreamCall>,
    /// The object could not use the configuration for this ask (no IMS error: the asker, which
    /// reads the same configuration, finds and reports it itself).
    misconfigured: Option<String>,
}

impl Ask {
    fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    fn from_json(body: &[u8]) -> Option<Self> {
        from_object(body)
    }
}

impl Answer {
    fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    fn from_json(body: &[u8]) -> Option<Self> {
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

/// The Durable Object class.
#[durable_object]
pub struct Refresher {
    env: Env,
}

impl DurableObject for Refresher {
    fn new(_state: State, env: Env) -> Self {
        Self { env }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let ask = Ask::from_json(&req.bytes().await?)
            .ok_or_else(|| worker::Error::from("an unreadable ask"))?;
        let answer = match self.token(&ask).await {
            Ok(Ok((token, upstream))) => Answer {
                token: Some(token.to_stored(&ask.credential)),
                error: None,
                upstream,
                misconfigured: None,
            },
            Ok(Err(f)) => Answer {
                token: None,
                error: Some(f.error.to_wire()),
                upstream: f.upstream,
                misconfigured: None,
            },
            Err(reason) => Answer {
                token: None,
                error: None,
                upstream: None,
                misconfigured: Some(reason),
            },
        };
        crate::reply::Reply::with_type(200, "application/json", answer.to_json().into_bytes())
            .into_worker()
    }
}

fn misconfigured(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Refresher {
    /// A usable token that is not stale, through the object's own cache, minting here (never
    /// asking a coordinator again). Askers come when they have nothing usable or want a refresh,
    /// so a stale token is refreshed first; if that fails, the failure is the answer (an asker
    /// that still holds a usable token keeps serving it). `Err`: the object cannot use the
    /// configuration for this ask (what is wrong, in words without values).
    async fn token(&self, ask: &Ask) -> Result<Minted, String> {
        let cfg = crate::isolate::Isolate::current()
            .config(&self.env)
            .map_err(misconfigured)?;
        let cred = match cfg.credentials.get(&ask.credential) {
            Some(Ok(c)) => c,
            _ => return Err(misconfigured(format!("credential {:?}", ask.credential))),
        };
        let scopes = ScopeSet::from_comma(&ask.scopes).map_err(misconfigured)?;
        let platform = (*tokens::platform(&self.env).map_err(misconfigured)?)
            .clone()
            .local();
        let cache = OBJECT_CACHE.with(std::rc::Rc::clone);
        let key = ims_core::cache_key::key_for(ask.use_, &cred.name, &cred.client_id, &scopes);
        let now = crate::platform::now_ms();
        let cached = match cache.from_memory(&key, now) {
            Some(served) => Some(served),
            None => cache.from_store(&platform, &key).await,
        };
        let served = match cached {
            Some(served) => served,
            None => {
                let (result, _) = tokens::mint_with_current_secrets(
                    &self.env,
                    &platform,
                    &cache,
                    &cfg,
                    cred,
                    ask.use_,
                    scopes.clone(),
                )
                .await
                .map_err(misconfigured)?;
                match result {
                    Ok(served) => served,
                    Err(f) => return Ok(Err(f)),
                }
            }
        };
        if served.outcome != CacheOutcome::Stale {
            return Ok(Ok(((*served.token).clone(), served.upstream)));
        }
        let secrets = crate::secrets::candidates(&self.env, &platform, cred)
            .await
            .map_err(misconfigured)?;
        let spec = ims_core::cache::TokenSpec::of_use(
            ask.use_,
            &cred.name,
            &cred.client_id,
            secrets,
            scopes,
            &cfg.token_url,
        );
        let upstream = match cache.refresh(&platform, &cfg.settings, &spec).await {
            Ok(up) => up,
            Err(f) => return Ok(Err(f)),
        };
        // The refresh just put it in the object's memory; if it is gone, let the asker mint.
        let token = cache
            .peek(&spec.key)
            .ok_or_else(|| misconfigured("the refreshed token is not in the object's memory"))?;
        Ok(Ok(((*token).clone(), upstream)))
    }
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
