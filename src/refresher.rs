//! The global single flight: one Durable Object per cache key (credential + client id + scope
//! set) performs the refreshes, so isolates that miss the same key at the same moment, in any
//! location, cause one IMS call in all.
//!
//! An isolate that misses in memory and KV asks the key's object ([`ask`], through the
//! coordinator of `crate::platform::WorkerPlatform`); the object runs a token cache of its own
//! (memory, KV, one mint, KV write; separate from the isolate's request cache, whose flight for
//! the key is the one waiting for this answer) and answers every asker with the same token. If the object
//! cannot be reached, the isolate falls back to its own single flight and logs it. Cost: one
//! Durable Object request per miss, none per hit.

use crate::config;
use crate::tokens;
use ims_core::cache::{CacheOutcome, Failure, Minted, TokenSpec, UpstreamCall};
use ims_core::error::WireError;
use ims_core::policy::CachedToken;
use ims_core::{ImsError, ScopeSet};
use serde::{Deserialize, Serialize};
use serde_json::json;
use worker::{
    durable_object, DurableObject, Env, Method, ObjectNamespace, Request, RequestInit, Response,
    Result, State,
};

/// The Durable Object binding.
pub const BINDING: &str = "REFRESHER";

thread_local! {
    /// The objects' own cache. Objects may share an isolate with ordinary requests, so they must
    /// not share those requests' single flights: a request's flight waits for the object.
    static OBJECT_CACHE: std::rc::Rc<ims_core::TokenCache> = std::rc::Rc::new(ims_core::TokenCache::new());
}

#[derive(Serialize, Deserialize)]
struct Ask {
    credential: String,
    scopes: String,
}

#[derive(Serialize, Deserialize)]
struct Answer {
    /// The token entry, as stored in KV (`CachedToken::to_stored`).
    token: Option<String>,
    error: Option<WireError>,
    /// The IMS exchange the object made for this answer, if any.
    upstream: Option<UpstreamCall>,
    /// The object could not use the configuration for this ask (no IMS error: the asker, which
    /// reads the same configuration, finds and reports it itself).
    #[serde(default)]
    misconfigured: Option<String>,
}

/// Asks the key's object for a usable, non-stale token of `spec`. `None` when the object is
/// unreachable or answered something unreadable: the caller mints itself.
pub async fn ask(ns: &ObjectNamespace, spec: &TokenSpec) -> Option<Minted> {
    let result = async {
        let stub = ns.id_from_name(&spec.key)?.get_stub()?;
        let body = serde_json::to_string(&Ask {
            credential: spec.credential.clone(),
            scopes: spec.scopes.to_comma(),
        })?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(body.into()));
        let req = Request::new_with_init("https://refresher/token", &init)?;
        let mut resp = stub.fetch_with_request(req).await?;
        resp.json::<Answer>().await
    }
    .await;
    let answer = match result {
        Ok(a) => a,
        Err(e) => {
            crate::log::event(
                "coordinator_unreachable",
                json!({"level": "warn", "credential": spec.credential, "error": e.to_string(),
                       "fallback": "this isolate's own single flight"}),
                None,
            );
            return None;
        }
    };
    if let Some(reason) = answer.misconfigured {
        crate::log::event(
            "coordinator_misconfigured",
            json!({"level": "error", "credential": spec.credential, "error": reason,
                   "fallback": "this isolate's own single flight"}),
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
        let ask: Ask = req.json().await?;
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
        Response::from_json(&answer)
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
        let cfg = config::broker(&self.env).map_err(misconfigured)?;
        let cred = match cfg.credentials.get(&ask.credential) {
            Some(Ok(c)) => c,
            _ => return Err(misconfigured(format!("credential {:?}", ask.credential))),
        };
        let scopes = ScopeSet::from_comma(&ask.scopes).map_err(misconfigured)?;
        let platform = (*tokens::platform(&self.env).map_err(misconfigured)?)
            .clone()
            .local();
        let cache = OBJECT_CACHE.with(std::rc::Rc::clone);
        let (result, spec) =
            tokens::get_with_current_secrets(&self.env, &platform, &cache, &cfg, cred, scopes)
                .await
                .map_err(misconfigured)?;
        let served = match result {
            Ok(served) => served,
            Err(f) => return Ok(Err(f)),
        };
        if served.outcome != CacheOutcome::Stale {
            return Ok(Ok(((*served.token).clone(), served.upstream)));
        }
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
