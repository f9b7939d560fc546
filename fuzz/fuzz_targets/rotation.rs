//! The real rotation runner (`ims_core::rotation_runner::run`) driven through a fuzz-controlled
//! `RotationPlatform`: a model of Adobe, the durable record, faults and operator actions at
//! arbitrary points.
//!
//! The model:
//! - Adobe holds a set of secrets and, like Adobe, refuses a third one.
//! - KV holds the credential's record as JSON; the runner keeps its own copy in memory, exactly
//!   like the Worker, so a lost write or a crash leaves KV behind the run.
//! - A run (`s`: rotate, starting a rotation if none is unfinished; `r`: resume, as the cron
//!   does) loads the record (as the Worker does before calling the runner), then calls
//!   `rotation_runner::run`, which plans and executes up to 12 steps, each listing Adobe first.
//!   Runs never overlap (the Worker serializes the runs of a credential). Every I/O operation of
//!   a run (the record's load, every save, list, add, delete, mint) is a numbered checkpoint
//!   where a fault or an operator action can be injected.
//! - Secret values: the value of secret `sN` is `value:sN`, sealed as `sealed:sN`; the bootstrap
//!   Worker secret is the value of the secret Adobe held at the start (`s0`). A mint succeeds
//!   when the secret whose value is used is still at Adobe, and records its use
//!   (`last_used_at`).
//! - A crash: the operation takes effect, then its future never completes; the run is polled
//!   once with a no-op waker (nothing else in the model waits) and dropped, so nothing after that
//!   point runs, exactly like a Worker that died.
//!
//! Input: a script of one-byte commands (unknown bytes are skipped):
//! - `s` / `r`: a run with / without `start`;
//! - `t<n>`: n minutes pass; `T`: the grace period passes;
//! - `d<i>`: the operator deletes Adobe's secret `i mod len` through the broker (only if
//!   `may_delete` allows it, checked against the record in KV, as `DELETE …/secrets/{uuid}`);
//! - `a`: the operator adds a secret in the Developer Console (Adobe refuses a third);
//! - `u<i>`: another client uses Adobe's secret `i mod len`;
//! - `@<p><k>`: in the next run, at checkpoint `p` (0 is the record's load, then the runner's
//!   calls in order), inject `k`: `x` the operation fails without effect; `l` it takes effect
//!   but the answer is lost (an error); `k` it takes effect and the Worker dies right after;
//!   `d<i>`, `a`, `u<i>`: that operator/other-client action happens just before the operation
//!   (concurrently with the run); `D<i><gap>`: the operator's delete as the Worker's handler
//!   does it, checked against KV here and executed `gap` checkpoints later, while the run goes
//!   on.
//!
//! Invariants, checked after every checkpoint and every command:
//! - Adobe never holds more than 2 secrets;
//! - the active slot's secret (of the record in KV and of the run's copy) is at Adobe: the
//!   broker always has a usable secret; a bootstrap slot's recorded uuid is the real one;
//! - the runner never deletes the active secret (or the pending one), nor the last secret the
//!   broker can use, and seals a new secret's own value;
//! - `may_delete` never allows deleting the active or pending secret;
//! - the record in KV always parses; a run that did not fail leaves its copy saved.
//!
//! When a `D` delete executes although `may_delete` would refuse it by then (the handler's
//! check-then-act race), the active secret may be gone: from then on only the weak invariant is
//! expected: some secret the broker knows (active, pending, previous, bootstrap) is at Adobe,
//! and the runner never deletes the last of them.
//!
//! Liveness, checked at the end (unless the race removed the active secret): with faults and
//! operators gone, resuming finishes any unfinished rotation, and a fresh rotation then
//! completes, leaving exactly the new active secret at Adobe.
#![no_main]

use ims_core::io_api::{NewSecret, SecretInfo};
use ims_core::rotation::{CredentialState, Slot, Source, DEFAULT_GRACE_MS};
use ims_core::rotation_runner::{self, Outcome, RotationPlatform};
use ims_core::ClientSecret;
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;
use std::fmt::Write as _;
use std::future::Future;
use std::task::{Context, Poll, Waker};

const GRACE_MS: u64 = DEFAULT_GRACE_MS;
/// Longest script interpreted (keeps each execution short).
const MAX_COMMANDS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Fail,
    Lost,
    Kill,
    OperatorDelete(u8),
    /// The operator's delete as the Worker's handler does it: checked now, executed `gap`
    /// checkpoints later (or when the run ends), while the run goes on.
    RacyDelete {
        i: u8,
        gap: u8,
    },
    OperatorAdd,
    OtherUse(u8),
}

/// Why a step or run stopped early.
#[derive(Debug)]
enum Stop {
    /// The Worker died: nothing more happens in this run.
    Crash,
    /// An error the runner records in the rotation.
    Error(String),
}

struct World {
    now: u64,
    adobe: Vec<SecretInfo>,
    next_uuid: u32,
    /// The uuid whose value is the bootstrap Worker secret.
    bootstrap: String,
    /// The record in KV, as written.
    kv: Option<String>,
    /// The same, parsed (parsed once per write: reading it back is every checkpoint's check).
    kv_state: CredentialState,
    /// Faults for the next run, by checkpoint.
    scheduled: Vec<(u32, Fault)>,
    /// Faults of the current run.
    faults: Vec<(u32, Fault)>,
    checkpoint: u32,
    /// Deletes checked by `may_delete`, waiting to execute: (checkpoint, uuid).
    delayed: Vec<(u32, String)>,
    /// A delayed delete removed a secret `may_delete` would refuse by then: the race in the
    /// delete handler happened, and only the weak invariant (some secret the broker knows is at
    /// Adobe) is expected to hold from then on.
    raced: bool,
    runs: u32,
    /// The current run died (its future is dropped).
    crashed: bool,
    trace: String,
}

fn sealed(uuid: &str) -> String {
    format!("sealed:{uuid}")
}

/// The plaintext of secret `uuid`.
fn value(uuid: &str) -> String {
    format!("value:{uuid}")
}

impl World {
    fn new() -> Self {
        let mut w = Self {
            now: 1_700_000_000_000,
            adobe: Vec::new(),
            next_uuid: 0,
            bootstrap: String::new(),
            kv: None,
            kv_state: CredentialState::default(),
            scheduled: Vec::new(),
            faults: Vec::new(),
            checkpoint: 0,
            delayed: Vec::new(),
            raced: false,
            runs: 0,
            crashed: false,
            trace: String::new(),
        };
        w.bootstrap = w.create_at_adobe();
        w
    }

    fn log(&mut self, what: std::fmt::Arguments<'_>) {
        let _ = writeln!(self.trace, "[t+{}] {what}", self.now - 1_700_000_000_000);
    }

    fn create_at_adobe(&mut self) -> String {
        let uuid = format!("s{}", self.next_uuid);
        self.next_uuid += 1;
        self.adobe.push(SecretInfo {
            uuid: uuid.clone(),
            created_at_ms: self.now,
            last_used_at_ms: None,
        });
        uuid
    }

    fn at_adobe(&self, uuid: &str) -> bool {
        self.adobe.iter().any(|s| s.uuid == uuid)
    }

    /// The uuid of the secret whose value a slot holds (ground truth, not the slot's record).
    fn value_of(&self, slot: &Slot) -> String {
        match slot.source {
            Source::Bootstrap => self.bootstrap.clone(),
            Source::Stored => {
                let sealed = slot
                    .sealed
                    .as_deref()
                    .unwrap_or_else(|| self.fail("stored slot without a value"));
                let uuid = sealed
                    .strip_prefix("sealed:")
                    .unwrap_or_else(|| self.fail("bad sealed value"));
                if slot.uuid.as_deref() != Some(uuid) {
                    self.fail("a stored slot's uuid is not its value's uuid");
                }
                uuid.to_owned()
            }
        }
    }

    fn persisted(&self) -> CredentialState {
        self.kv_state.clone()
    }

    fn write_kv(&mut self, state: &CredentialState) {
        let text = state.to_json();
        match CredentialState::from_json(&text) {
            Some(parsed) if parsed == *state => self.kv_state = parsed,
            _ => self.fail("the record does not read back as written"),
        }
        self.kv = Some(text);
    }

    fn fail(&self, why: &str) -> ! {
        panic!(
            "{why}\nadobe: {:?}\nbootstrap: {}\nkv: {}\ntrace:\n{}",
            self.adobe.iter().map(|s| &s.uuid).collect::<Vec<_>>(),
            self.bootstrap,
            self.kv.as_deref().unwrap_or("(none)"),
            self.trace
        )
    }

    /// Whether a secret the broker can read for `state` is at Adobe, `except` aside.
    fn usable(&self, state: &CredentialState, except: Option<&str>) -> bool {
        let known = [
            Some(&state.active),
            state.pending.as_ref(),
            state.previous.as_ref(),
        ];
        known
            .into_iter()
            .flatten()
            .map(|s| self.value_of(s))
            .chain([self.bootstrap.clone()])
            .any(|v| Some(v.as_str()) != except && self.at_adobe(&v))
    }

    fn check_state(&self, state: &CredentialState, which: &str) {
        let active = self.value_of(&state.active);
        if self.raced {
            if !self.usable(state, None) {
                self.fail(&format!("{which}: no secret the broker knows is at Adobe"));
            }
        } else if !self.at_adobe(&active) {
            self.fail(&format!(
                "{which}: the active secret {active} is not at Adobe"
            ));
        }
        if state.active.source == Source::Bootstrap {
            if let Some(uuid) = &state.active.uuid {
                if *uuid != self.bootstrap {
                    self.fail(&format!("{which}: bootstrap identified as {uuid}"));
                }
            }
        }
        for slot in [&state.pending, &state.previous].into_iter().flatten() {
            let _ = self.value_of(slot);
        }
    }

    /// The invariants.
    fn check(&self, memory: Option<&CredentialState>) {
        if self.adobe.len() > 2 {
            self.fail("more than 2 secrets at Adobe");
        }
        self.check_state(&self.kv_state, "KV record");
        if let Some(m) = memory {
            self.check_state(m, "run's record");
        }
    }

    // ---- actions outside the broker -------------------------------------------------------

    fn operator_delete(&mut self, i: u8) {
        if self.adobe.is_empty() {
            return;
        }
        let uuid = self.adobe[usize::from(i) % self.adobe.len()].uuid.clone();
        let state = self.persisted();
        let allowed = state.may_delete(&uuid, &self.adobe);
        self.log(format_args!("operator deletes {uuid}: {allowed:?}"));
        if allowed.is_ok() {
            if uuid == self.value_of(&state.active) {
                self.fail("may_delete allowed deleting the active secret");
            }
            if state.pending.as_ref().and_then(|p| p.uuid.as_deref()) == Some(&uuid) {
                self.fail("may_delete allowed deleting the pending secret");
            }
            self.adobe.retain(|s| s.uuid != uuid);
        }
    }

    /// The check half of the handler's delete; the delete itself runs at checkpoint `when`.
    fn racy_delete(&mut self, i: u8, when: u32) {
        if self.adobe.is_empty() {
            return;
        }
        let uuid = self.adobe[usize::from(i) % self.adobe.len()].uuid.clone();
        let allowed = self.kv_state.may_delete(&uuid, &self.adobe);
        self.log(format_args!(
            "operator asks to delete {uuid}: {allowed:?}, deletes at #{when}"
        ));
        if allowed.is_ok() {
            self.delayed.push((when, uuid));
        }
    }

    /// Runs the delayed deletes due at checkpoint `at` (all of them when `None`).
    fn run_delayed(&mut self, at: Option<u32>) {
        let due: Vec<String> = self
            .delayed
            .iter()
            .filter(|(w, _)| at.is_none_or(|a| *w <= a))
            .map(|(_, u)| u.clone())
            .collect();
        self.delayed.retain(|(w, _)| at.is_some_and(|a| *w > a));
        for uuid in due {
            if !self.at_adobe(&uuid) {
                continue;
            }
            if self.kv_state.may_delete(&uuid, &self.adobe).is_err() {
                self.raced = true;
            }
            self.adobe.retain(|s| s.uuid != uuid);
            let raced = self.raced;
            self.log(format_args!(
                "operator's delayed delete of {uuid} (raced: {raced})"
            ));
        }
    }

    fn operator_add(&mut self) {
        if self.adobe.len() < 2 {
            let uuid = self.create_at_adobe();
            self.log(format_args!("operator adds {uuid} in the console"));
        }
    }

    fn other_use(&mut self, i: u8) {
        if self.adobe.is_empty() {
            return;
        }
        let n = usize::from(i) % self.adobe.len();
        self.adobe[n].last_used_at_ms = Some(self.now);
        let uuid = self.adobe[n].uuid.clone();
        self.log(format_args!("another client uses {uuid}"));
    }

    // ---- the broker's I/O, each a checkpoint ----------------------------------------------

    /// Enters the next checkpoint: time passes, scheduled operator actions happen, and the
    /// fault for the operation itself (if any) is returned.
    fn checkpoint(&mut self, what: &str, memory: &CredentialState) -> Option<Fault> {
        let at = self.checkpoint;
        self.checkpoint += 1;
        self.now += 1;
        self.run_delayed(Some(at));
        let here: Vec<Fault> = self
            .faults
            .iter()
            .filter(|(p, _)| *p == at)
            .map(|(_, f)| *f)
            .collect();
        let mut fault = None;
        for f in here {
            match f {
                Fault::RacyDelete { i, gap } => self.racy_delete(i, at + 1 + u32::from(gap)),
                Fault::OperatorDelete(i) => self.operator_delete(i),
                Fault::OperatorAdd => self.operator_add(),
                Fault::OtherUse(i) => self.other_use(i),
                f => fault = Some(f),
            }
        }
        self.check(Some(memory));
        self.log(format_args!(
            "#{at} {what}{}",
            fault.map(|f| format!(" ({f:?})")).unwrap_or_default()
        ));
        fault
    }

    fn kv_read(&mut self, memory: &CredentialState) -> Result<CredentialState, Stop> {
        match self.checkpoint("kv read", memory) {
            Some(Fault::Kill) => Err(Stop::Crash),
            Some(_) => Err(Stop::Error("KV read failed".into())),
            None => Ok(self.persisted()),
        }
    }

    fn save(&mut self, state: &CredentialState) -> Result<(), Stop> {
        let fault = self.checkpoint("kv write", state);
        if fault != Some(Fault::Fail) {
            self.write_kv(state);
            self.check(Some(state));
        }
        match fault {
            Some(Fault::Kill) => Err(Stop::Crash),
            Some(_) => Err(Stop::Error("KV write failed".into())),
            None => Ok(()),
        }
    }

    /// The management token: minted (through the cache) with any secret the broker knows.
    fn management(&self, state: &CredentialState) -> Result<(), Stop> {
        if self.usable(state, None) {
            Ok(())
        } else {
            Err(Stop::Error("management token: invalid_client".into()))
        }
    }

    fn list(&mut self, state: &CredentialState) -> Result<Vec<SecretInfo>, Stop> {
        let fault = self.checkpoint("list", state);
        self.management(state)?;
        match fault {
            Some(Fault::Kill) => Err(Stop::Crash),
            Some(_) => Err(Stop::Error("list failed".into())),
            None => Ok(self.adobe.clone()),
        }
    }

    fn mint(&mut self, state: &CredentialState, slot: &Slot) -> Result<(), Stop> {
        let fault = self.checkpoint(
            if slot == &state.active {
                "mint active"
            } else {
                "mint pending"
            },
            state,
        );
        if fault == Some(Fault::Fail) {
            return Err(Stop::Error("IMS unavailable".into()));
        }
        let value = self.value_of(slot);
        let accepted = match self.adobe.iter_mut().find(|s| s.uuid == value) {
            Some(s) => {
                s.last_used_at_ms = Some(self.now);
                true
            }
            None => false,
        };
        match fault {
            Some(Fault::Kill) => Err(Stop::Crash),
            Some(_) => Err(Stop::Error("IMS answer lost".into())),
            None if accepted => Ok(()),
            None => Err(Stop::Error("IMS: invalid_client".into())),
        }
    }

    fn add(&mut self, state: &CredentialState) -> Result<NewSecret, Stop> {
        let fault = self.checkpoint("add", state);
        self.management(state)?;
        if fault == Some(Fault::Fail) {
            return Err(Stop::Error("add failed".into()));
        }
        if self.adobe.len() >= 2 {
            return Err(Stop::Error(
                "Adobe: a credential has at most 2 secrets".into(),
            ));
        }
        let uuid = self.create_at_adobe();
        self.log(format_args!("   added {uuid}"));
        self.check(Some(state));
        match fault {
            Some(Fault::Kill) => Err(Stop::Crash),
            Some(_) => Err(Stop::Error("add answer lost".into())),
            None => Ok(NewSecret {
                client_secret: ClientSecret::new(value(&uuid)),
                uuid,
                created_at_ms: self.now,
            }),
        }
    }

    /// What the runner asks to delete: never the active secret (of its copy or of KV), never
    /// the pending one, never the last one the broker can use. Checked when the runner asks,
    /// before the concurrent actions of the delete's checkpoint.
    fn check_delete(&self, state: &CredentialState, uuid: &str) {
        for s in [state, &self.kv_state] {
            if uuid == self.value_of(&s.active) || s.active.uuid.as_deref() == Some(uuid) {
                self.fail(&format!("the runner deletes the active secret {uuid}"));
            }
        }
        if state.pending.as_ref().and_then(|p| p.uuid.as_deref()) == Some(uuid) {
            self.fail(&format!("the runner deletes the pending secret {uuid}"));
        }
        if !self.usable(state, Some(uuid)) {
            self.fail(&format!("the runner deletes the last usable secret {uuid}"));
        }
    }

    fn delete(&mut self, state: &CredentialState, uuid: &str) -> Result<(), Stop> {
        self.check_delete(state, uuid);
        let fault = self.checkpoint("delete", state);
        self.management(state)?;
        if fault == Some(Fault::Fail) {
            return Err(Stop::Error("delete failed".into()));
        }
        self.adobe.retain(|s| s.uuid != uuid);
        self.log(format_args!("   deleted {uuid}"));
        self.check(Some(state));
        match fault {
            Some(Fault::Kill) => Err(Stop::Crash),
            Some(_) => Err(Stop::Error("delete answer lost".into())),
            None => Ok(()),
        }
    }

    /// Ends a run: the delayed deletes happen, the run's faults are gone.
    fn end_run(&mut self) {
        self.run_delayed(None);
        self.faults.clear();
    }
}

/// The Worker as the runner sees it: every call is one of the model's checkpoints.
struct Broker<'a>(&'a RefCell<World>);

impl Broker<'_> {
    /// One operation; a crash makes it never complete (the run is then dropped).
    async fn io<T>(&self, op: impl FnOnce(&mut World) -> Result<T, Stop>) -> Result<T, String> {
        let result = op(&mut self.0.borrow_mut());
        match result {
            Ok(v) => Ok(v),
            Err(Stop::Error(message)) => Err(message),
            Err(Stop::Crash) => {
                self.0.borrow_mut().crashed = true;
                std::future::pending().await
            }
        }
    }

    fn log(&self, what: std::fmt::Arguments<'_>) {
        self.0.borrow_mut().log(what);
    }
}

impl RotationPlatform for Broker<'_> {
    type Error = String;

    fn now_ms(&self) -> u64 {
        self.0.borrow().now
    }

    async fn list(&self, state: &CredentialState) -> Result<Vec<SecretInfo>, String> {
        self.io(|w| w.list(state)).await
    }

    async fn add(&self, state: &CredentialState) -> Result<NewSecret, String> {
        self.io(|w| w.add(state)).await
    }

    async fn delete(&self, state: &CredentialState, uuid: &str) -> Result<(), String> {
        self.io(|w| w.delete(state, uuid)).await
    }

    async fn mint_with(&self, state: &CredentialState, slot: &Slot) -> Result<(), String> {
        self.io(|w| w.mint(state, slot)).await
    }

    fn seal(&self, uuid: &str, secret: &ClientSecret) -> String {
        if secret.secret() != value(uuid) {
            self.0
                .borrow()
                .fail(&format!("sealed another value for {uuid}"));
        }
        sealed(uuid)
    }

    async fn save(&self, state: &CredentialState) -> Result<(), String> {
        self.io(|w| w.save(state)).await
    }

    fn stepped(&self, state: &CredentialState) {
        let step = state.rotation.as_ref().map(|r| r.step.as_str());
        self.log(format_args!("   stepped, next: {step:?}"));
    }

    fn pending_store_failed(&self, uuid: &str, deleted_again: bool, error: &str) {
        self.log(format_args!(
            "   storing {uuid} failed ({error}), deleted again: {deleted_again}"
        ));
    }

    fn step_failed(&self, _state: &CredentialState, error: &str) {
        self.log(format_args!("   error: {error}"));
    }
}

/// One run as the Worker does it: load the record, then `rotation_runner::run`.
fn run(cell: &RefCell<World>, start: bool) {
    let (mut state, id) = {
        let mut w = cell.borrow_mut();
        w.runs += 1;
        w.checkpoint = 0;
        w.crashed = false;
        w.faults = std::mem::take(&mut w.scheduled);
        let runs = w.runs;
        w.log(format_args!("run {runs} (start: {start})"));
        let blank = w.persisted();
        match w.kv_read(&blank) {
            Ok(state) => (state, format!("r{runs}")),
            Err(_) => {
                w.end_run();
                return;
            }
        }
    };
    let broker = Broker(cell);
    let outcome = {
        let run = rotation_runner::run(&broker, &mut state, start.then_some(id.as_str()), GRACE_MS);
        let mut run = std::pin::pin!(run);
        match run.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(outcome) => Some(outcome),
            Poll::Pending => None,
        }
    };
    let mut w = cell.borrow_mut();
    match outcome {
        None if w.crashed => w.log(format_args!("   crash")),
        None => w.fail("the run waits on nothing"),
        Some(outcome) => {
            w.log(format_args!("   outcome: {outcome:?}"));
            w.check(Some(&state));
            if matches!(
                outcome,
                Ok(Outcome::Idle | Outcome::Done | Outcome::Waiting { .. })
            ) && w.kv_state != state
            {
                w.fail("a run that did not fail left its record unsaved");
            }
        }
    }
    w.end_run();
}

/// Resumes without faults until the rotation is finished.
fn finish(cell: &RefCell<World>, what: &str) -> CredentialState {
    for _ in 0..8 {
        if !cell.borrow().persisted().rotating() {
            break;
        }
        cell.borrow_mut().now += GRACE_MS + 1;
        run(cell, false);
        cell.borrow().check(None);
    }
    let w = cell.borrow();
    let state = w.persisted();
    if state.rotating() {
        w.fail(&format!(
            "{what}: the rotation does not finish without faults"
        ));
    }
    state
}

/// `ROTATION_TRACE=1` prints every execution's trace (to see what an input does).
fn tracing() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("ROTATION_TRACE").is_some())
}

impl Drop for World {
    fn drop(&mut self) {
        if tracing() {
            eprintln!("{}", self.trace);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let cell = RefCell::new(World::new());
    let mut bytes = data.iter().copied();
    let mut next = move || bytes.next();
    let mut commands = 0;
    while let Some(c) = next() {
        commands += 1;
        if commands > MAX_COMMANDS {
            break;
        }
        match c {
            b's' => run(&cell, true),
            b'r' => run(&cell, false),
            b't' => cell.borrow_mut().now += u64::from(next().unwrap_or(1)) * 60_000,
            b'T' => cell.borrow_mut().now += GRACE_MS + 1,
            b'd' => {
                let i = next().unwrap_or(0);
                cell.borrow_mut().operator_delete(i);
            }
            b'a' => cell.borrow_mut().operator_add(),
            b'u' => {
                let i = next().unwrap_or(0);
                let mut w = cell.borrow_mut();
                w.now += 1;
                w.other_use(i);
            }
            b'@' => {
                let (Some(p), Some(k)) = (next(), next()) else {
                    break;
                };
                let p = u32::from(p % 64);
                let fault = match k {
                    b'x' => Fault::Fail,
                    b'l' => Fault::Lost,
                    b'k' => Fault::Kill,
                    b'd' => Fault::OperatorDelete(next().unwrap_or(0)),
                    b'D' => Fault::RacyDelete {
                        i: next().unwrap_or(0),
                        gap: next().unwrap_or(0) % 32,
                    },
                    b'a' => Fault::OperatorAdd,
                    b'u' => Fault::OtherUse(next().unwrap_or(0)),
                    _ => continue,
                };
                cell.borrow_mut().scheduled.push((p, fault));
            }
            _ => continue,
        }
        cell.borrow().check(None);
    }
    // Liveness: no more faults or operators.
    cell.borrow_mut().scheduled.clear();
    let active_gone = {
        let w = cell.borrow();
        w.raced && !w.at_adobe(&w.value_of(&w.kv_state.active))
    };
    if active_gone {
        // The handler's race deleted the active secret: the broker must stop, keeping what
        // still works, until an operator steps in. Resuming must not make it worse.
        for _ in 0..4 {
            cell.borrow_mut().now += GRACE_MS + 1;
            run(&cell, false);
            cell.borrow().check(None);
        }
        return;
    }
    cell.borrow_mut()
        .log(format_args!("-- liveness: resume without faults"));
    let before = finish(&cell, "resuming");
    {
        let mut w = cell.borrow_mut();
        w.log(format_args!("-- liveness: a fresh rotation"));
        w.now += 1;
    }
    run(&cell, true);
    let after = finish(&cell, "a fresh rotation");
    let w = cell.borrow();
    let old = w.value_of(&before.active);
    let new = w.value_of(&after.active);
    if old == new || w.adobe.len() != 1 || w.adobe[0].uuid != new {
        w.fail(&format!(
            "a fault-free rotation did not replace {old} by a single new secret (now {new})"
        ));
    }
});
