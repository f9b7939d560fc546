//! Runs the rotation state machine of `ims-core` against Adobe and KV: one step at a time, each
//! step's effect recorded with one write of the credential's record, under a lease.
//!
//! The lease (`lease:<credential>` in KV, owner and expiry, [`LEASE_MS`] unless
//! `ROTATION_LEASE_S` says otherwise) is taken before the first step and re-checked and renewed
//! before every step, so two concurrent rotate calls do not both proceed. KV gives no
//! compare-and-swap: two isolates writing the lease in the same instant can both believe they
//! hold it until their next re-check; one isolate never runs two rotations of a credential at
//! once (an in-isolate guard).
//!
//! `ROTATION_TEST_CRASH` (tests only) names a point (`after:add`, `after:test`, …) where the run
//! stops as if the Worker died there: the external effect happened, the record was not written,
//! the lease is left to expire.

use crate::api_error::ApiError;
use crate::config::{self, BrokerConfig};
use crate::log::Fields;
use crate::management::Management;
use crate::platform::kv::Kv;
use crate::runtime::WorkerPlatform;
use crate::secrets;
use ims_core::cache::{mint_with, TokenSpec};
use ims_core::credentials::Credential;
use ims_core::record_json::from_object;
use ims_core::rotation::{identify_by_usage, Action, CredentialState};
use ims_core::TokenCache;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use worker::{Delay, Env};

/// Default lease length, ms.
pub const LEASE_MS: u64 = 60_000;
/// Most steps one run takes (a full rotation needs at most 7).
const MAX_STEPS: usize = 12;

/// This isolate's mark that a credential is being rotated; removed when dropped, so a run whose
/// request is cancelled mid-way does not leave the credential marked for the isolate's life.
struct Running(String);

impl Running {
    fn take(credential: &str) -> Option<Self> {
        crate::isolate::Isolate::current()
            .rotating
            .borrow_mut()
            .insert(credential.to_owned())
            .then(|| Self(credential.to_owned()))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        crate::isolate::Isolate::current()
            .rotating
            .borrow_mut()
            .remove(&self.0);
    }
}

/// The lease record in KV: `{"owner":"…","expires_at_ms":…}`; read with both fields required,
/// each once, others skipped.
#[derive(Serialize, Deserialize)]
struct Lease {
    owner: String,
    expires_at_ms: u64,
}

impl Lease {
    fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    fn from_json(text: &str) -> Option<Self> {
        from_object(text.as_bytes())
    }
}

fn now() -> u64 {
    crate::platform::now_ms()
}

fn lease_key(credential: &str) -> String {
    format!("lease:{credential}")
}

/// What a run did.
pub struct RunOutcome {
    /// The record after the run.
    pub state: CredentialState,
    /// True when another run holds the lease: this one did nothing.
    pub busy: bool,
}

/// The rotation lease of one credential, as one holder sees it.
struct LeaseHolder<'a> {
    kv: &'a Kv,
    key: String,
    owner: String,
    ms: u64,
}

impl<'a> LeaseHolder<'a> {
    fn new(env: &Env, kv: &'a Kv, credential: &str) -> Self {
        let ms = config::var(env, "ROTATION_LEASE_S")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(LEASE_MS, |s| s * 1000);
        Self {
            kv,
            key: lease_key(credential),
            owner: crate::random::id(),
            ms,
        }
    }

    async fn read(&self) -> Option<Lease> {
        let text = self.kv.get(&self.key).await.ok()??;
        Lease::from_json(&text)
    }

    async fn write(&self) -> Result<(), ApiError> {
        let lease = Lease {
            owner: self.owner.clone(),
            expires_at_ms: now() + self.ms,
        };
        let text = lease.to_json();
        self.kv
            .put(&self.key, &text, Some(self.ms.div_ceil(1000).max(65)))
            .await
            .map_err(|e| ApiError::Storage(format!("writing the rotation lease: {e}")))
    }

    /// Takes the lease if it is free or ours; then reads it back after a short pause to see
    /// whether a concurrent writer won.
    async fn acquire(&self) -> Result<bool, ApiError> {
        if let Some(l) = self.read().await {
            if l.owner != self.owner && l.expires_at_ms > now() {
                return Ok(false);
            }
        }
        // A failed write (KV refusing concurrent writers) means someone else is writing: busy.
        if self.write().await.is_err() {
            return Ok(false);
        }
        Delay::from(Duration::from_millis(50)).await;
        Ok(self.read().await.is_some_and(|l| l.owner == self.owner))
    }

    /// Re-checks and renews the lease before a step.
    async fn still_ours(&self) -> Result<bool, ApiError> {
        match self.read().await {
            Some(l) if l.owner == self.owner => Ok(self.write().await.is_ok()),
            _ => Ok(false),
        }
    }

    async fn release(&self) {
        if self.read().await.is_some_and(|l| l.owner == self.owner) {
            let _ = self.kv.delete(&self.key).await;
        }
    }
}

struct Runner<'a> {
    env: &'a Env,
    cfg: &'a BrokerConfig,
    cred: &'a Credential,
    platform: &'a WorkerPlatform,
    cache: &'a TokenCache,
    lease: LeaseHolder<'a>,
}

impl Runner<'_> {
    fn crash_point(&self, point: &str) -> Result<(), ApiError> {
        if config::var(self.env, "ROTATION_TEST_CRASH").as_deref() == Some(point) {
            return Err(ApiError::SimulatedCrash(point.to_owned()));
        }
        Ok(())
    }

    async fn save(&self, state: &CredentialState) -> Result<(), ApiError> {
        secrets::save(self.platform, &self.cred.name, state).await
    }

    fn management(&self, state: &CredentialState) -> Result<Management<'_>, ApiError> {
        let known = secrets::known(self.env, self.platform.keys(), self.cred, state)?;
        Management::new(self.platform, self.cfg, self.cache, self.cred, known)
    }

    /// Mints with one secret, bypassing the cache (test step, probe).
    async fn mint_with_slot(&self, state: &CredentialState, pending: bool) -> Result<(), ApiError> {
        let slot = if pending {
            state.pending.as_ref().unwrap_or(&state.active)
        } else {
            &state.active
        };
        let secret = secrets::open_slot(self.env, self.platform.keys(), self.cred, slot)?;
        let spec = TokenSpec::new(
            &self.cred.name,
            &self.cred.client_id,
            vec![secret.clone()],
            self.cred.default_scopes.clone(),
            &self.cfg.token_url,
        );
        let scope = if pending {
            "rotation test"
        } else {
            "rotation probe"
        };
        match mint_with(self.platform, &self.cfg.settings, &spec, &secret).await {
            Ok((_, call)) => {
                crate::telemetry::upstream(&self.cred.name, Some(scope), &call, None);
                Ok(())
            }
            Err(f) => {
                if let Some(call) = &f.upstream {
                    crate::telemetry::upstream(
                        &self.cred.name,
                        Some(scope),
                        call,
                        Some(f.error.code()),
                    );
                }
                Err(ApiError::Upstream(f.error))
            }
        }
    }

    /// One step. `Ok(false)`: nothing more to do in this run.
    async fn step(&self, state: &mut CredentialState) -> Result<bool, ApiError> {
        let mgmt = self.management(state)?;
        let adobe = mgmt.list().await?;
        let action = state
            .plan(&adobe, now())
            .map_err(|e| ApiError::Conflict(e.to_string()))?;
        match action {
            Action::Identify(uuid) => {
                state.identified(&uuid, now());
                self.save(state).await?;
            }
            Action::Probe => {
                let probe = now();
                self.mint_with_slot(state, false).await?;
                let listed = mgmt.list().await?;
                let uuid = identify_by_usage(&listed, probe).ok_or_else(|| {
                    ApiError::Conflict(ims_core::rotation::PlanError::Ambiguous.to_string())
                })?;
                state.identified(&uuid, now());
                self.save(state).await?;
            }
            Action::DeleteUnused(uuid) => {
                mgmt.delete(&uuid).await?;
                self.crash_point("after:delete_unused")?;
                state.deleted_unused(&uuid, now());
                self.save(state).await?;
            }
            Action::Add => {
                state.adding(now());
                self.save(state).await?;
                let new = mgmt.add().await?;
                self.crash_point("after:add")?;
                let sealed = secrets::seal(
                    self.platform.keys(),
                    &self.cred.name,
                    &new.uuid,
                    &new.client_secret,
                );
                state.added(&new.uuid, sealed, new.created_at_ms, now());
                let stored = match self.crash_point("store:pending") {
                    Ok(()) => self.save(state).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = stored {
                    // The plaintext exists only here: without a stored copy the secret is useless,
                    // so it must not stay at Adobe.
                    let undo = mgmt.delete(&new.uuid).await;
                    crate::log::event(
                        "rotation_pending_store_failed",
                        Fields::new()
                            .str("level", "error")
                            .str("credential", &self.cred.name)
                            .str("uuid", &new.uuid)
                            .bool("deleted_again", undo.is_ok())
                            .str("error", &e.to_string()),
                        None,
                    );
                    return Err(e);
                }
                self.crash_point("after:store_pending")?;
            }
            Action::Test => {
                self.mint_with_slot(state, true).await?;
                self.crash_point("after:test")?;
                state.tested(now());
                self.save(state).await?;
            }
            Action::Promote => {
                state.promote(now(), self.cfg.rotation_grace_ms);
                self.save(state).await?;
                self.crash_point("after:promote")?;
            }
            Action::WaitUntil(_) | Action::Done => return Ok(false),
            Action::Retire(uuid) => {
                mgmt.delete(&uuid).await?;
                self.crash_point("after:retire_delete")?;
                state.retired(now());
                self.save(state).await?;
            }
            Action::Skip => {
                state.skip(now());
                self.save(state).await?;
            }
        }
        if let Some(r) = state.rotation.as_ref() {
            crate::telemetry::rotation(&self.cred.name, &format!("{} → {}", r.id, r.step.as_str()));
        }
        crate::log::event(
            "rotation_step",
            Fields::new()
                .str("credential", &self.cred.name)
                .opt_str("rotation", state.rotation.as_ref().map(|r| r.id.as_str()))
                .opt_str("next", state.rotation.as_ref().map(|r| r.step.as_str())),
            None,
        );
        Ok(state.rotating())
    }
}

/// The record while another run holds the lease. That run records its rotation right after
/// taking the lease, so wait for it briefly rather than answer without one.
async fn started_elsewhere(
    platform: &WorkerPlatform,
    credential: &str,
) -> Result<CredentialState, ApiError> {
    let mut state = secrets::load(platform, credential).await?;
    for _ in 0..20 {
        if state.rotation.is_some() {
            break;
        }
        Delay::from(Duration::from_millis(100)).await;
        state = secrets::load(platform, credential).await?;
    }
    Ok(state)
}

/// Starts (if `start` and none is unfinished) or resumes the rotation of `cred`, and runs it as
/// far as it can go now: to the end, to the grace period before retire, or to an error, which is
/// recorded in the rotation and retried by the next run.
pub async fn run(
    env: &Env,
    platform: &WorkerPlatform,
    cfg: &BrokerConfig,
    cache: &TokenCache,
    cred: &Credential,
    start: bool,
) -> Result<RunOutcome, ApiError> {
    let Some(_running) = Running::take(&cred.name) else {
        return Ok(RunOutcome {
            state: started_elsewhere(platform, &cred.name).await?,
            busy: true,
        });
    };
    // Misconfiguration (no org/credential id, unreadable stored secret) is answered at once and
    // changes nothing: no lease, no rotation record.
    let state = secrets::load(platform, &cred.name).await?;
    let known = secrets::known(env, platform.keys(), cred, &state)?;
    Management::new(platform, cfg, cache, cred, known)?;
    let runner = Runner {
        env,
        cfg,
        cred,
        platform,
        cache,
        lease: LeaseHolder::new(env, platform.kv(), &cred.name),
    };
    if !runner.lease.acquire().await? {
        return Ok(RunOutcome {
            state: started_elsewhere(platform, &cred.name).await?,
            busy: true,
        });
    }
    let mut state = secrets::load(platform, &cred.name).await?;
    if start && state.start(&crate::random::id(), now()) {
        runner.save(&state).await?;
        crate::log::event(
            "rotation_started",
            Fields::new()
                .str("credential", &cred.name)
                .opt_str("rotation", state.rotation.as_ref().map(|r| r.id.as_str())),
            None,
        );
    }
    let mut busy = false;
    for _ in 0..MAX_STEPS {
        if !state.rotating() {
            break;
        }
        if !runner.lease.still_ours().await? {
            busy = true;
            break;
        }
        match runner.step(&mut state).await {
            Ok(true) => {}
            Ok(false) => break,
            Err(ApiError::SimulatedCrash(point)) => {
                return Err(ApiError::SimulatedCrash(point));
            }
            Err(e) => {
                state.failed(e.to_string(), now());
                crate::log::event(
                    "rotation_error",
                    Fields::new()
                        .str("level", "error")
                        .str("credential", &cred.name)
                        .str("error", &e.to_string())
                        .opt_str("step", state.rotation.as_ref().map(|r| r.step.as_str())),
                    None,
                );
                // The record may be what failed to save; keep the error in memory regardless.
                let _ = runner.save(&state).await;
                break;
            }
        }
    }
    runner.lease.release().await;
    let outcome = match state.rotation.as_ref() {
        _ if busy => "busy",
        Some(r) if r.last_error.is_some() => "error",
        Some(r) if r.step == ims_core::rotation::Step::Done => "done",
        _ => "waiting",
    };
    crate::telemetry::metrics(|m| m.rotation(outcome));
    if outcome == "error" {
        let message = state
            .rotation
            .as_ref()
            .and_then(|r| r.last_error.as_ref())
            .map(|e| e.message.clone());
        crate::telemetry::rotation(
            &cred.name,
            &format!("error: {}", message.unwrap_or_default()),
        );
    }
    Ok(RunOutcome { state, busy })
}

/// Runs `f` on the credential's current record (read from KV after the lease is taken) while
/// holding the rotation lease, so that no rotation step of any isolate runs in between: what `f`
/// checked still holds when it acts. Used by a manual secret delete, which must not race a
/// rotation promoting or testing the secret it deletes. A rotation holding the lease → 409.
pub async fn exclusive<T>(
    env: &Env,
    platform: &WorkerPlatform,
    cred: &Credential,
    f: impl AsyncFnOnce(CredentialState) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let busy = || {
        ApiError::Conflict(format!(
            "a rotation of {:?} is running; try again when it has finished",
            cred.name
        ))
    };
    let Some(_running) = Running::take(&cred.name) else {
        return Err(busy());
    };
    let lease = LeaseHolder::new(env, platform.kv(), &cred.name);
    if !lease.acquire().await? {
        return Err(busy());
    }
    let result = match secrets::load(platform, &cred.name).await {
        Ok(state) => f(state).await,
        Err(e) => Err(e),
    };
    lease.release().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lease_reads_back_what_it_wrote() {
        let lease = Lease {
            owner: "o\"1".into(),
            expires_at_ms: 1_700_000_000_000,
        };
        let text = lease.to_json();
        assert_eq!(text, r#"{"owner":"o\"1","expires_at_ms":1700000000000}"#);
        let back = Lease::from_json(&text).expect("lease");
        assert_eq!(
            (back.owner, back.expires_at_ms),
            (lease.owner, lease.expires_at_ms)
        );
        for bad in [
            r#"{"owner":"o"}"#,
            r#"{"owner":"o","expires_at_ms":-1}"#,
            r#"{"owner":"o","expires_at_ms":1.5}"#,
            r#"{"owner":"o","owner":"p","expires_at_ms":1}"#,
            "[]",
        ] {
            assert!(Lease::from_json(bad).is_none(), "{bad}");
        }
        assert!(Lease::from_json(r#"{"x":{},"owner":"o","expires_at_ms":1}"#).is_some());
    }
}
