//! Operators' endpoints for a credential's client secrets and cached tokens. Admin and viewer
//! callers may read (`GET`); only admins may change anything (rotate, delete):
//!
//! - `GET /v1/credentials/{name}/secrets`: what Adobe holds (uuid, created, last used) and which
//!   one the broker uses; never a value.
//! - `POST /v1/credentials/{name}/secrets/rotate`: starts or resumes the rotation.
//! - `GET /v1/credentials/{name}/rotation`: the current or last rotation.
//! - `DELETE /v1/credentials/{name}/secrets/{uuid}`: deletes a secret at Adobe, refusing (409)
//!   the active one, the only one, and any while a rotation step is running (it holds the
//!   rotation lease for the check and the delete).

use crate::api_error::ApiError;
use crate::auth;
use crate::config::{self, BrokerConfig};
use crate::log::Fields;
use crate::management::Management;
use crate::reply::Reply;
use crate::rotation;
use crate::routes::Ctx;
use crate::secrets;
use crate::tokens;
use ims_core::cache_key::TokenUse;
use ims_core::callers::Caller;
use ims_core::credentials::Credential;
use ims_core::json::{self, Obj};
use ims_core::rotation::{DeleteRefusal, Rotation, Source};
use ims_core::time::rfc3339;
use std::rc::Rc;
use worker::Request;

/// What an endpoint lets its caller do.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Reads: admins and viewers.
    Read,
    /// Changes: admins only.
    Change,
}

/// Authenticates the caller and checks it may have `access`.
fn operator(req: &Request, c: &mut Ctx, access: Access) -> Result<Rc<Caller>, ApiError> {
    let caller = auth::authenticate(&c.env, auth::bearer_key(req))?;
    c.log.caller = Some(caller.id.clone());
    c.caller = Some(caller.clone());
    match access {
        Access::Read if !caller.may_read_operations() => Err(ApiError::OperatorsOnly),
        Access::Change if !caller.may_manage_secrets() => Err(ApiError::AdminOnly),
        _ => Ok(caller),
    }
}

/// Authenticates an operator caller allowed `access` and resolves the credential.
fn admin_credential(
    req: &Request,
    c: &mut Ctx,
    name: &str,
    access: Access,
) -> Result<(Rc<BrokerConfig>, Credential), ApiError> {
    operator(req, c, access)?;
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
    async fn new(req: &Request, c: &mut Ctx, name: &str, access: Access) -> Result<Self, ApiError> {
        let (cfg, cred) = admin_credential(req, c, name, access)?;
        let platform = tokens::platform(&c.env)?;
        let state = secrets::load(&platform, &cred.name).await?;
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

/// The rotation as shown to operators, with `busy` when given (the answer of a rotate call).
/// Keys in serde_json's (sorted) order, as this view was written before.
pub fn rotation_view(r: &Rotation, busy: Option<bool>) -> String {
    let mut view = Obj::new();
    if let Some(busy) = busy {
        view = view.bool("busy", busy);
    }
    let events = r.events.iter().map(|e| {
        Obj::new()
            .str("at", &rfc3339(e.at_ms))
            .opt_str("uuid", e.uuid.as_deref())
            .str("what", &e.what)
            .end()
    });
    let last_error = r.last_error.as_ref().map(|e| {
        Obj::new()
            .str("at", &rfc3339(e.at_ms))
            .str("message", &e.message)
            .str("step", e.step.as_str())
            .end()
    });
    view.raw("events", &json::array(events))
        .opt_str("finished_at", r.finished_at_ms.map(rfc3339).as_deref())
        .str("id", &r.id)
        .bool("in_progress", r.step != ims_core::rotation::Step::Done)
        .opt_raw("last_error", last_error.as_deref())
        .opt_str("retire_after", r.retire_after_ms.map(rfc3339).as_deref())
        .str("started_at", &rfc3339(r.started_at_ms))
        .str("step", r.step.as_str())
        .str("updated_at", &rfc3339(r.updated_at_ms))
        .end()
}

/// `GET /v1/credentials/{name}/secrets`.
pub async fn list(req: Request, c: &mut Ctx, name: &str) -> Result<Reply, ApiError> {
    let admin = Admin::new(&req, c, name, Access::Read).await?;
    let (cred, state) = (&admin.cred, &admin.state);
    let mgmt = admin.management()?;
    let adobe = mgmt.list().await?;
    let active = state.active_uuid(&adobe);
    let items = adobe.iter().map(|s| {
        Obj::new()
            .bool("active", active.as_deref() == Some(s.uuid.as_str()))
            .str("created_at", &rfc3339(s.created_at_ms))
            .opt_str("last_used_at", s.last_used_at_ms.map(rfc3339).as_deref())
            .opt_str("role", state.role(&s.uuid, &adobe))
            .str("uuid", &s.uuid)
            .end()
    });
    let source = match state.active.source {
        Source::Bootstrap => "worker_secret",
        Source::Stored => "kv",
    };
    let body = Obj::new()
        .str("active_source", source)
        .opt_str("active_uuid", active.as_deref())
        .str("credential", &cred.name)
        .raw("secrets", &json::array(items))
        .end();
    Ok(Reply::json(200, body).no_store())
}

/// `POST /v1/credentials/{name}/secrets/rotate`.
pub async fn rotate(req: Request, c: &mut Ctx, name: &str) -> Result<Reply, ApiError> {
    let (cfg, cred) = admin_credential(&req, c, name, Access::Change)?;
    let platform = tokens::platform(&c.env)?;
    let cache = tokens::cache();
    let outcome = rotation::run(&c.env, &platform, &cfg, &cache, &cred, true).await?;
    let Some(r) = outcome.state.rotation.as_ref() else {
        return Err(ApiError::Conflict(
            "another run is starting a rotation of this credential; call again in a moment".into(),
        ));
    };
    let body = rotation_view(r, Some(outcome.busy));
    let status = if r.step == ims_core::rotation::Step::Done {
        200
    } else {
        202
    };
    Ok(Reply::json(status, body).no_store())
}

/// `GET /v1/credentials/{name}/rotation`.
pub async fn status(req: Request, c: &mut Ctx, name: &str) -> Result<Reply, ApiError> {
    let (_, cred) = admin_credential(&req, c, name, Access::Read)?;
    let platform = tokens::platform(&c.env)?;
    let state = secrets::load(&platform, &cred.name).await?;
    let r = state.rotation.as_ref().ok_or(ApiError::NoRotation)?;
    Ok(Reply::json(200, rotation_view(r, None)).no_store())
}

/// `DELETE /v1/credentials/{name}/secrets/{uuid}`.
pub async fn delete(req: Request, c: &mut Ctx, name: &str, uuid: &str) -> Result<Reply, ApiError> {
    let admin = Admin::new(&req, c, name, Access::Change).await?;
    let cred = &admin.cred;
    let mgmt = admin.management()?;
    // Under the rotation lease, on the record as it is then: a rotation cannot promote or test
    // the secret between the check and the delete.
    rotation::exclusive(&c.env, &admin.platform, cred, async |state| {
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
        Fields::new()
            .str("credential", &cred.name)
            .str("uuid", uuid),
        None,
    );
    Ok(Reply::empty(204))
}

/// `GET /v1/credentials` (admin, viewer): every configured credential, usable or not, and who
/// is asking (its id and role, so that the console shows a viewer no buttons it may not use).
/// What is wrong with a misconfigured credential is shown to admins only.
pub async fn credentials(req: Request, c: &mut Ctx) -> Result<Reply, ApiError> {
    let caller = operator(&req, c, Access::Read)?;
    let admin = caller.may_manage_secrets();
    let cfg = config::broker(&c.env)?;
    let items = cfg.credentials.all().map(|(name, cred)| match cred {
        Ok(cred) => Obj::new()
            .str("client_id", &cred.client_id)
            .raw("error", "null")
            .bool(
                "manages_secrets",
                cred.org_id.is_some() && cred.credential_id.is_some(),
            )
            .str("name", name)
            .str("scopes", &cred.default_scopes.to_comma())
            .end(),
        Err(e) => Obj::new()
            .raw("client_id", "null")
            .str(
                "error",
                &if admin {
                    e.to_string()
                } else {
                    "misconfigured (an admin can read which setting)".into()
                },
            )
            .bool("manages_secrets", false)
            .str("name", name)
            .raw("scopes", "null")
            .end(),
    });
    let who = Obj::new()
        .str("id", &caller.id)
        .str("role", caller.role.as_str())
        .end();
    let body = Obj::new()
        .raw("caller", &who)
        .raw("credentials", &json::array(items))
        .end();
    Ok(Reply::json(200, body).no_store())
}

/// `GET /v1/credentials/{name}/tokens` (admin, viewer): the cached token entries in KV, without
/// their tokens: scope set, when minted, when they stop being handed out, the last hit seen by
/// this isolate, and whose they are (`use`: `callers`, or `broker` for the broker's own token for
/// secret management, which no caller ever gets).
pub async fn tokens(req: Request, c: &mut Ctx, name: &str) -> Result<Reply, ApiError> {
    let (_, cred) = admin_credential(&req, c, name, Access::Read)?;
    let platform = tokens::platform(&c.env)?;
    let prefix = format!(
        "{}{}:{}:",
        ims_core::cache_key::TOKEN_KEY_PREFIX,
        cred.name,
        cred.client_id
    );
    let listed = platform
        .kv()
        .list(&prefix, 100)
        .await
        .map_err(|e| ApiError::Storage(e.to_string()))?;
    let now = crate::platform::now_ms();
    let mut entries = Vec::new();
    for key in listed {
        let Some(text) = ims_core::platform::TokenStore::get(&*platform, &key).await else {
            continue;
        };
        let Some(token) = ims_core::policy::CachedToken::from_stored(&text) else {
            continue;
        };
        let last = crate::telemetry::last_hit(&key);
        let freshness = match token.freshness(now) {
            ims_core::policy::Freshness::Fresh => "fresh",
            ims_core::policy::Freshness::Stale => "stale",
            ims_core::policy::Freshness::Unusable => "unusable",
        };
        // Keys in serde_json's (sorted) order, as these entries were written before.
        entries.push(
            Obj::new()
                .str("expires_at", &rfc3339(token.expires_at_ms))
                .u64("expires_in", token.caller_expires_in_s(now))
                .str("freshness", freshness)
                .str("key", &key)
                .opt_str("last_hit", last.map(|(outcome, _)| outcome))
                .opt_str("last_hit_at", last.map(|(_, at)| rfc3339(at)).as_deref())
                .u64("lifetime_s", token.lifetime_ms() / 1000)
                .str("refresh_at", &rfc3339(token.refresh_at_ms()))
                .str("refreshed_at", &rfc3339(token.sent_at_ms))
                .u64("refreshed_at_ms", token.sent_at_ms)
                .str("scope", &token.scope)
                .str("usable_until", &rfc3339(token.usable_until_ms()))
                .u64("usable_until_ms", token.usable_until_ms())
                .str(
                    "use",
                    match ims_core::cache_key::use_of(&key) {
                        TokenUse::Callers => "callers",
                        TokenUse::Broker => "broker",
                    },
                )
                .end(),
        );
    }
    let body = Obj::new()
        .str("credential", &cred.name)
        .raw("entries", &json::array(entries))
        .str("now", &rfc3339(now))
        .u64("now_ms", now)
        .end();
    Ok(Reply::json(200, body).no_store())
}
