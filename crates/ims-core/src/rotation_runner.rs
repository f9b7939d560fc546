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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rotation::{Source, Step};
    use std::cell::{Cell, RefCell};
    use std::collections::HashMap;
    use std::future::Future;
    use std::task::{Context, Poll, Waker};

    /// What happens at an injected point.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    enum Fault {
        /// The operation fails without effect.
        Fail,
        /// It takes effect, then fails (the answer is lost).
        Lost,
        /// The run dies just before it: no effect, nothing after it runs.
        CrashBefore,
        /// It takes effect, then the run dies: nothing after it runs.
        CrashAfter,
    }

    /// An operation that took effect (or, for a list, happened).
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Call {
        List,
        Add(String),
        Delete(String),
        /// A mint, with the uuid of the secret whose value was used.
        Mint(String),
        Save(Box<CredentialState>),
    }

    #[derive(Debug, PartialEq, Eq)]
    struct Error(String);

    impl std::fmt::Display for Error {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }

    fn err<T>(what: &str) -> Result<T, Error> {
        Err(Error(what.to_owned()))
    }

    struct Secret {
        uuid: String,
        created_at_ms: u64,
        last_used_at_ms: Option<u64>,
    }

    /// The value (plaintext) of secret `uuid`.
    fn value(uuid: &str) -> String {
        format!("v-{uuid}")
    }

    /// An in-memory Adobe (secrets, refusing a third), the saved record (what a new run loads),
    /// a log of every effect, and faults injected at the nth call of an operation.
    struct Model {
        now: Cell<u64>,
        adobe: RefCell<Vec<Secret>>,
        next: Cell<u32>,
        /// The uuid whose value is the bootstrap Worker secret.
        bootstrap: String,
        saved: RefCell<Option<String>>,
        calls: RefCell<Vec<Call>>,
        refused_adds: Cell<u32>,
        counts: RefCell<HashMap<&'static str, usize>>,
        faults: RefCell<Vec<(&'static str, usize, Fault)>>,
        crashed: Cell<bool>,
        stepped: Cell<u32>,
        started: Cell<u32>,
        step_errors: RefCell<Vec<String>>,
        store_failed: RefCell<Vec<(String, bool, String)>>,
    }

    impl Model {
        /// Adobe holds the bootstrap secret `s0` and `strays` more secrets the broker does not use.
        fn new(strays: usize) -> Self {
            let m = Self {
                now: Cell::new(1_700_000_000_000),
                adobe: RefCell::default(),
                next: Cell::new(0),
                bootstrap: "s0".into(),
                saved: RefCell::default(),
                calls: RefCell::default(),
                refused_adds: Cell::new(0),
                counts: RefCell::default(),
                faults: RefCell::default(),
                crashed: Cell::new(false),
                stepped: Cell::new(0),
                started: Cell::new(0),
                step_errors: RefCell::default(),
                store_failed: RefCell::default(),
            };
            for _ in 0..=strays {
                m.create();
            }
            m
        }

        fn create(&self) -> String {
            let uuid = format!("s{}", self.next.get());
            self.next.set(self.next.get() + 1);
            self.adobe.borrow_mut().push(Secret {
                uuid: uuid.clone(),
                created_at_ms: self.now.get(),
                last_used_at_ms: None,
            });
            uuid
        }

        fn uuids(&self) -> Vec<String> {
            self.adobe.borrow().iter().map(|s| s.uuid.clone()).collect()
        }

        fn at_adobe(&self, uuid: &str) -> bool {
            self.adobe.borrow().iter().any(|s| s.uuid == uuid)
        }

        /// The uuid of the secret whose value `slot` holds (the truth, not the slot's record).
        fn secret_of(&self, slot: &Slot) -> String {
            match slot.source {
                Source::Bootstrap => self.bootstrap.clone(),
                Source::Stored => {
                    let sealed = slot.sealed.as_deref().expect("a stored slot has a value");
                    let (uuid, plain) = sealed
                        .strip_prefix("sealed:")
                        .and_then(|s| s.split_once(':'))
                        .expect("an envelope of seal()");
                    assert_eq!(plain, value(uuid), "sealed with its own value");
                    assert_eq!(
                        slot.uuid.as_deref(),
                        Some(uuid),
                        "a slot's uuid is its value's"
                    );
                    uuid.to_owned()
                }
            }
        }

        /// The saved record, as a new run loads it.
        fn load(&self) -> CredentialState {
            self.saved
                .borrow()
                .as_deref()
                .map_or_else(CredentialState::default, |t| {
                    CredentialState::from_json(t).expect("the saved record parses")
                })
        }

        /// Injects `fault` at the `nth` next call of `op`.
        fn inject(&self, op: &'static str, nth: usize, fault: Fault) {
            let at = self.counts.borrow().get(op).copied().unwrap_or(0) + nth;
            self.faults.borrow_mut().push((op, at, fault));
        }

        fn trace(&self) -> Vec<String> {
            self.calls
                .borrow()
                .iter()
                .map(|c| match c {
                    Call::List => "list".to_owned(),
                    Call::Add(u) => format!("add {u}"),
                    Call::Delete(u) => format!("delete {u}"),
                    Call::Mint(u) => format!("mint {u}"),
                    Call::Save(_) => "save".to_owned(),
                })
                .collect()
        }

        fn count(&self, f: impl Fn(&Call) -> bool) -> usize {
            self.calls.borrow().iter().filter(|c| f(c)).count()
        }

        fn added(&self) -> Vec<String> {
            let calls = self.calls.borrow();
            calls
                .iter()
                .filter_map(|c| match c {
                    Call::Add(u) => Some(u.clone()),
                    _ => None,
                })
                .collect()
        }

        fn deletes_of(&self, uuid: &str) -> usize {
            self.count(|c| matches!(c, Call::Delete(u) if u == uuid))
        }

        /// Enters an operation: time passes, the invariants hold, the injected fault if any.
        fn enter(&self, op: &'static str) -> Option<Fault> {
            self.now.set(self.now.get() + 1);
            let saved = self.load();
            assert!(
                self.adobe.borrow().len() <= 2,
                "more than 2 secrets at Adobe"
            );
            let active = self.secret_of(&saved.active);
            assert!(
                self.at_adobe(&active),
                "the saved active secret {active} is gone"
            );
            let n = {
                let mut counts = self.counts.borrow_mut();
                let n = counts.entry(op).or_default();
                *n += 1;
                *n
            };
            let mut faults = self.faults.borrow_mut();
            let i = faults.iter().position(|(o, at, _)| *o == op && *at == n)?;
            Some(faults.remove(i).2)
        }

        async fn before(&self, fault: Option<Fault>) -> Result<(), Error> {
            match fault {
                Some(Fault::Fail) => err("injected failure"),
                Some(Fault::CrashBefore) => self.crash().await,
                _ => Ok(()),
            }
        }

        async fn after(&self, fault: Option<Fault>) -> Result<(), Error> {
            match fault {
                Some(Fault::Lost) => err("answer lost"),
                Some(Fault::CrashAfter) => self.crash().await,
                _ => Ok(()),
            }
        }

        /// The run dies here: this future never completes, and the test drops the run.
        async fn crash(&self) -> Result<(), Error> {
            self.crashed.set(true);
            std::future::pending().await
        }

        /// The management token: minted with any secret `state` knows (or the bootstrap one).
        fn authenticate(&self, state: &CredentialState) -> Result<(), Error> {
            let known = [
                Some(&state.active),
                state.pending.as_ref(),
                state.previous.as_ref(),
            ];
            let ok = known
                .into_iter()
                .flatten()
                .map(|s| self.secret_of(s))
                .chain([self.bootstrap.clone()])
                .any(|u| self.at_adobe(&u));
            if ok {
                Ok(())
            } else {
                err("management token: invalid_client")
            }
        }

        /// Runs from the saved record; `None` when the run crashed.
        fn run(
            &self,
            start: Option<&str>,
            grace_ms: u64,
        ) -> Option<(Result<Outcome, Error>, CredentialState)> {
            self.crashed.set(false);
            let mut state = self.load();
            let outcome = drive(self, run(self, &mut state, start, grace_ms))?;
            Some((outcome, state))
        }
    }

    /// Polls a run once with a no-op waker: nothing in the model waits, so it either finishes
    /// or it crashed (then the future is dropped here, like a Worker that died).
    fn drive<F: Future>(m: &Model, run: F) -> Option<F::Output> {
        let mut run = std::pin::pin!(run);
        match run.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(out) => Some(out),
            Poll::Pending => {
                assert!(m.crashed.get(), "pending without a crash");
                None
            }
        }
    }

    impl RotationPlatform for Model {
        type Error = Error;

        fn now_ms(&self) -> u64 {
            self.now.get()
        }

        async fn list(&self, state: &CredentialState) -> Result<Vec<SecretInfo>, Error> {
            let fault = self.enter("list");
            self.before(fault).await?;
            self.authenticate(state)?;
            self.calls.borrow_mut().push(Call::List);
            let listed = self
                .adobe
                .borrow()
                .iter()
                .map(|s| SecretInfo {
                    uuid: s.uuid.clone(),
                    created_at_ms: s.created_at_ms,
                    last_used_at_ms: s.last_used_at_ms,
                })
                .collect();
            self.after(fault).await?;
            Ok(listed)
        }

        async fn add(&self, state: &CredentialState) -> Result<NewSecret, Error> {
            let fault = self.enter("add");
            self.before(fault).await?;
            self.authenticate(state)?;
            if self.adobe.borrow().len() >= 2 {
                self.refused_adds.set(self.refused_adds.get() + 1);
                return err("Adobe: a credential has at most 2 secrets");
            }
            let uuid = self.create();
            self.calls.borrow_mut().push(Call::Add(uuid.clone()));
            self.after(fault).await?;
            Ok(NewSecret {
                client_secret: ClientSecret::new(value(&uuid)),
                uuid,
                created_at_ms: self.now.get(),
            })
        }

        async fn delete(&self, state: &CredentialState, uuid: &str) -> Result<(), Error> {
            let fault = self.enter("delete");
            self.before(fault).await?;
            self.authenticate(state)?;
            for (which, s) in [("run's", state), ("saved", &self.load())] {
                assert_ne!(
                    self.secret_of(&s.active),
                    uuid,
                    "deletes the {which} active secret"
                );
            }
            self.calls.borrow_mut().push(Call::Delete(uuid.to_owned()));
            self.adobe.borrow_mut().retain(|s| s.uuid != uuid);
            self.after(fault).await
        }

        async fn mint_with(&self, _state: &CredentialState, slot: &Slot) -> Result<(), Error> {
            let fault = self.enter("mint");
            self.before(fault).await?;
            let uuid = self.secret_of(slot);
            self.calls.borrow_mut().push(Call::Mint(uuid.clone()));
            let now = self.now.get();
            let accepted = self
                .adobe
                .borrow_mut()
                .iter_mut()
                .find(|s| s.uuid == uuid)
                .map(|s| s.last_used_at_ms = Some(now))
                .is_some();
            self.after(fault).await?;
            if accepted {
                Ok(())
            } else {
                err("IMS: invalid_client")
            }
        }

        fn seal(&self, uuid: &str, secret: &ClientSecret) -> String {
            format!("sealed:{uuid}:{}", secret.secret())
        }

        async fn save(&self, state: &CredentialState) -> Result<(), Error> {
            let fault = self.enter("save");
            self.before(fault).await?;
            self.calls
                .borrow_mut()
                .push(Call::Save(Box::new(state.clone())));
            *self.saved.borrow_mut() = Some(state.to_json());
            assert_eq!(&self.load(), state, "the record reads back as written");
            self.after(fault).await
        }

        fn stepped(&self, _state: &CredentialState) {
            self.stepped.set(self.stepped.get() + 1);
        }

        fn pending_store_failed(&self, uuid: &str, deleted_again: bool, error: &str) {
            self.store_failed
                .borrow_mut()
                .push((uuid.to_owned(), deleted_again, error.to_owned()));
        }

        fn started(&self, _state: &CredentialState) {
            self.started.set(self.started.get() + 1);
        }

        fn step_failed(&self, _state: &CredentialState, error: &str) {
            self.step_errors.borrow_mut().push(error.to_owned());
        }
    }

    fn events(state: &CredentialState) -> Vec<(String, Option<String>)> {
        state.rotation.as_ref().map_or_else(Vec::new, |r| {
            r.events
                .iter()
                .map(|e| (e.what.clone(), e.uuid.clone()))
                .collect()
        })
    }

    /// What a user sees after a rotation: it finished, Adobe holds exactly one secret, the one
    /// the broker uses, and the record in memory is the saved one.
    fn assert_finished(m: &Model, state: &CredentialState) {
        assert!(!state.rotating(), "{state:?}");
        assert_eq!(&m.load(), state);
        let active = m.secret_of(&state.active);
        assert_eq!(m.uuids(), std::slice::from_ref(&active));
        assert_eq!(state.active.uuid.as_deref(), Some(active.as_str()));
        assert_eq!(state.active.source, Source::Stored);
        assert!(state.pending.is_none() && state.previous.is_none());
        assert_eq!(m.refused_adds.get(), 0, "asked Adobe for a third secret");
    }

    #[test]
    fn a_full_rotation_from_a_bootstrap_secret_leaves_only_the_new_secret() {
        let m = Model::new(0);
        let (outcome, state) = m.run(Some("r1"), 0).expect("no crash");
        assert_eq!(outcome, Ok(Outcome::Done));
        assert_finished(&m, &state);
        assert_eq!(m.uuids(), ["s1"]);
        assert_eq!(
            m.trace(),
            [
                // The new rotation.
                "save",
                // Identify s0, the only secret.
                "list",
                "save",
                // Create: the adding mark, the add, the new secret stored.
                "list",
                "save",
                "add s1",
                "save",
                // Test.
                "list",
                "mint s1",
                "save",
                // Promote.
                "list",
                "save",
                // Retire (no grace period).
                "list",
                "delete s0",
                "save",
            ]
        );
        let whats: Vec<String> = events(&state).into_iter().map(|(w, _)| w).collect();
        assert_eq!(
            whats,
            ["identified", "added", "tested", "promoted", "retired"]
        );
        assert_eq!((m.started.get(), m.stepped.get()), (1, 5));
        assert!(m.step_errors.borrow().is_empty());
    }

    #[test]
    fn the_adding_mark_is_saved_before_the_add_and_the_new_secret_before_its_test() {
        let m = Model::new(0);
        m.run(Some("r1"), 0).expect("no crash").0.expect("saved");
        let calls = m.calls.borrow();
        let at = |want: &Call| calls.iter().position(|c| c == want).expect("called");
        let add = at(&Call::Add("s1".into()));
        let test = at(&Call::Mint("s1".into()));
        let saved_before_add = calls[..add]
            .iter()
            .rev()
            .find_map(|c| match c {
                Call::Save(s) => Some(s),
                _ => None,
            })
            .expect("a save before the add");
        let rot = saved_before_add.rotation.as_ref().expect("rotation");
        assert!(rot.adding_since_ms.is_some() && saved_before_add.pending.is_none());
        let stored = calls[add..]
            .iter()
            .position(|c| matches!(c, Call::Save(s) if s.pending.is_some()))
            .expect("the new secret saved")
            + add;
        assert!(stored < test, "the new secret is saved before it is tested");
        let Call::Save(s) = &calls[stored] else {
            unreachable!()
        };
        let pending = s.pending.as_ref().expect("pending");
        assert_eq!(pending.sealed.as_deref(), Some("sealed:s1:v-s1"));
        assert_eq!(s.rotation.as_ref().map(|r| r.adding_since_ms), Some(None));
        // Promoted only after the test.
        let promoted = calls
            .iter()
            .position(|c| matches!(c, Call::Save(s) if s.active.uuid.as_deref() == Some("s1")))
            .expect("promoted");
        assert!(test < promoted);
    }

    #[test]
    fn a_failed_store_of_the_new_secret_deletes_it_again_and_the_next_run_finishes() {
        let m = Model::new(0);
        // Saves: the start, identified, adding, the new secret.
        m.inject("save", 4, Fault::Fail);
        let (outcome, state) = m.run(Some("r1"), 0).expect("no crash");
        assert_eq!(outcome, Ok(Outcome::Failed));
        assert_eq!(m.trace()[5..], ["add s1", "delete s1", "save"]);
        assert_eq!(
            *m.store_failed.borrow(),
            [("s1".to_owned(), true, "injected failure".to_owned())]
        );
        assert_eq!(m.uuids(), ["s0"], "nothing orphaned at Adobe");
        let error = state.rotation.as_ref().and_then(|r| r.last_error.clone());
        assert_eq!(error.map(|e| e.message), Some("injected failure".into()));
        assert_eq!(m.load(), state, "the error is saved");
        let (outcome, state) = m.run(None, 0).expect("no crash");
        assert_eq!(outcome, Ok(Outcome::Done));
        assert_finished(&m, &state);
        assert_eq!(m.added(), ["s1", "s2"]);
        assert_eq!(m.uuids(), ["s2"]);
    }

    #[test]
    fn a_new_secret_neither_stored_nor_deleted_again_is_cleaned_up_by_the_next_run() {
        let m = Model::new(0);
        m.inject("save", 4, Fault::Fail); // the new secret
        m.inject("delete", 1, Fault::Fail); // deleting it again
        m.inject("save", 5, Fault::Fail); // recording the error
        let (outcome, state) = m.run(Some("r1"), 0).expect("no crash");
        assert_eq!(outcome, Ok(Outcome::Failed));
        assert_eq!(
            *m.store_failed.borrow(),
            [("s1".to_owned(), false, "injected failure".to_owned())]
        );
        assert!(state
            .rotation
            .as_ref()
            .is_some_and(|r| r.last_error.is_some()));
        let saved = m.load();
        assert!(saved
            .rotation
            .as_ref()
            .is_some_and(|r| r.last_error.is_none()));
        assert_eq!(m.uuids(), ["s0", "s1"]);
        let (outcome, state) = m.run(None, 0).expect("no crash");
        assert_eq!(outcome, Ok(Outcome::Done));
        assert_finished(&m, &state);
        assert_eq!(m.deletes_of("s1"), 1);
        assert!(events(&state).contains(&("deleted_unused".into(), Some("s1".into()))));
        assert_eq!(m.uuids(), ["s2"]);
    }

    /// Every fault at every call of every operation, in a rotation from the bootstrap secret
    /// alone and with a stray secret next to it (probe, delete unused): resuming from the saved
    /// record finishes with exactly the active secret at Adobe, never asks for a third secret,
    /// never deletes the active one (checked at each delete), and repeats no effect except an add
    /// whose secret was never stored.
    #[test]
    fn after_any_fault_or_crash_resuming_finishes_the_rotation() {
        let mut fired = HashMap::<(&str, Fault), usize>::new();
        for strays in [0, 1] {
            for op in ["list", "add", "delete", "mint", "save"] {
                for nth in 1..=12 {
                    for fault in [
                        Fault::Fail,
                        Fault::Lost,
                        Fault::CrashBefore,
                        Fault::CrashAfter,
                    ] {
                        let case = format!("{strays} strays, {fault:?} at {op} #{nth}");
                        let m = Model::new(strays);
                        m.inject(op, nth, fault);
                        let first = m.run(Some("r1"), 0);
                        if !m.faults.borrow().is_empty() {
                            continue; // the rotation needs fewer calls
                        }
                        *fired.entry((op, fault)).or_default() += 1;
                        let crashed = matches!(fault, Fault::CrashBefore | Fault::CrashAfter);
                        assert_eq!(first.is_none(), crashed, "{case}");
                        let saved = m.load();
                        if let Some((Err(_), _)) = &first {
                            // Nothing but the start's save (which may have taken effect).
                            assert!(
                                m.trace().len() <= 1
                                    && m.count(|c| matches!(c, Call::Save(_))) == m.trace().len(),
                                "{case}"
                            );
                        }
                        // An add took effect and its secret is in no saved slot: the orphan.
                        let known = |u: &str| {
                            [
                                Some(&saved.active),
                                saved.pending.as_ref(),
                                saved.previous.as_ref(),
                            ]
                            .into_iter()
                            .flatten()
                            .any(|s| m.secret_of(s) == u)
                        };
                        let lost_add = saved
                            .rotation
                            .as_ref()
                            .is_some_and(|r| r.adding_since_ms.is_some())
                            && m.uuids().iter().any(|u| !known(u));
                        let mut last = None;
                        for _ in 0..3 {
                            let start = saved.rotation.is_none().then_some("r2");
                            let (outcome, state) = m.run(start, 0).expect("no fault left");
                            let done = outcome == Ok(Outcome::Done) || !state.rotating();
                            last = Some(state);
                            if done {
                                break;
                            }
                        }
                        let state = last.expect("resumed");
                        assert_finished(&m, &state);
                        let added = m.added();
                        assert!(added.len() <= 2, "{case}: {added:?}");
                        for uuid in m.uuids().iter().chain(&added) {
                            assert!(m.deletes_of(uuid) <= 1, "{case}: {uuid} deleted twice");
                        }
                        assert_eq!(m.deletes_of("s0"), 1, "{case}: the old secret retired");
                        let new = added.last().expect("an add");
                        assert_eq!(m.uuids(), std::slice::from_ref(new), "{case}");
                        if added.len() == 2 {
                            assert_eq!(m.deletes_of(&added[0]), 1, "{case}");
                        }
                        if crashed {
                            assert_eq!(added.len(), 1 + usize::from(lost_add), "{case}");
                        }
                        if lost_add {
                            let orphan = Some(added[0].clone());
                            assert!(
                                events(&state).contains(&("deleted_unused".into(), orphan)),
                                "{case}: the orphan is deleted as unused"
                            );
                        }
                    }
                }
            }
        }
        for op in ["list", "add", "delete", "mint", "save"] {
            for fault in [
                Fault::Fail,
                Fault::Lost,
                Fault::CrashBefore,
                Fault::CrashAfter,
            ] {
                assert!(
                    fired.get(&(op, fault)).is_some_and(|n| *n > 0),
                    "{op} {fault:?}"
                );
            }
        }
        assert!(fired.values().sum::<usize>() > 100, "{fired:?}");
    }

    #[test]
    fn a_grace_period_makes_the_run_wait_and_a_later_run_retires() {
        let m = Model::new(0);
        let grace = 10 * 60 * 1000;
        let (outcome, state) = m.run(Some("r1"), grace).expect("no crash");
        let until = state.rotation.as_ref().and_then(|r| r.retire_after_ms);
        let until = until.expect("retire planned");
        assert_eq!(outcome, Ok(Outcome::Waiting { until_ms: until }));
        assert_eq!(state.rotation.as_ref().map(|r| r.step), Some(Step::Retire));
        assert_eq!(
            m.uuids(),
            ["s0", "s1"],
            "the old secret works during the grace period"
        );
        assert_eq!(m.secret_of(&state.active), "s1");
        // Too early: one list, nothing else.
        let calls = m.calls.borrow().len();
        let (outcome, _) = m.run(None, grace).expect("no crash");
        assert_eq!(outcome, Ok(Outcome::Waiting { until_ms: until }));
        assert_eq!(m.trace()[calls..], ["list"]);
        m.now.set(until);
        let (outcome, state) = m.run(None, grace).expect("no crash");
        assert_eq!(outcome, Ok(Outcome::Done));
        assert_eq!(m.trace()[calls + 1..], ["list", "delete s0", "save"]);
        assert_finished(&m, &state);
    }

    #[test]
    fn without_start_and_nothing_unfinished_a_run_makes_no_call() {
        let m = Model::new(0);
        let (outcome, state) = m.run(None, 0).expect("no crash");
        assert_eq!(outcome, Ok(Outcome::Idle));
        assert_eq!(state, CredentialState::default());
        assert!(m.calls.borrow().is_empty() && m.saved.borrow().is_none());
        m.run(Some("r1"), 0).expect("no crash").0.expect("saved");
        let calls = m.calls.borrow().len();
        let (outcome, _) = m.run(None, 0).expect("no crash");
        assert_eq!(outcome, Ok(Outcome::Idle));
        assert_eq!(m.calls.borrow().len(), calls);
    }

    #[test]
    fn start_while_a_rotation_is_unfinished_resumes_that_one() {
        let m = Model::new(0);
        let (outcome, _) = m.run(Some("r1"), 1_000).expect("no crash");
        assert!(matches!(outcome, Ok(Outcome::Waiting { .. })));
        m.now.set(m.now.get() + 1_000);
        let (outcome, state) = m.run(Some("r2"), 1_000).expect("no crash");
        assert_eq!(outcome, Ok(Outcome::Done));
        assert_eq!(state.rotation.as_ref().map(|r| r.id.as_str()), Some("r1"));
        assert_eq!((m.started.get(), m.added()), (1, vec!["s1".to_owned()]));
        // A finished rotation: `start` starts a new one.
        let (outcome, state) = m.run(Some("r3"), 0).expect("no crash");
        assert_eq!(outcome, Ok(Outcome::Done));
        assert_eq!(state.rotation.as_ref().map(|r| r.id.as_str()), Some("r3"));
        assert_finished(&m, &state);
        assert_eq!(m.uuids(), ["s2"]);
    }

    #[test]
    fn a_start_that_cannot_be_saved_is_an_error_and_does_nothing_else() {
        let m = Model::new(0);
        m.inject("save", 1, Fault::Fail);
        let (outcome, _) = m.run(Some("r1"), 0).expect("no crash");
        assert_eq!(outcome, Err(Error("injected failure".into())));
        assert!(m.calls.borrow().is_empty() && m.saved.borrow().is_none());
        assert_eq!((m.started.get(), m.uuids()), (0, vec!["s0".to_owned()]));
    }

    #[test]
    fn a_plan_error_is_recorded_at_its_step_and_saved() {
        // Another client used the stray secret since the probe: the probe cannot tell.
        let m = Model::new(1);
        m.adobe.borrow_mut()[1].last_used_at_ms = Some(u64::MAX);
        let (outcome, state) = m.run(Some("r1"), 0).expect("no crash");
        assert_eq!(outcome, Ok(Outcome::Failed));
        assert_eq!(m.trace(), ["save", "list", "mint s0", "list", "save"]);
        let error = state.rotation.as_ref().and_then(|r| r.last_error.clone());
        let error = error.expect("recorded");
        assert_eq!(error.message, PlanError::Ambiguous.to_string());
        assert_eq!(error.step, Step::Create);
        assert_eq!(
            *m.step_errors.borrow(),
            std::slice::from_ref(&error.message)
        );
        assert_eq!(m.load(), state);
        assert_eq!(state.active.uuid, None);
    }
}
