//! Operators' endpoints for a credential's client secrets and cached tokens. Admin and viewer
//! callers may read (`GET`); only admins may change anything (rotate, delete):
//!
//! - `GET /v1/credentials/{name}/secrets`: what Adobe holds (uuid, created, last used) and which
//!   one the broker uses; never a value.
//! - `POST /v1/credentials/{name}/secrets/rotate`: starts or resumes the rotation.
//! - `GET /v1/credentials/{name}/rotation`: the current or last rotation.
//! - `DELETE /v1/credentials/{name}/secrets/{uuid}`: deletes a secret at Adobe, refusing (409)
//!   the active one, the pending one, the only one, and any while a rotation run is at work.
//!
//! The caller is checked here; everything about the credential's secrets is then asked of the
//! credential's Durable Object (`crate::credential_client`), which holds the one record and
//! runs every change, so an operator never sees a stale copy.

use crate::api_error::ApiError;
use crate::auth;
use crate::config::BrokerConfig;
use crate::context::Ctx;
use crate::credential_client::CredentialObjects;
use crate::reply::Reply;
use crate::request::Request;
use crate::runtime::WorkerPlatform;
use ims_core::cache_key::TokenUse;
use ims_core::callers::Caller;
use ims_core::credentials::Credential;
use ims_core::policy::Freshness;
use ims_core::rotation::{Rotation, Source, Step};
use ims_core::time::rfc3339;
use serde::Serialize;
use std::rc::Rc;

/// What an endpoint lets its caller do.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Reads: admins and viewers.
    Read,
    /// Changes: admins only.
    Change,
}

/// Authenticates the caller and checks it may have `access`.
async fn operator(req: &Request, c: &mut Ctx, access: Access) -> Result<Rc<Caller>, ApiError> {
    let caller = auth::caller_of(c, req).await?;
    match access {
        Access::Read if !caller.may_read_operations() => Err(ApiError::OperatorsOnly),
        Access::Change if !caller.may_manage_secrets() => Err(ApiError::AdminOnly),
        _ => Ok(caller),
    }
}

/// Authenticates an operator caller allowed `access` and resolves the credential.
async fn admin_credential(
    req: &Request,
    c: &mut Ctx,
    name: &str,
    access: Access,
) -> Result<(Rc<BrokerConfig>, Credential), ApiError> {
    operator(req, c, access).await?;
    c.log.credential = Some(name.to_owned());
    let cfg = c.isolate.config(&c.env)?;
    let cred = cfg.credential(name)?.clone();
    Ok((cfg, cred))
}

/// The credentials' objects; without the binding, every secrets call is unavailable.
fn objects(c: &Ctx) -> Result<CredentialObjects, ApiError> {
    CredentialObjects::of(&c.env).ok_or_else(|| {
        ApiError::Misconfigured(ims_core::ConfigError::Missing {
            setting: format!(
                "Durable Object binding {}",
                crate::credential_client::BINDING
            ),
        })
    })
}

/// A rotation as shown to operators. Members in alphabetical order, as operators have always
/// received them; times in RFC 3339.
#[derive(Serialize)]
pub struct RotationView<'a> {
    /// Only in the answer of a rotate call: true when another run was already at work.
    #[serde(skip_serializing_if = "Option::is_none")]
    busy: Option<bool>,
    events: Vec<RotationEventView<'a>>,
    finished_at: Option<String>,
    id: &'a str,
    in_progress: bool,
    last_error: Option<RotationErrorView<'a>>,
    retire_after: Option<String>,
    started_at: String,
    step: &'static str,
    updated_at: String,
}

/// One step of a rotation's history.
#[derive(Serialize)]
struct RotationEventView<'a> {
    at: String,
    uuid: Option<&'a str>,
    what: &'a str,
}

/// The last error of a rotation.
#[derive(Serialize)]
struct RotationErrorView<'a> {
    at: String,
    message: &'a str,
    step: &'static str,
}

impl<'a> RotationView<'a> {
    /// The view of `r`, with `busy` when given (the answer of a rotate call).
    pub fn of(r: &'a Rotation, busy: Option<bool>) -> Self {
        Self {
            busy,
            events: r
                .events
                .iter()
                .map(|e| RotationEventView {
                    at: rfc3339(e.at_ms),
                    uuid: e.uuid.as_deref(),
                    what: &e.what,
                })
                .collect(),
            finished_at: r.finished_at_ms.map(rfc3339),
            id: &r.id,
            in_progress: r.step != Step::Done,
            last_error: r.last_error.as_ref().map(|e| RotationErrorView {
                at: rfc3339(e.at_ms),
                message: &e.message,
                step: e.step.as_str(),
            }),
            retire_after: r.retire_after_ms.map(rfc3339),
            started_at: rfc3339(r.started_at_ms),
            step: r.step.as_str(),
            updated_at: rfc3339(r.updated_at_ms),
        }
    }
}

/// The answer of `GET /v1/credentials/{name}/secrets`.
#[derive(Serialize)]
struct SecretsView<'a> {
    /// `worker_secret` (the bootstrap secret) or `kv` (a rotated, stored one).
    active_source: &'static str,
    active_uuid: Option<&'a str>,
    credential: &'a str,
    secrets: Vec<SecretView<'a>>,
}

/// One secret Adobe holds; never its value.
#[derive(Serialize)]
struct SecretView<'a> {
    active: bool,
    created_at: String,
    last_used_at: Option<String>,
    role: Option<&'static str>,
    uuid: &'a str,
}

/// `GET /v1/credentials/{name}/secrets`.
pub async fn list(req: &Request, c: &mut Ctx, name: &str) -> Result<Reply, ApiError> {
    let (_, cred) = admin_credential(req, c, name, Access::Read).await?;
    let answer = objects(c)?.secrets(&cred.name).await?;
    let (state, adobe) = (&answer.record, &answer.adobe);
    let active = state.active_uuid(adobe);
    let view = SecretsView {
        active_source: match state.active.source {
            Source::Bootstrap => "worker_secret",
            Source::Stored => "kv",
        },
        active_uuid: active.as_deref(),
        credential: &cred.name,
        secrets: adobe
            .iter()
            .map(|s| SecretView {
                active: active.as_deref() == Some(s.uuid.as_str()),
                created_at: rfc3339(s.created_at_ms),
                last_used_at: s.last_used_at_ms.map(rfc3339),
                role: state.role(&s.uuid, adobe),
                uuid: &s.uuid,
            })
            .collect(),
    };
    Ok(Reply::json(200, &view).no_store())
}

/// `POST /v1/credentials/{name}/secrets/rotate`.
pub async fn rotate(req: &Request, c: &mut Ctx, name: &str) -> Result<Reply, ApiError> {
    let (_, cred) = admin_credential(req, c, name, Access::Change).await?;
    let answer = objects(c)?.rotate(&cred.name).await?;
    let Some(r) = answer.record.rotation.as_ref() else {
        return Err(ApiError::Conflict(
            "another run is starting a rotation of this credential; call again in a moment".into(),
        ));
    };
    let status = if r.step == Step::Done { 200 } else { 202 };
    Ok(Reply::json(status, &RotationView::of(r, Some(answer.busy))).no_store())
}

/// `GET /v1/credentials/{name}/rotation`.
pub async fn status(req: &Request, c: &mut Ctx, name: &str) -> Result<Reply, ApiError> {
    let (_, cred) = admin_credential(req, c, name, Access::Read).await?;
    let state = objects(c)?.record(&cred.name).await?;
    let r = state.rotation.as_ref().ok_or(ApiError::NoRotation)?;
    Ok(Reply::json(200, &RotationView::of(r, None)).no_store())
}

/// `DELETE /v1/credentials/{name}/secrets/{uuid}`.
pub async fn delete(req: &Request, c: &mut Ctx, name: &str, uuid: &str) -> Result<Reply, ApiError> {
    let (_, cred) = admin_credential(req, c, name, Access::Change).await?;
    objects(c)?.delete(&cred.name, uuid).await?;
    Ok(Reply::empty(204))
}

/// `GET /v1/credentials` (admin, viewer): every configured credential, usable or not, and who
/// is asking (its id and role, so that the console shows a viewer no buttons it may not use).
/// What is wrong with a misconfigured credential is shown to admins only.
pub async fn credentials(req: &Request, c: &mut Ctx) -> Result<Reply, ApiError> {
    let caller = operator(req, c, Access::Read).await?;
    let admin = caller.may_manage_secrets();
    let cfg = c.isolate.config(&c.env)?;
    let credentials = cfg
        .credentials
        .all()
        .map(|(name, cred)| match cred {
            Ok(cred) => CredentialView {
                client_id: Some(&cred.client_id),
                error: None,
                manages_secrets: cred.org_id.is_some() && cred.credential_id.is_some(),
                name,
                scopes: Some(cred.default_scopes.to_comma()),
            },
            Err(e) => CredentialView {
                client_id: None,
                error: Some(if admin {
                    e.to_string()
                } else {
                    "misconfigured (an admin can read which setting)".into()
                }),
                manages_secrets: false,
                name,
                scopes: None,
            },
        })
        .collect();
    let view = CredentialsView {
        caller: CallerView {
            id: &caller.id,
            role: caller.role.as_str(),
        },
        credentials,
    };
    Ok(Reply::json(200, &view).no_store())
}

/// The answer of `GET /v1/credentials`.
#[derive(Serialize)]
struct CredentialsView<'a> {
    caller: CallerView<'a>,
    credentials: Vec<CredentialView<'a>>,
}

/// Who is asking.
#[derive(Serialize)]
struct CallerView<'a> {
    id: &'a str,
    role: &'static str,
}

/// One configured credential: usable (`error` null) or not (`client_id`, `scopes` null).
#[derive(Serialize)]
struct CredentialView<'a> {
    client_id: Option<&'a str>,
    error: Option<String>,
    manages_secrets: bool,
    name: &'a str,
    scopes: Option<String>,
}

/// The answer of `GET /v1/credentials/{name}/tokens`.
#[derive(Serialize)]
struct TokensView<'a> {
    credential: &'a str,
    entries: Vec<TokenEntryView>,
    now: String,
    now_ms: u64,
}

/// One cached token entry, without its token.
#[derive(Serialize)]
struct TokenEntryView {
    expires_at: String,
    expires_in: u64,
    freshness: &'static str,
    key: String,
    last_hit: Option<&'static str>,
    last_hit_at: Option<String>,
    lifetime_s: u64,
    refresh_at: String,
    refreshed_at: String,
    refreshed_at_ms: u64,
    scope: String,
    usable_until: String,
    usable_until_ms: u64,
    /// `callers`, or `broker` for the broker's own token for secret management.
    #[serde(rename = "use")]
    use_: &'static str,
}

/// `GET /v1/credentials/{name}/tokens` (admin, viewer): the cached token entries in KV, without
/// their tokens: scope set, when minted, when they stop being handed out, the last hit seen by
/// this isolate, and whose they are (`use`: `callers`, or `broker` for the broker's own token for
/// secret management, which no caller ever gets).
pub async fn tokens(req: &Request, c: &mut Ctx, name: &str) -> Result<Reply, ApiError> {
    let (_, cred) = admin_credential(req, c, name, Access::Read).await?;
    let platform = WorkerPlatform::of(&c.isolate, &c.env)?;
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
        let Some(text) = ims_core::platform::TokenStore::get(&platform, &key).await else {
            continue;
        };
        let Some(token) = ims_core::policy::CachedToken::from_stored(&text) else {
            continue;
        };
        let last = crate::telemetry::last_hit(&c.isolate, &key);
        entries.push(TokenEntryView {
            expires_at: rfc3339(token.expires_at_ms),
            expires_in: token.caller_expires_in_s(now),
            freshness: match token.freshness(now) {
                Freshness::Fresh => "fresh",
                Freshness::Stale => "stale",
                Freshness::Unusable => "unusable",
            },
            last_hit: last.map(|(outcome, _)| outcome),
            last_hit_at: last.map(|(_, at)| rfc3339(at)),
            lifetime_s: token.lifetime_ms() / 1000,
            refresh_at: rfc3339(token.refresh_at_ms()),
            refreshed_at: rfc3339(token.sent_at_ms),
            refreshed_at_ms: token.sent_at_ms,
            scope: token.scope.clone(),
            usable_until: rfc3339(token.usable_until_ms()),
            usable_until_ms: token.usable_until_ms(),
            use_: match ims_core::cache_key::use_of(&key) {
                TokenUse::Callers => "callers",
                TokenUse::Broker => "broker",
            },
            key,
        });
    }
    let view = TokensView {
        credential: &cred.name,
        entries,
        now: rfc3339(now),
        now_ms: now,
    };
    Ok(Reply::json(200, &view).no_store())
}
