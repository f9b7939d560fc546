//! Workload identity callers: a caller proves who it is with a JWT its platform issued it
//! (GitHub Actions, Kubernetes, Cloudflare Access, …) instead of a caller key.
//!
//! The rules are `ims_core::workload_identity` (reading the token, claims, which key) and
//! `ims_core::callers` (which caller the claims are); this module runs them in order, with the
//! issuer's keys from [`crate::issuer_keys`] and the signature checked by WebCrypto:
//!
//! 1. a token verified lately in this isolate, and not yet expired, is its caller at once;
//! 2. [`read`]: size, shape, algorithm (RS256/ES256 only), no `crit`;
//! 3. the issuer from `iss` (`TRUSTED_ISSUERS`), and the algorithm it allows;
//! 4. the issuer's key for `kid`, and the signature;
//! 5. [`check_claims`]: audience, expiry, lifetime;
//! 6. the one federated caller entry whose bound claims match.
//!
//! Any failure is a 401 (or a 503 when the issuer's keys cannot be had) before any other work.
//! The log gets the caller id, the issuer's name, and the token's `sub` and `jti`; never the token.

use crate::api_error::ApiError;
use crate::context::Ctx;
use crate::isolate::Verified;
use crate::issuer_keys;
use crate::platform::{now_ms, webcrypto};
use ims_core::callers::Caller;
use ims_core::workload_identity::{check_claims, read, JwtError};
use ims_core::IdentityToken;
use serde_json::Value;
use std::rc::Rc;

/// The longest `sub` or `jti` written to the log, in characters.
const MAX_LOGGED: usize = 200;

/// The caller `token` proves to be. `client_id`, when given (`/oauth/token`), must be that
/// caller's id or the token's `sub` ([RFC 7523 §3](https://www.rfc-editor.org/rfc/rfc7523#section-3)).
pub async fn authenticate(
    c: &mut Ctx,
    token: &IdentityToken,
    client_id: Option<&str>,
) -> Result<Rc<Caller>, ApiError> {
    let registry = c.isolate.callers(&c.env)?;
    let digest = ims_core::workload_identity::token_digest(token);
    let now = now_ms();
    let remembered = c
        .isolate
        .verified
        .borrow()
        .get(&digest)
        .filter(|v| now < v.exp_ms)
        .map(Rc::clone);
    let verified = match remembered {
        Some(verified) => verified,
        None => {
            let verified = Rc::new(verify(c, token, &registry, now).await?);
            c.isolate
                .verified
                .borrow_mut()
                .insert(digest, Rc::clone(&verified));
            // A token verified now always gets a log line of its own (never only a summary row).
            c.log.identity_verified = true;
            verified
        }
    };
    let caller = Rc::clone(&verified.caller);
    if let Some(id) = client_id {
        if id != caller.id && Some(id) != verified.sub.as_deref() {
            return Err(ApiError::Unauthenticated);
        }
    }
    c.log.caller = Some(caller.id.clone());
    c.log.issuer = Some(verified.issuer.clone());
    c.log.sub = verified.sub.clone();
    c.log.jti = verified.jti.clone();
    c.caller = Some(Rc::clone(&caller));
    Ok(caller)
}

/// Steps 2 to 6 of the module doc.
async fn verify(
    c: &Ctx,
    token: &IdentityToken,
    registry: &ims_core::callers::CallerRegistry,
    now: u64,
) -> Result<Verified, ApiError> {
    let rejected = ApiError::IdentityRejected;
    let token = read(token.secret()).map_err(rejected)?;
    let iss = token
        .claims
        .get("iss")
        .and_then(Value::as_str)
        .ok_or(rejected(JwtError::WrongIssuer))?;
    let (name, issuer) = registry
        .issuers()
        .by_iss(iss)
        .ok_or(rejected(JwtError::UnknownIssuer))?;
    issuer.check_algorithm(token.header.alg).map_err(rejected)?;
    let jwk = issuer_keys::key_for(c, name, issuer, token.header.kid.as_deref()).await?;
    jwk.check_suits(token.header.alg).map_err(rejected)?;
    let key = webcrypto::import(token.header.alg, &jwk.json)
        .await
        .map_err(|_| rejected(JwtError::KeyMismatch))?;
    let valid = webcrypto::verify(
        token.header.alg,
        &key,
        &token.signature,
        &token.signing_input,
    )
    .await
    .unwrap_or(false);
    if !valid {
        return Err(rejected(JwtError::BadSignature));
    }
    check_claims(&token.claims, issuer, now / 1000).map_err(rejected)?;
    let caller = registry.federated(name, &token.claims).map_err(rejected)?;
    let text = |claim: &str| {
        token
            .claims
            .get(claim)
            .and_then(Value::as_str)
            .map(|s| s.chars().take(MAX_LOGGED).collect::<String>())
    };
    let exp_s = ims_core::workload_identity::expiry_s(&token.claims).unwrap_or(0);
    Ok(Verified {
        caller,
        exp_ms: exp_s.saturating_mul(1000),
        issuer: name.to_owned(),
        sub: text("sub"),
        jti: text("jti"),
    })
}
