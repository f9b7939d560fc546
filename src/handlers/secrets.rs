//! Admin endpoints for a credential's client secrets:
//!
//! - `GET /v1/credentials/{name}/secrets`: what Adobe holds (uuid, created, last used) and which
//!   one the broker uses; never a value.
//! - `POST /v1/credentials/{name}/secrets/rotate`: starts or resumes the rotation.
//! - `GET /v1/credentials/{name}/rotation`: the current or last rotation.
//! - `DELETE /v1/credentials/{name}/secrets/{uuid}`: deletes a secret at Adobe, refusing (409)
//!   the active one and the only one.

use crate::api_error::{json_response, ApiError};
use crate::auth;
use crate::config::{self, BrokerConfig};
use crate::management::Management;
use crate::rotation;
use crate::routes::Ctx;
use crate::secrets;
use crate::tokens;
use ims_core::credentials::Credential;
use ims_core::rotation::{CredentialState, DeleteRefusal, Rotation, Source};
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

fn management_secrets(
    c: &Ctx,
    keys: &ims_core::envelope::StoreKeys,
    cred: &Credential,
    state: &CredentialState,
) -> Vec<ims_core::ClientSecret> {
    [Some(&state.active), state.previous.as_ref()]
        .into_iter()
        .flatten()
        .filter_map(|slot| secrets::open_slot(&c.env, keys, cred, slot).ok())
        .collect()
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
    let (cfg, cred) = admin_credential(&req, c, name)?;
    let platform = tokens::platform(&c.env)?;
    let state = secrets::load(platform.kv(), &cred.name).await?;
    let cache = tokens::cache();
    let known = management_secrets(c, platform.keys(), &cred, &state);
    let mgmt = Management::new(&platform, &cfg, &cache, &cred, known)?;
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
        return Err(ApiError::Storage("the rotation was not recorded".into()));
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
    let (cfg, cred) = admin_credential(&req, c, name)?;
    let platform = tokens::platform(&c.env)?;
    let state = secrets::load(platform.kv(), &cred.name).await?;
    let cache = tokens::cache();
    let known = management_secrets(c, platform.keys(), &cred, &state);
    let mgmt = Management::new(&platform, &cfg, &cache, &cred, known)?;
    let adobe = mgmt.list().await?;
    state
        .may_delete(uuid, &adobe)
        .map_err(|refusal| match refusal {
            DeleteRefusal::Unknown(u) => ApiError::UnknownSecret(u),
            other => ApiError::Conflict(other.to_string()),
        })?;
    mgmt.delete(uuid).await?;
    crate::log::event(
        "secret_deleted",
        json!({"credential": cred.name, "uuid": uuid}),
        None,
    );
    Ok(Response::builder().with_status(204).fixed(Vec::new()))
}
