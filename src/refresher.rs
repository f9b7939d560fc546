//! The global single flight: one Durable Object per cache key (credential + client id + scope
//! set) performs the refreshes, so isolates that miss the same key at the same moment, in any
//! location, cause one IMS call in all.
//!
//! An isolate that misses in memory and KV asks the key's object (`crate::coordinator::ask`);
//! the object runs a token cache of its own
//! (memory, KV, one mint, KV write; separate from the isolate's request cache, whose flight for
//! the key is the one waiting for this answer) and answers every asker with the same token. If the object
//! cannot be reached, the isolate falls back to its own single flight and logs it. Cost: one
//! Durable Object request per miss, none per hit.

use crate::coordinator::{Answer, Ask};
use crate::isolate::Isolate;
use crate::runtime::WorkerPlatform;
use crate::tokens;
use ims_core::cache::{CacheOutcome, Minted};
use ims_core::ScopeSet;
use std::rc::Rc;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

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
        let isolate = Isolate::current();
        let cfg = isolate.config(&self.env).map_err(misconfigured)?;
        let cred = cfg
            .credential(&ask.credential)
            .map_err(|_| misconfigured(format!("credential {:?}", ask.credential)))?;
        let scopes = ScopeSet::from_comma(&ask.scopes).map_err(misconfigured)?;
        let platform = WorkerPlatform::of(&isolate, &self.env)
            .map_err(misconfigured)?
            .local();
        let cache = Rc::clone(&isolate.object_cache);
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
