//! Trusted issuers' keys: found in this isolate's memory, else in KV (`jwks:<issuer name>`, so a
//! new isolate does not ask the issuer), else fetched from the issuer (its `jwks_url`, or the
//! `jwks_uri` of its OpenID configuration). The cache policy is
//! `ims_core::workload_identity::CachedKeys`: fresh for the response's `max-age` within
//! [5 min, 24 h]; fetched at most once a minute per issuer in an isolate, whatever asks (a token
//! with an unknown `kid` included); a stale set used only while the issuer cannot be reached.

use crate::api_error::ApiError;
use crate::context::Ctx;
use crate::isolate::IssuerKeys;
use crate::log::Fields;
use crate::platform::{self, now_ms};
use futures_util::FutureExt;
use ims_core::http::HttpRequest;
use ims_core::workload_identity::{
    configuration_url, jwks_uri, next_fetch_at_ms, pick_key, CachedKeys, Jwk, JwtError,
    TrustedIssuer,
};

/// How long one request to an issuer may take, ms.
const FETCH_TIMEOUT_MS: u64 = 5_000;
/// The largest document read from an issuer, bytes.
const MAX_DOCUMENT: usize = 256 * 1024;

/// The KV key of issuer `name`'s keys.
pub fn kv_key(name: &str) -> String {
    format!("jwks:{name}")
}

/// The key of issuer `name` that signed a token with key id `kid`: 401 when the set has none
/// (after one fetch, when the last was a minute ago or more), 503 `issuer_unavailable` when no
/// set can be had.
pub async fn key_for(
    c: &Ctx,
    name: &str,
    issuer: &TrustedIssuer,
    kid: Option<&str>,
) -> Result<Jwk, ApiError> {
    let now = now_ms();
    let (known, last_attempt) = known(c, name).await;
    let usable = known.as_ref().filter(|s| s.usable(now));
    let pick = |set: &CachedKeys| {
        let keys = set.keys().map_err(ApiError::IdentityRejected)?;
        pick_key(kid, &keys)
            .cloned()
            .map_err(ApiError::IdentityRejected)
    };
    if let Some(fresh) = usable.filter(|s| s.fresh(now)) {
        match pick(fresh) {
            Err(ApiError::IdentityRejected(JwtError::UnknownKid)) => {}
            other => return other,
        }
    }
    // Nothing cached, stale, or no key with this kid: ask the issuer, at most once a minute;
    // a request that finds a fetch under way waits for it instead (one fetch per issuer at a
    // time, as a new isolate's first requests all arrive before its keys do).
    let mut last_attempt = last_attempt;
    let flight = c
        .isolate
        .issuer_keys
        .borrow()
        .get(name)
        .and_then(|k| k.fetching.clone());
    let flight = match flight {
        Some(flight) => Some(flight),
        None if now >= next_fetch_at_ms(last_attempt) => {
            last_attempt = Some(now);
            let flight = fetch(name.to_owned(), issuer.clone(), now)
                .boxed_local()
                .shared();
            remember(c, name, |k| {
                k.last_attempt_ms = Some(now);
                k.fetching = Some(flight.clone());
            });
            Some(flight)
        }
        None => None,
    };
    if let Some(flight) = flight {
        let outcome = flight.clone().await;
        // The first request to see the outcome (whichever started the fetch) keeps it and,
        // when it brought keys, shares them through KV.
        let mut first = false;
        remember(c, name, |k| {
            if k.fetching.as_ref().is_some_and(|f| f.ptr_eq(&flight)) {
                first = true;
                k.fetching = None;
                if let Ok(fetched) = &outcome {
                    k.set = Some(fetched.clone());
                }
            }
        });
        let leader = first;
        match outcome {
            Ok(fetched) => {
                // Only a set that changed is written: a refetch for an unknown kid that brings
                // the same keys costs no KV write.
                if leader && known.as_ref().is_none_or(|old| old.jwks != fetched.jwks) {
                    store(c, name, &fetched).await;
                }
                return pick(&fetched);
            }
            Err(why) if leader => crate::log::event(
                "issuer_keys_unavailable",
                Fields::new().str("issuer", name).str("detail", &why),
                None,
            ),
            Err(_) => {}
        }
    }
    match usable {
        // The issuer could not be asked (or did not answer): a stale set keeps serving.
        Some(stale) if !stale.fresh(now) => pick(stale),
        // A fresh set without the token's kid, and no new one to be had.
        Some(_) => Err(ApiError::IdentityRejected(JwtError::UnknownKid)),
        None => {
            let next = next_fetch_at_ms(last_attempt);
            Err(ApiError::IssuerUnavailable(
                next.saturating_sub(now).div_ceil(1000).max(1),
            ))
        }
    }
}

/// What this isolate knows of issuer `name`'s keys, reading KV the first time: the set, and
/// when it last started a fetch.
async fn known(c: &Ctx, name: &str) -> (Option<CachedKeys>, Option<u64>) {
    let (set, last, kv_read) = {
        let all = c.isolate.issuer_keys.borrow();
        all.get(name).map_or((None, None, false), |k| {
            (k.set.clone(), k.last_attempt_ms, k.kv_read)
        })
    };
    if set.is_some() || kv_read {
        return (set, last);
    }
    let stored = match c.isolate.kv(&c.env) {
        Ok(kv) => kv.get(&kv_key(name)).await.ok().flatten(),
        Err(_) => None,
    };
    let stored = stored.and_then(|text| serde_json::from_str::<CachedKeys>(&text).ok());
    remember(c, name, |k| {
        k.kv_read = true;
        if k.set.is_none() {
            k.set = stored.clone();
        }
    });
    (stored, last)
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
async fn fetch(name: String, issuer: TrustedIssuer, now: u64) -> Result<CachedKeys, String> {
    let url = match &issuer.jwks_url {
        Some(url) => url.clone(),
        None => {
            let (document, _) = get(&configuration_url(&issuer.issuer)).await?;
            jwks_uri(&document, &issuer).map_err(|e| e.to_string())?
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
