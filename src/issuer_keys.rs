//! Trusted issuers' keys: found in this isolate's memory, else in KV (`jwks:<issuer name>`, so a
//! new isolate does not ask the issuer), else fetched from the issuer (its `jwks_url`, or the
//! `jwks_uri` of its OpenID configuration). The cache policy is
//! `ims_core::workload_identity::CachedKeys`: fresh for the response's `max-age` within
//! [5 min, 24 h]; a stale set is used only while the issuer cannot be reached.
//!
//! How often the issuer is asked, per isolate:
//! - a token whose `kid` the fresh set lacks (a key the issuer just added) refetches the set at
//!   most once a minute: a flood of made-up `kid`s costs the issuer one request a minute;
//! - after a failed fetch, the next one waits a minute (meanwhile: the stale set, or 503
//!   `issuer_unavailable` with `Retry-After`);
//! - one fetch per issuer at a time: other requests that need the keys meanwhile wait for it by
//!   polling, each in its own request (workerd lets no request use another's I/O, or be woken
//!   from it), then read what it left.

use crate::api_error::ApiError;
use crate::context::Ctx;
use crate::isolate::{Isolate, IssuerKeys};
use crate::log::Fields;
use crate::platform::{self, now_ms};
use ims_core::http::HttpRequest;
use ims_core::workload_identity::{
    configuration_url, jwks_uri, next_fetch_at_ms, pick_key, CachedKeys, Jwk, JwtError,
    TrustedIssuer,
};
use std::rc::Rc;
use std::time::Duration;

/// How long one request to an issuer may take, ms.
const FETCH_TIMEOUT_MS: u64 = 5_000;
/// The largest document read from an issuer, bytes.
const MAX_DOCUMENT: usize = 256 * 1024;
/// How often a request waiting for another request's fetch checks whether it has ended, ms.
const POLL_MS: u64 = 10;

/// The KV key of issuer `name`'s keys.
pub fn kv_key(name: &str) -> String {
    format!("jwks:{name}")
}

/// The key of issuer `name` that signed a token with key id `kid`: 401 when the set has none
/// (after one refetch, when the last was a minute ago or more), 503 `issuer_unavailable` when
/// no set can be had.
pub async fn key_for(
    c: &Ctx,
    name: &str,
    issuer: &TrustedIssuer,
    kid: Option<&str>,
) -> Result<Jwk, ApiError> {
    let known = loop {
        wait_for_fetch(c, name).await;
        let known = known(c, name).await;
        // Reading KV may have let another request start a fetch: wait for it, then look again.
        // From here to the start of a fetch of this request's own, nothing awaits.
        if !under_way(c, name) {
            break known;
        }
    };
    let now = now_ms();
    let usable = known.set.as_ref().filter(|s| s.usable(now));
    let pick = |set: &CachedKeys| {
        let keys = set.keys().map_err(ApiError::IdentityRejected)?;
        pick_key(kid, &keys)
            .cloned()
            .map_err(ApiError::IdentityRejected)
    };
    let fresh = usable.filter(|s| s.fresh(now));
    if let Some(fresh) = fresh {
        match pick(fresh) {
            Err(ApiError::IdentityRejected(JwtError::UnknownKid)) => {}
            other => return other,
        }
    }
    // Nothing cached, stale, or no key with this kid: ask the issuer, unless a fetch failed
    // within the minute, or (for a kid the fresh set lacks) the last such refetch was.
    let after_failure = next_fetch_at_ms(known.last_failure_ms);
    let may_fetch =
        now >= after_failure && (fresh.is_none() || now >= next_fetch_at_ms(known.last_refetch_ms));
    if may_fetch {
        let refetch = fresh.is_some();
        let fetching = Fetching::start(c, name);
        match fetch(name, issuer, now).await {
            Ok(fetched) => {
                remember(c, name, |k| {
                    k.set = Some(fetched.clone());
                    if refetch {
                        k.last_refetch_ms = Some(now);
                    }
                });
                drop(fetching);
                // Only a set that changed is written: a refetch for an unknown kid that brings
                // the same keys costs no KV write.
                if known
                    .set
                    .as_ref()
                    .is_none_or(|old| old.jwks != fetched.jwks)
                {
                    store(c, name, &fetched).await;
                }
                return pick(&fetched);
            }
            Err(why) => {
                remember(c, name, |k| {
                    k.last_failure_ms = Some(now);
                    if refetch {
                        k.last_refetch_ms = Some(now);
                    }
                });
                drop(fetching);
                crate::log::event(
                    "issuer_keys_unavailable",
                    Fields::new().str("issuer", name).str("detail", &why),
                    None,
                );
            }
        }
    }
    match usable {
        // The issuer could not be asked (or did not answer): a stale set keeps serving.
        Some(stale) if !stale.fresh(now) => pick(stale),
        // A fresh set without the token's kid, and no new one to be had.
        Some(_) => Err(ApiError::IdentityRejected(JwtError::UnknownKid)),
        None => {
            let next = if may_fetch {
                next_fetch_at_ms(Some(now))
            } else {
                after_failure
            };
            Err(ApiError::IssuerUnavailable(
                next.saturating_sub(now).div_ceil(1000).max(1),
            ))
        }
    }
}

/// Marks a fetch of issuer `name`'s keys as under way until dropped (also when its request is
/// cancelled mid-fetch: the next request then fetches).
struct Fetching {
    isolate: Rc<Isolate>,
    name: String,
}

impl Fetching {
    fn start(c: &Ctx, name: &str) -> Self {
        remember(c, name, |k| k.fetching = true);
        Self {
            isolate: Rc::clone(&c.isolate),
            name: name.to_owned(),
        }
    }
}

impl Drop for Fetching {
    fn drop(&mut self) {
        if let Some(k) = self.isolate.issuer_keys.borrow_mut().get_mut(&self.name) {
            k.fetching = false;
        }
    }
}

/// Waits while another request of this isolate fetches issuer `name`'s keys (at most as long
/// as a fetch may take).
async fn wait_for_fetch(c: &Ctx, name: &str) {
    let deadline = now_ms() + FETCH_TIMEOUT_MS * 2;
    while under_way(c, name) && now_ms() < deadline {
        worker::Delay::from(Duration::from_millis(POLL_MS)).await;
    }
}

/// True while a request of this isolate fetches issuer `name`'s keys.
fn under_way(c: &Ctx, name: &str) -> bool {
    c.isolate
        .issuer_keys
        .borrow()
        .get(name)
        .is_some_and(|k| k.fetching)
}

/// What this isolate knows of issuer `name`'s keys, reading KV the first time.
struct Known {
    set: Option<CachedKeys>,
    last_refetch_ms: Option<u64>,
    last_failure_ms: Option<u64>,
}

impl From<&IssuerKeys> for Known {
    fn from(k: &IssuerKeys) -> Self {
        Self {
            set: k.set.clone(),
            last_refetch_ms: k.last_refetch_ms,
            last_failure_ms: k.last_failure_ms,
        }
    }
}

async fn known(c: &Ctx, name: &str) -> Known {
    let (known, kv_read) = {
        let all = c.isolate.issuer_keys.borrow();
        let keys = all.get(name);
        (
            keys.map_or_else(|| Known::from(&IssuerKeys::default()), Known::from),
            keys.is_some_and(|k| k.kv_read),
        )
    };
    if known.set.is_some() || kv_read {
        return known;
    }
    let stored = match c.isolate.kv(&c.env) {
        Ok(kv) => kv.get(&kv_key(name)).await.ok().flatten(),
        Err(_) => None,
    };
    let stored = stored.and_then(|text| serde_json::from_str::<CachedKeys>(&text).ok());
    // What memory holds now: the stored set, or a newer one another request fetched meanwhile.
    let mut now_known = known;
    remember(c, name, |k| {
        k.kv_read = true;
        if k.set.is_none() {
            k.set = stored;
        }
        now_known = Known::from(&*k);
    });
    now_known
}

fn remember(c: &Ctx, name: &str, change: impl FnOnce(&mut IssuerKeys)) {
    change(
        c.isolate
            .issuer_keys
            .borrow_mut()
            .entry(name.to_owned())
            .or_default(),
    );
}

/// Writes a fetched set to KV for other isolates; a failed write only costs them a fetch.
async fn store(c: &Ctx, name: &str, set: &CachedKeys) {
    let Ok(kv) = c.isolate.kv(&c.env) else { return };
    let Ok(text) = serde_json::to_string(set) else {
        return;
    };
    let ttl_s = (set.expires_at_ms().saturating_sub(now_ms()) / 1000).max(60);
    if let Err(e) = kv.put(&kv_key(name), &text, Some(ttl_s)).await {
        crate::log::event(
            "issuer_keys_not_shared",
            Fields::new()
                .str("issuer", name)
                .str("detail", &e.to_string()),
            None,
        );
    }
}

/// Fetches issuer `name`'s key set: its `jwks_url`, or the `jwks_uri` of its OpenID
/// configuration. The error says what failed, for the log (no token is involved).
async fn fetch(name: &str, issuer: &TrustedIssuer, now: u64) -> Result<CachedKeys, String> {
    let url = match &issuer.jwks_url {
        Some(url) => url.clone(),
        None => {
            let (document, _) = get(&configuration_url(&issuer.issuer)).await?;
            jwks_uri(&document, issuer).map_err(|e| e.to_string())?
        }
    };
    let (jwks, cache_control) = get(&url).await?;
    CachedKeys::fetched(jwks, cache_control.as_deref(), now).map_err(|e| format!("{name}: {e}"))
}

/// GETs `url`: the body as text and the `Cache-Control` header, when the answer is a 200.
async fn get(url: &str) -> Result<(String, Option<String>), String> {
    let request = HttpRequest {
        method: "GET",
        url: url.to_owned(),
        headers: vec![("accept".into(), "application/json".into())],
        body: Vec::new(),
    };
    let response = platform::send(&request, FETCH_TIMEOUT_MS)
        .await
        .map_err(|e| e.to_string())?;
    if response.status != 200 {
        return Err(format!("the issuer answered {}", response.status));
    }
    if response.body.len() > MAX_DOCUMENT {
        return Err("the issuer's document is too large".into());
    }
    let cache_control = response.header("cache-control").map(str::to_owned);
    let text = String::from_utf8(response.body).map_err(|_| "not UTF-8".to_owned())?;
    Ok((text, cache_control))
}
