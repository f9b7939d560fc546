//! Drives the rotation state machine of [`crate::rotation`] against the world: one step at a
//! time, each step's effect followed by one durable write of the credential's record.
//!
//! [`CredentialState`] decides *what* to do next from what Adobe holds; this module decides *in
//! which order* the effects happen, which is what makes a rotation safe to interrupt anywhere:
//!
//! - every step lists Adobe's secrets first and plans from them, so a step whose effect took
//!   place but was not recorded is only recorded on resume, never repeated;
//! - the record says "adding" before a secret is added at Adobe, so an add whose answer was lost
//!   leaves an orphan that the next run recognises and deletes as unused;
//! - a new secret's sealed value is saved before it is tested or promoted, and if that save fails
//!   the secret is deleted again at Adobe at once: its plaintext exists nowhere else;
//! - an error is recorded in the rotation and the step is retried by the next run.
//!
//! The effects come in through [`RotationPlatform`] (the Worker implements it with the I/O
//! Management API, IMS, the store key and the durable record), so the order is unit-tested here
//! against an in-memory model of Adobe with crashes at every point, and fuzzed by
//! `fuzz/fuzz_targets/rotation.rs`. Runs of one credential must not overlap: the caller
//! serializes them.
//!
//! A platform that simulates a crash for tests can make the operation that "dies" take effect and
//! then never complete (drop the run's future), or fail it and every later call without effect.

use crate::io_api::{NewSecret, SecretInfo};
use crate::rotation::{identify_by_usage, Action, CredentialState, PlanError, Slot};
use crate::secret::ClientSecret;

/// Most steps one run takes (a full rotation needs at most 7); the rest waits for the next run.
pub const MAX_STEPS: usize = 12;

/// What the runner needs from the world: Adobe's I/O Management API, IMS, sealing, the durable record.
#[allow(async_fn_in_trait)]
pub trait RotationPlatform {
    /// The platform's error; its Display text is recorded as the rotation's last error.
    type Error: std::fmt::Display;
    /// Now, epoch ms.
    fn now_ms(&self) -> u64;
    /// Adobe's list of the credential's secrets (the platform authenticates with the secrets `state` knows).
    async fn list(&self, state: &CredentialState) -> Result<Vec<SecretInfo>, Self::Error>;
    /// Adds a secret at Adobe; the plaintext is in the answer only.
    async fn add(&self, state: &CredentialState) -> Result<NewSecret, Self::Error>;
    /// Deletes a secret at Adobe by uuid.
    async fn delete(&self, state: &CredentialState, uuid: &str) -> Result<(), Self::Error>;
    /// Mints a token with the secret held in `slot`, bypassing every cache (the test step and the probe).
    async fn mint_with(&self, state: &CredentialState, slot: &Slot) -> Result<(), Self::Error>;
    /// Seals a new secret's plaintext for its slot (the envelope stored in `Slot::sealed`).
    fn seal(&self, uuid: &str, secret: &ClientSecret) -> String;
    /// Commits the record durably (one write: the step's effect and its record together).
    async fn save(&self, state: &CredentialState) -> Result<(), Self::Error>;
    /// Told after each step that took effect and was saved (for logs); default does nothing.
    fn stepped(&self, _state: &CredentialState) {}
    /// Told when storing a newly added secret failed and it was deleted again at Adobe (or not: `deleted_again`); default does nothing.
    fn pending_store_failed(&self, _uuid: &str, _deleted_again: bool, _error: &str) {}
    /// Told when a new rotation was started and saved (for logs); default does nothing.
    fn started(&self, _state: &CredentialState) {}
    /// Told when a step failed, after the error was recorded in `state` and before it is saved
    /// (for logs); default does nothing.
    fn step_failed(&self, _state: &CredentialState, _error: &str) {}
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// No rotation is unfinished (none was started, or `start` was false and none was running).
    Idle,
    /// The rotation finished.
    Done,
    /// The rotation waits (the grace period before retire) until this time, epoch ms: resume then.
    /// Also the answer when the run took [`MAX_STEPS`] steps without finishing: `until_ms` is
    /// then the run's end, and the next run goes on at once.
    Waiting {
        /// When to resume, epoch ms.
        until_ms: u64,
    },
    /// A step failed; the error is recorded in the rotation (and saved if saving worked) and the step is retried by the next run.
    Failed,
}

/// Where one step left the rotation.
enum Next {
    /// Took effect; the rotation goes on.
    Continue,
    /// Nothing to do before this instant.
    Wait(u64),
    /// Took effect and finished the rotation.
    Finished,
}

/// Starts a rotation with id `start` (if `Some` and none is unfinished), then runs the unfinished rotation as far as it can go now: to the end, to the grace period, or to an error. `grace_ms`: the grace period between promote and retire. Err only when saving the newly started rotation failed (nothing else happened then).
///
/// With `start: None` and no unfinished rotation nothing is called at all. When saving the new
/// rotation failed, `state` still holds it (unsaved); load the record again before retrying.
pub async fn run<P: RotationPlatform>(
    p: &P,
    state: &mut CredentialState,
    start: Option<&str>,
    grace_ms: u64,
) -> Result<Outcome, P::Error> {
    if let Some(id) = start {
        if state.start(id, p.now_ms()) {
            p.save(state).await?;
            p.started(state);
        }
    }
    if !state.rotating() {
        return Ok(Outcome::Idle);
    }
    for _ in 0..MAX_STEPS {
        match step(p, state, grace_ms).await {
            Ok(Next::Continue) => {}
            Ok(Next::Wait(until_ms)) => return Ok(Outcome::Waiting { until_ms }),
            Ok(Next::Finished) => return Ok(Outcome::Done),
            Err(message) => {
                state.failed(message.as_str(), p.now_ms());
                p.step_failed(state, &message);
                // The record may be what failed to save; the error stays in memory regardless.
                let _ = p.save(state).await;
                return Ok(Outcome::Failed);
            }
        }
    }
    Ok(Outcome::Waiting {
        until_ms: p.now_ms(),
    })
}

/// One step: list Adobe, plan, execute, save. Err: the message to record.
async fn step<P: RotationPlatform>(
    p: &P,
    state: &mut CredentialState,
    grace_ms: u64,
) -> Result<Next, String> {
    let text = |e: P::Error| e.to_string();
    let adobe = p.list(state).await.map_err(text)?;
    let action = state.plan(&adobe, p.now_ms()).map_err(|e| e.to_string())?;
    match action {
        Action::Identify(uuid) => {
            state.identified(&uuid, p.now_ms());
            p.save(state).await.map_err(text)?;
        }
        Action::Probe => {
            let probe = p.now_ms();
            p.mint_with(state, &state.active).await.map_err(text)?;
            let listed = p.list(state).await.map_err(text)?;
            let uuid = identify_by_usage(&listed, probe)
                .ok_or_else(|| PlanError::Ambiguous.to_string())?;
            state.identified(&uuid, p.now_ms());
            p.save(state).await.map_err(text)?;
        }
        Action::DeleteUnused(uuid) => {
            p.delete(state, &uuid).await.map_err(text)?;
            state.deleted_unused(&uuid, p.now_ms());
            p.save(state).await.map_err(text)?;
        }
        Action::Add => {
            state.adding(p.now_ms());
            p.save(state).await.map_err(text)?;
            let new = p.add(state).await.map_err(text)?;
            // The record the management calls authenticate with, as it was before the new
            // secret was recorded.
            let before = state.clone();
            let sealed = p.seal(&new.uuid, &new.client_secret);
            state.added(&new.uuid, sealed, new.created_at_ms, p.now_ms());
            if let Err(e) = p.save(state).await {
                // The plaintext exists only here: without a stored copy the secret is useless,
                // so it must not stay at Adobe.
                let error = e.to_string();
                let undo = p.delete(&before, &new.uuid).await;
                p.pending_store_failed(&new.uuid, undo.is_ok(), &error);
                return Err(error);
            }
        }
        Action::Test => {
            let slot = state.pending.as_ref().unwrap_or(&state.active);
            p.mint_with(state, slot).await.map_err(text)?;
            state.tested(p.now_ms());
            p.save(state).await.map_err(text)?;
        }
        Action::Promote => {
            state.promote(p.now_ms(), grace_ms);
            p.save(state).await.map_err(text)?;
        }
        Action::WaitUntil(until) => return Ok(Next::Wait(until)),
        Action::Done => return Ok(Next::Finished),
        Action::Retire(uuid) => {
            p.delete(state, &uuid).await.map_err(text)?;
            state.retired(p.now_ms());
            p.save(state).await.map_err(text)?;
        }
        Action::Skip => {
            state.skip(p.now_ms());
            p.save(state).await.map_err(text)?;
        }
    }
    p.stepped(state);
    Ok(if state.rotating() {
        Next::Continue
    } else {
        Next::Finished
    })
}
