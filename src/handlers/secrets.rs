//! Admin endpoints for a credential's client secrets:
//!
//! - `GET /v1/credentials/{name}/secrets`: what Adobe holds (uuid, created, last used) and which
//!   one the broker uses; never a value.
//! - `POST /v1/credentials/{name}/secrets/rotate`: starts or resumes the rotation.
//! - `GET /v1/credentials/{name}/rotation`: the current or last rotation.
//! - `DELETE /v1/credentials/{name}/secrets/{uuid}`: deletes a secret at Adobe, refusing (409)
//!   the active one, the only one, and any while a rotation step is running (it holds the
//!   rotation lease for the check and the delete).

use crate::api_error::{json_response, ApiError};
use crate::auth;
use crate::config::{self, BrokerConfig};
use crate::management::Management;
use crate::rotation;
use crate::routes::Ctx;
use crate::secrets;
use crate::tokens;
use ims_core::credentials::Credential;
use ims_core::rotation::{DeleteRefusal, Rotation, Source};
use ims_core::time::rfc3339;
use serde_json::{json, Value};
use std::rc::Rc;
use worker::{Request, Response};

/// Authenticates an admin caller and resolves the credential.
fn admin_credential(
    req: &Request,
    c: &mut Ctx,
    name: &str,
) -> Result<(Rc<BrokerConfig>, Credential), ApiError> {
    let caller = auth::authenticate(&c.env, auth::bearer_key(req))?;
    c.log.caller = Some(caller.id.clone());
    if !caller.admin {
        return Err(ApiError::AdminOnly);
    }
    c.log.credential = Some(name.to_owned());
    let cfg = config::broker(&c.env)?;
    let cred = match cfg.credentials.get(name) {
        None => return Err(ApiError::UnknownCredential(name.to_owned())),
        Some(Err(e)) => return Err(e.clone().into()),
        Some(Ok(cred)) => cred.clone(),
    };
    Ok((cfg, cred))
}

/// What the secret endpoints work with: an admin caller's credential, its secrets record, and
/// the means to call the I/O Management API for it.
struct Admin {
    cfg: Rc<BrokerConfig>,
    cred: Credential,
    platform: Rc<crate::platform::WorkerPlatform>,
    cache: Rc<ims_core::TokenCache>,
    state: ims_core::rotation::CredentialState,
    known: Vec<ims_core::ClientSecret>,
}

impl Admin {
    async fn new(req: &Request, c: &mut Ctx, name: &str) -> Result<Self, ApiError> {
        let (cfg, cred) = admin_credential(req, c, name)?;
        let platform = tokens::platform(&c.env)?;
        let state = secrets::load(platform.kv(), &cred.name).await?;
        let known = secrets::known(&c.env, platform.keys(), &cred, &state)?;
        Ok(Self {
            cfg,
            cred,
            platform,
            cache: tokens::cache(),
            state,
            known,
        })
    }

    fn management(&self) -> Result<Management<'_>, ApiError> {
        Management::new(
            &self.platform,
            &self.cfg,
            &self.cache,
            &self.cred,
            self.known.clone(),
        )
    }
}

/// The rotation as shown to operators.
pub fn rotation_view(r: &Rotation) -> Value {
    json!({
        "id": r.id,
        "step": r.step.as_str(),
        "in_progress": r.step != ims_core::rotation::Step::Done,
        "started_at": rfc3339(r.started_at_ms),
        "updated_at": rfc3339(r.updated_at_ms),
        "finished_at": r.finished_at_ms.map(rfc3339),
        "retire_after": r.retire_after_ms.map(rfc3339),
        "last_error": r.last_error.as_ref().map(|e| json!({
            "at": rfc3339(e.at_ms), "step": e.step.as_str(), "message": e.message,
        })),
        "events": r.events.iter().map(|e| json!({
            "at": rfc3339(e.at_ms), "what": e.what, "uuid": e.uuid,
        })).collect::<Vec<_>>(),
    })
}

/// `GET /v1/credentials/{name}/secrets`.
pub async fn list(req: Request, c: &mut Ctx, name: &str) -> Result<Response, ApiError> {
    let admin = Admin::new(&req, c, name).await?;
    let (cred, state) = (&admin.cred, &admin.state);
    let mgmt = admin.management()?;
    let adobe = mgmt.list().await?;
    let active = state.active_uuid(&adobe);
    let items: Vec<Value> = adobe
        .iter()
        .map(|s| {
            json!({
                "uuid": s.uuid,
                "created_at": rfc3339(s.created_at_ms),
                "last_used_at": s.last_used_at_ms.map(rfc3339),
                "active": active.as_deref() == Some(s.uuid.as_str()),
                "role": state.role(&s.uuid, &adobe),
            })
        })
        .collect();
    let body = json!({
        "credential": cred.name,
        "active_uuid": active,
        "active_source": match state.active.source { Source::Bootstrap => "worker_secret", Source::Stored => "kv" },
        "secrets": items,
    });
    Ok(json_response(
        200,
        &body,
        &[("cache-control", "no-store".into())],
    ))
}

/// `POST /v1/credentials/{name}/secrets/rotate`.
pub async fn rotate(req: Request, c: &mut Ctx, name: &str) -> Result<Response, ApiError> {
    let (cfg, cred) = admin_credential(&req, c, name)?;
    let platform = tokens::platform(&c.env)?;
    let cache = tokens::cache();
    let outcome = rotation::run(&c.env, &platform, &cfg, &cache, &cred, true).await?;
    let Some(r) = outcome.state.rotation.as_ref() else {
        return Err(ApiError::Conflict(
            "another run is starting a rotation of this credential; call again in a moment".into(),
        ));
    };
    let mut body = rotation_view(r);
    body["busy"] = outcome.busy.into();
    let status = if r.step == ims_core::rotation::Step::Done {
        200
    } else {
        202
    };
    Ok(json_response(
        status,
        &body,
        &[("cache-control", "no-store".into())],
    ))
}

/// `GET /v1/credentials/{name}/rotation`.
pub async fn status(req: Request, c: &mut Ctx, name: &str) -> Result<Response, ApiError> {
    let (_, cred) = admin_credential(&req, c, name)?;
    let platform = tokens::platform(&c.env)?;
    let state = secrets::load(platform.kv(), &cred.name).await?;
    let r = state.rotation.as_ref().ok_or(ApiError::NoRotation)?;
    Ok(json_response(
        200,
        &rotation_view(r),
        &[("cache-control", "no-store".into())],
    ))
}

/// `DELETE /v1/credentials/{name}/secrets/{uuid}`.
pub async fn delete(
    req: Request,
    c: &mut Ctx,
    name: &str,
    uuid: &str,
) -> Result<Response, ApiError> {
    let admin = Admin::new(&req, c, name).await?;
    let cred = &admin.cred;
    let mgmt = admin.management()?;
    // Under the rotation lease, on the record as it is then: a rotation cannot promote or test
    // the secret between the check and the delete.
    rotation::exclusive(&c.env, admin.platform.kv(), cred, async |state| {
        let adobe = mgmt.list().await?;
        state
            .may_delete(uuid, &adobe)
            .map_err(|refusal| match refusal {
                DeleteRefusal::Unknown(u) => ApiError::UnknownSecret(u),
                other => ApiError::Conflict(other.to_string()),
            })?;
        mgmt.delete(uuid).await
    })
    .await?;
    crate::log::event(
        "secret_deleted",
        json!({"credential": cred.name, "uuid": uuid}),
        None,
    );
    Ok(Response::builder().with_status(204).fixed(Vec::new()))
}

/// `GET /v1/credentials` (admin): every configured credential, usable or not.
pub async fn credentials(req: Request, c: &mut Ctx) -> Result<Response, ApiError> {
    let caller = auth::authenticate(&c.env, auth::bearer_key(&req))?;
    c.log.caller = Some(caller.id.clone());
    if !caller.admin {
        return Err(ApiError::AdminOnly);
    }
    let cfg = config::broker(&c.env)?;
    let items: Vec<Value> = cfg
        .credentials
        .all()
        .map(|(name, cred)| match cred {
            Ok(cred) => json!({
                "name": name, "client_id": cred.client_id, "scopes": cred.default_scopes.to_comma(),
                "manages_secrets": cred.org_id.is_some() && cred.credential_id.is_some(), "error": null,
            }),
            Err(e) => json!({"name": name, "client_id": null, "scopes": null, "manages_secrets": false,
                              "error": e.to_string()}),
        })
        .collect();
    Ok(json_response(
        200,
        &json!({"credentials": items}),
        &[("cache-control", "no-store".into())],
    ))
}

/// `GET /v1/credentials/{name}/tokens` (admin): the cached token entries in KV, without their
/// tokens: scope set, when minted, when they stop being handed out, and the last hit seen by
/// this isolate.
pub async fn tokens(req: Request, c: &mut Ctx, name: &str) -> Result<Response, ApiError> {
    let (_, cred) = admin_credential(&req, c, name)?;
    let platform = tokens::platform(&c.env)?;
    let prefix = format!(
        "{}{}:{}:",
        ims_core::cache_key::TOKEN_KEY_PREFIX,
        cred.name,
        cred.client_id
    );
    let listed = platform
        .kv()
        .list()
        .prefix(prefix)
        .limit(100)
        .execute()
        .await
        .map_err(|e| ApiError::Storage(e.to_string()))?;
    let now = crate::platform::now_ms();
    let mut entries = Vec::new();
    for key in listed.keys {
        let Some(text) = ims_core::platform::TokenStore::get(&*platform, &key.name).await else {
            continue;
        };
        let Some(token) = ims_core::policy::CachedToken::from_stored(&text) else {
            continue;
        };
        let last = crate::telemetry::last_hit(&key.name);
        entries.push(json!({
            "key": key.name,
            "scope": token.scope,
            "refreshed_at": rfc3339(token.sent_at_ms),
            "refresh_at": rfc3339(token.refresh_at_ms()),
            "usable_until": rfc3339(token.usable_until_ms()),
            "expires_at": rfc3339(token.expires_at_ms),
            "refreshed_at_ms": token.sent_at_ms,
            "usable_until_ms": token.usable_until_ms(),
            "lifetime_s": token.lifetime_ms() / 1000,
            "expires_in": token.caller_expires_in_s(now),
            "freshness": match token.freshness(now) {
                ims_core::policy::Freshness::Fresh => "fresh",
                ims_core::policy::Freshness::Stale => "stale",
                ims_core::policy::Freshness::Unusable => "unusable",
            },
            "last_hit": last.map(|(outcome, _)| outcome),
            "last_hit_at": last.map(|(_, at)| rfc3339(at)),
        }));
    }
    let body =
        json!({"credential": cred.name, "now": rfc3339(now), "now_ms": now, "entries": entries});
    Ok(json_response(
        200,
        &body,
        &[("cache-control", "no-store".into())],
    ))
}
