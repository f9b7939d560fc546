//! Zero-downtime rotation of a credential's client secret, as a pure state machine.
//!
//! Modelled on AWS Secrets Manager's four idempotent steps. Everything durable about one
//! credential lives in ONE record ([`CredentialState`]: the secret slots and the current or last
//! rotation), written with a single KV put after each step, so a step's effect and its record
//! never disagree for long: every step first checks whether its effect is already visible
//! (at Adobe or in the slots) and then only records it, so an interrupted rotation resumes from
//! where it stopped and never repeats a step that took effect.
//!
//! 1. **create**: if Adobe holds 2 secrets, delete the one the broker does not use (never the
//!    active one); add a new secret and store it sealed as PENDING with its uuid (if storing
//!    fails the caller deletes it again; if the Worker died in between, the orphan is "a secret
//!    the broker does not use" and is deleted on resume).
//! 2. **test**: mint a token with PENDING, bypassing the cache.
//! 3. **promote**: PENDING becomes ACTIVE, ACTIVE becomes PREVIOUS.
//!
//! (If PENDING is no longer at Adobe at test or promote, it is dropped and the rotation goes back
//! to create.)
//! 4. **retire**: after the grace period, delete PREVIOUS at Adobe by uuid.
//!
//! Invariant: the active slot always holds a secret Adobe accepted, and nothing here ever asks
//! to delete it.

use crate::io_api::SecretInfo;
use crate::record_json::from_object;
use serde::{Deserialize, Serialize};

/// Default grace period between promote and retire.
pub const DEFAULT_GRACE_MS: u64 = 10 * 60 * 1000;

/// Where a slot's value lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The Worker secret (`CLIENT_SECRET…`), put there by the operator.
    Bootstrap,
    /// Sealed in this record, created by a rotation.
    Stored,
}

/// One client secret the broker can read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    /// Adobe's uuid, once known (a bootstrap secret's uuid is learnt by identification).
    pub uuid: Option<String>,
    /// Where the value lives.
    pub source: Source,
    /// The sealed value (an envelope) when `source` is `Stored`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
    /// When Adobe created it, epoch ms, if known.
    #[serde(default)]
    pub created_at_ms: Option<u64>,
    /// When the broker last saw IMS accept it, epoch ms.
    #[serde(default)]
    pub verified_at_ms: Option<u64>,
    /// When IMS last refused it (`invalid_client`) while another known secret was accepted,
    /// epoch ms. Refused after it was last accepted, it is tried after the others
    /// ([`CredentialState::mint_order`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused_at_ms: Option<u64>,
}

impl Slot {
    /// The Worker secret, uuid not yet known.
    pub fn bootstrap() -> Self {
        Self {
            uuid: None,
            source: Source::Bootstrap,
            sealed: None,
            created_at_ms: None,
            verified_at_ms: None,
            refused_at_ms: None,
        }
    }

    /// True when IMS refused it after it last accepted it.
    fn refused(&self) -> bool {
        match (self.refused_at_ms, self.verified_at_ms) {
            (Some(refused), Some(verified)) => refused > verified,
            (refused, _) => refused.is_some(),
        }
    }
}

/// Which slot of the record a secret comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotRole {
    /// The active slot.
    Active,
    /// The pending slot.
    Pending,
    /// The previous slot.
    Previous,
    /// The bootstrap Worker secret (whether or not a slot names it).
    Bootstrap,
}

/// The next step a rotation has to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Make room if needed, add a new secret, store it as pending.
    Create,
    /// Mint a token with the pending secret.
    Test,
    /// Pending becomes active.
    Promote,
    /// Delete the previous secret after the grace period.
    Retire,
    /// Finished.
    Done,
}

impl Step {
    /// The step's name as shown to operators.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Test => "test",
            Self::Promote => "promote",
            Self::Retire => "retire",
            Self::Done => "done",
        }
    }
}

/// The last error a rotation met; it stays at its step and is retried on resume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepError {
    /// When, epoch ms.
    pub at_ms: u64,
    /// In which step.
    pub step: Step,
    /// What happened, in words without secrets.
    pub message: String,
}

/// An effect that took place, for the record (and for "no step ran twice").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// When, epoch ms.
    pub at_ms: u64,
    /// `deleted_unused`, `added`, `tested`, `promoted`, `retired`, `identified`, `pending_lost`.
    pub what: String,
    /// The secret's uuid, where one is concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
}

/// One rotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rotation {
    /// Its id.
    pub id: String,
    /// The next step.
    pub step: Step,
    /// Started, epoch ms.
    pub started_at_ms: u64,
    /// Last change, epoch ms.
    pub updated_at_ms: u64,
    /// Finished, epoch ms.
    #[serde(default)]
    pub finished_at_ms: Option<u64>,
    /// Set just before asking Adobe for a new secret; cleared when it is stored. Seen on resume,
    /// it means an add may have taken effect at Adobe with its answer lost.
    #[serde(default)]
    pub adding_since_ms: Option<u64>,
    /// Earliest instant of the retire step, epoch ms.
    #[serde(default)]
    pub retire_after_ms: Option<u64>,
    /// The last error, cleared when a step succeeds.
    #[serde(default)]
    pub last_error: Option<StepError>,
    /// Effects, in order.
    #[serde(default)]
    pub events: Vec<Event>,
}

/// Everything durable about one credential's secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialState {
    /// Record format.
    pub v: u8,
    /// The secret in use.
    pub active: Slot,
    /// A secret created by the current rotation, not yet promoted.
    #[serde(default)]
    pub pending: Option<Slot>,
    /// The secret used before the last promote, until it is retired.
    #[serde(default)]
    pub previous: Option<Slot>,
    /// The current or last rotation.
    #[serde(default)]
    pub rotation: Option<Rotation>,
}

impl Default for CredentialState {
    fn default() -> Self {
        Self {
            v: 1,
            active: Slot::bootstrap(),
            pending: None,
            previous: None,
            rotation: None,
        }
    }
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Learn the active secret's uuid: this one is the only secret at Adobe.
    Identify(String),
    /// Learn the active secret's uuid by minting with it and looking at `last_used_at`.
    Probe,
    /// Delete this secret, which the broker does not use, to make room.
    DeleteUnused(String),
    /// Add a secret at Adobe and store it as pending.
    Add,
    /// Mint with the pending secret.
    Test,
    /// Make pending active.
    Promote,
    /// Nothing to do before this instant (grace period).
    WaitUntil(u64),
    /// Delete the previous secret at Adobe.
    Retire(String),
    /// The step's effect is already visible: just record the step as done. At the test or
    /// promote step with a pending secret gone from Adobe: drop it and go back to create.
    Skip,
    /// Nothing left.
    Done,
}

/// Why no action can be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// Two secrets at Adobe and the probe could not tell which one the broker uses.
    #[error("cannot tell which of Adobe's secrets the broker uses; delete the unused one in the Developer Console")]
    Ambiguous,
    /// The active secret is not among Adobe's secrets.
    #[error("the active secret {0} is not at Adobe any more")]
    ActiveMissing(String),
    /// There is no rotation to advance.
    #[error("no rotation in progress")]
    NoRotation,
}

impl CredentialState {
    /// Parses the stored record: one JSON object, unknown fields skipped, each field once,
    /// absent options `None`; a record format other than 1 is not read.
    pub fn from_json(text: &str) -> Option<Self> {
        from_object::<Self>(text.as_bytes()).filter(|state| state.v == 1)
    }

    /// Serialises the record: every field in declaration order, `null` when absent, except a
    /// slot's `sealed` and an event's `uuid`, left out when absent.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// True while a rotation is unfinished.
    pub fn rotating(&self) -> bool {
        self.rotation.as_ref().is_some_and(|r| r.step != Step::Done)
    }

    /// The slots whose secrets the broker mints with, in the order it tries them while IMS
    /// answers `invalid_client`: active, pending, previous, then the bootstrap Worker secret;
    /// a slot IMS refused after it last accepted it comes after all the others, so that a
    /// fallback ([`Self::fell_back`]) is not paid again on every mint.
    pub fn mint_order(&self) -> Vec<(SlotRole, Slot)> {
        let mut slots: Vec<(SlotRole, Slot)> = [
            (SlotRole::Active, Some(&self.active)),
            (SlotRole::Pending, self.pending.as_ref()),
            (SlotRole::Previous, self.previous.as_ref()),
        ]
        .into_iter()
        .filter_map(|(role, slot)| slot.map(|s| (role, s.clone())))
        .collect();
        slots.push((SlotRole::Bootstrap, Slot::bootstrap()));
        slots.sort_by_key(|(_, slot)| slot.refused());
        slots
    }

    /// Records a fallback: IMS refused the secrets of `refused` (`invalid_client`) and accepted
    /// the one of `accepted`, at `now`. The bootstrap Worker secret has no slot of its own
    /// unless one names it, so nothing is recorded for it otherwise.
    pub fn fell_back(&mut self, refused: &[SlotRole], accepted: SlotRole, now: u64) {
        for role in refused {
            if let Some(slot) = self.slot_mut(*role) {
                slot.refused_at_ms = Some(now);
            }
        }
        if let Some(slot) = self.slot_mut(accepted) {
            slot.verified_at_ms = Some(now);
        }
    }

    fn slot_mut(&mut self, role: SlotRole) -> Option<&mut Slot> {
        match role {
            SlotRole::Active => Some(&mut self.active),
            SlotRole::Pending => self.pending.as_mut(),
            SlotRole::Previous => self.previous.as_mut(),
            SlotRole::Bootstrap => None,
        }
    }

    /// Starts a rotation unless one is unfinished; returns whether one was started.
    pub fn start(&mut self, id: &str, now: u64) -> bool {
        if self.rotating() {
            return false;
        }
        self.rotation = Some(Rotation {
            id: id.to_owned(),
            step: Step::Create,
            started_at_ms: now,
            updated_at_ms: now,
            finished_at_ms: None,
            adding_since_ms: None,
            retire_after_ms: None,
            last_error: None,
            events: Vec::new(),
        });
        true
    }

    /// The uuids of every slot, for "is this secret one the broker uses".
    fn known(&self, uuid: &str) -> bool {
        [
            Some(&self.active),
            self.pending.as_ref(),
            self.previous.as_ref(),
        ]
        .into_iter()
        .flatten()
        .any(|s| s.uuid.as_deref() == Some(uuid))
    }

    /// Plans the next action of the current rotation from what Adobe holds now.
    pub fn plan(&self, adobe: &[SecretInfo], now: u64) -> Result<Action, PlanError> {
        let rot = self.rotation.as_ref().ok_or(PlanError::NoRotation)?;
        let at_adobe = |uuid: &str| adobe.iter().any(|s| s.uuid == uuid);
        match rot.step {
            Step::Create => {
                if let Some(uuid) = self.pending.as_ref().and_then(|p| p.uuid.as_deref()) {
                    if at_adobe(uuid) {
                        return Ok(Action::Skip);
                    }
                }
                let Some(active) = self.active.uuid.as_deref() else {
                    return Ok(match adobe {
                        [only] => Action::Identify(only.uuid.clone()),
                        _ => Action::Probe,
                    });
                };
                if !at_adobe(active) {
                    return Err(PlanError::ActiveMissing(active.to_owned()));
                }
                if adobe.len() >= 2 {
                    let unused = adobe
                        .iter()
                        .find(|s| s.uuid != active && !self.known(&s.uuid))
                        .or_else(|| adobe.iter().find(|s| s.uuid != active));
                    if let Some(s) = unused {
                        return Ok(Action::DeleteUnused(s.uuid.clone()));
                    }
                }
                Ok(Action::Add)
            }
            Step::Test => match self.pending.as_ref().and_then(|p| p.uuid.as_deref()) {
                // The pending secret is gone from Adobe, so its test can never pass: the Worker
                // deleted it again after its record failed to store (and the error's record then
                // stored it), or an operator deleted it before the record said pending. Without
                // this the rotation retried the test forever (found by `fuzz/rotation`). `skip`
                // drops it and goes back to create.
                Some(uuid) if !at_adobe(uuid) => Ok(Action::Skip),
                _ => Ok(Action::Test),
            },
            Step::Promote => match self.pending.as_ref().and_then(|p| p.uuid.as_deref()) {
                None => Ok(Action::Skip),
                Some(p) if Some(p) == self.active.uuid.as_deref() => Ok(Action::Skip),
                // Gone from Adobe since its test (deleted by hand in a race with this rotation,
                // found by `fuzz/rotation`): promoting it would make a missing secret active.
                // `skip` drops it and goes back to create.
                Some(p) if !at_adobe(p) => Ok(Action::Skip),
                Some(_) => Ok(Action::Promote),
            },
            Step::Retire => {
                // Never retire while the active secret is not at Adobe: PREVIOUS may be the last
                // secret that works. (The delete handler checks `may_delete` and deletes later;
                // in between a rotation can promote the very secret it deletes. `fuzz/rotation`
                // found that retire then deleted the last usable secret.)
                if let Some(active) = self.active.uuid.as_deref() {
                    if !at_adobe(active) {
                        return Err(PlanError::ActiveMissing(active.to_owned()));
                    }
                }
                let until = rot.retire_after_ms.unwrap_or(0);
                if now < until {
                    return Ok(Action::WaitUntil(until));
                }
                match self.previous.as_ref().and_then(|p| p.uuid.clone()) {
                    Some(uuid)
                        if at_adobe(&uuid)
                            && Some(uuid.as_str()) != self.active.uuid.as_deref() =>
                    {
                        Ok(Action::Retire(uuid))
                    }
                    _ => Ok(Action::Skip),
                }
            }
            Step::Done => Ok(Action::Done),
        }
    }

    fn rot(&mut self, now: u64) -> Option<&mut Rotation> {
        let r = self.rotation.as_mut()?;
        r.updated_at_ms = now;
        Some(r)
    }

    fn event(&mut self, now: u64, what: &str, uuid: Option<&str>) {
        if let Some(r) = self.rot(now) {
            r.events.push(Event {
                at_ms: now,
                what: what.to_owned(),
                uuid: uuid.map(str::to_owned),
            });
        }
    }

    fn advance(&mut self, now: u64, to: Step) {
        if let Some(r) = self.rot(now) {
            r.step = to;
            r.last_error = None;
            if to == Step::Done {
                r.finished_at_ms = Some(now);
            }
        }
    }

    /// Records the active secret's uuid.
    pub fn identified(&mut self, uuid: &str, now: u64) {
        self.active.uuid = Some(uuid.to_owned());
        self.event(now, "identified", Some(uuid));
    }

    /// Records that an unused secret was deleted at Adobe.
    pub fn deleted_unused(&mut self, uuid: &str, now: u64) {
        self.event(now, "deleted_unused", Some(uuid));
    }

    /// Records, before the add, that an add is under way.
    pub fn adding(&mut self, now: u64) {
        if let Some(r) = self.rot(now) {
            r.adding_since_ms = Some(now);
        }
    }

    /// Records the new secret, sealed, as pending, and moves to the test step.
    pub fn added(&mut self, uuid: &str, sealed: String, created_at_ms: u64, now: u64) {
        self.pending = Some(Slot {
            uuid: Some(uuid.to_owned()),
            source: Source::Stored,
            sealed: Some(sealed),
            created_at_ms: Some(created_at_ms),
            verified_at_ms: None,
            refused_at_ms: None,
        });
        if let Some(r) = self.rot(now) {
            r.adding_since_ms = None;
        }
        self.event(now, "added", Some(uuid));
        self.advance(now, Step::Test);
    }

    /// Records a successful test of the pending secret.
    pub fn tested(&mut self, now: u64) {
        let uuid = self.pending.as_mut().map(|p| {
            p.verified_at_ms = Some(now);
            p.uuid.clone()
        });
        self.event(now, "tested", uuid.flatten().as_deref());
        self.advance(now, Step::Promote);
    }

    /// Pending becomes active, active becomes previous; retire waits `grace_ms`.
    pub fn promote(&mut self, now: u64, grace_ms: u64) {
        if let Some(pending) = self.pending.take() {
            let uuid = pending.uuid.clone();
            self.previous = Some(std::mem::replace(&mut self.active, pending));
            self.event(now, "promoted", uuid.as_deref());
        }
        if let Some(r) = self.rot(now) {
            r.retire_after_ms = Some(now + grace_ms);
        }
        self.advance(now, Step::Retire);
    }

    /// Records the previous secret as deleted at Adobe (or found already gone) and finishes.
    pub fn retired(&mut self, now: u64) {
        let uuid = self.previous.take().and_then(|p| p.uuid);
        self.event(now, "retired", uuid.as_deref());
        self.advance(now, Step::Done);
    }

    /// Records that the current step's effect was already visible.
    pub fn skip(&mut self, now: u64) {
        let Some(step) = self.rotation.as_ref().map(|r| r.step) else {
            return;
        };
        match step {
            Step::Create => self.advance(now, Step::Test),
            Step::Promote
                if self.pending.as_ref().is_some_and(|p| {
                    p.uuid.is_some() && p.uuid.as_deref() != self.active.uuid.as_deref()
                }) =>
            {
                // Planned with an unpromoted pending secret only when it is gone from Adobe.
                self.pending_lost(now);
            }
            Step::Promote => {
                let grace = 0;
                if let Some(r) = self.rot(now) {
                    r.retire_after_ms.get_or_insert(now + grace);
                }
                self.pending = None;
                self.advance(now, Step::Retire);
            }
            Step::Retire => self.retired(now),
            // Planned only when the pending secret is gone from Adobe.
            Step::Test => self.pending_lost(now),
            Step::Done => {}
        }
    }

    /// Drops a pending secret that is gone from Adobe and goes back to create.
    fn pending_lost(&mut self, now: u64) {
        let uuid = self.pending.take().and_then(|p| p.uuid);
        self.event(now, "pending_lost", uuid.as_deref());
        self.advance(now, Step::Create);
    }

    /// Records an error at the current step.
    pub fn failed(&mut self, message: impl Into<String>, now: u64) {
        if let Some(r) = self.rot(now) {
            r.last_error = Some(StepError {
                at_ms: now,
                step: r.step,
                message: message.into(),
            });
        }
    }
}

/// Why a secret may not be deleted by hand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeleteRefusal {
    /// Adobe does not hold it.
    #[error("no secret {0:?} at Adobe for this credential")]
    Unknown(String),
    /// It is the credential's only secret.
    #[error("refusing to delete the only secret of the credential")]
    Only,
    /// The broker uses it.
    #[error("refusing to delete the secret the broker uses; rotate first")]
    Active,
    /// The broker does not know yet which secret it uses.
    #[error("the broker does not know yet which secret it uses; start a rotation (it identifies it) before deleting")]
    ActiveUnknown,
    /// A running rotation is about to promote it.
    #[error("refusing to delete the secret a running rotation is about to promote")]
    Pending,
    /// The secret the broker uses is not at Adobe: the others may be the last ones that work.
    #[error("the secret the broker uses is not at Adobe any more; refusing to delete another one")]
    ActiveMissing,
}

impl CredentialState {
    /// The uuid of the secret the broker uses, when known: recorded, or, for the bootstrap
    /// secret, the only secret Adobe holds.
    pub fn active_uuid(&self, adobe: &[SecretInfo]) -> Option<String> {
        self.active.uuid.clone().or_else(|| match adobe {
            [only] if self.active.source == Source::Bootstrap => Some(only.uuid.clone()),
            _ => None,
        })
    }

    /// The role of a secret Adobe lists: `active`, `pending`, `previous`, or none.
    pub fn role(&self, uuid: &str, adobe: &[SecretInfo]) -> Option<&'static str> {
        let is = |slot: Option<&Slot>| slot.and_then(|s| s.uuid.as_deref()) == Some(uuid);
        if self.active_uuid(adobe).as_deref() == Some(uuid) {
            Some("active")
        } else if is(self.pending.as_ref()) {
            Some("pending")
        } else if is(self.previous.as_ref()) {
            Some("previous")
        } else {
            None
        }
    }

    /// Whether an operator may delete `uuid` now: never the only, the active or the pending
    /// secret, nor any while the active one is missing at Adobe, so the broker always keeps one
    /// secret Adobe accepts.
    pub fn may_delete(&self, uuid: &str, adobe: &[SecretInfo]) -> Result<(), DeleteRefusal> {
        if !adobe.iter().any(|s| s.uuid == uuid) {
            return Err(DeleteRefusal::Unknown(uuid.chars().take(64).collect()));
        }
        if adobe.len() == 1 {
            return Err(DeleteRefusal::Only);
        }
        match self.active_uuid(adobe) {
            None => Err(DeleteRefusal::ActiveUnknown),
            Some(active) if active == uuid => Err(DeleteRefusal::Active),
            // Found by `fuzz/rotation`: once the active secret was gone (deleted in a race with
            // a rotation), deleting the previous one left the broker no secret that works.
            Some(active) if !adobe.iter().any(|s| s.uuid == active) => {
                Err(DeleteRefusal::ActiveMissing)
            }
            Some(_) if self.pending.as_ref().and_then(|p| p.uuid.as_deref()) == Some(uuid) => {
                Err(DeleteRefusal::Pending)
            }
            Some(_) => Ok(()),
        }
    }
}

/// The secret `last_used_at` says was used since `probe_ms` (the probe's mint), if exactly one.
pub fn identify_by_usage(adobe: &[SecretInfo], probe_ms: u64) -> Option<String> {
    let mut used = adobe
        .iter()
        .filter(|s| s.last_used_at_ms.is_some_and(|t| t >= probe_ms));
    let first = used.next()?;
    used.next().is_none().then(|| first.uuid.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(uuids: &[&str]) -> Vec<SecretInfo> {
        uuids
            .iter()
            .map(|u| SecretInfo {
                uuid: (*u).into(),
                created_at_ms: 0,
                last_used_at_ms: None,
            })
            .collect()
    }

    fn rotating() -> CredentialState {
        let mut s = CredentialState::default();
        assert!(s.start("r1", 0));
        s
    }

    #[test]
    fn full_rotation_from_a_bootstrap_secret() {
        let mut s = rotating();
        assert_eq!(s.plan(&at(&["old"]), 1), Ok(Action::Identify("old".into())));
        s.identified("old", 1);
        assert_eq!(s.plan(&at(&["old"]), 2), Ok(Action::Add));
        s.adding(2);
        s.added("new", "v1.sealed".into(), 2, 3);
        assert_eq!(s.plan(&at(&["old", "new"]), 4), Ok(Action::Test));
        s.tested(4);
        assert_eq!(s.plan(&at(&["old", "new"]), 5), Ok(Action::Promote));
        s.promote(5, 1_000);
        assert_eq!(s.active.uuid.as_deref(), Some("new"));
        assert_eq!(s.previous.as_ref().unwrap().source, Source::Bootstrap);
        assert_eq!(
            s.plan(&at(&["old", "new"]), 6),
            Ok(Action::WaitUntil(1_005))
        );
        assert_eq!(
            s.plan(&at(&["old", "new"]), 1_005),
            Ok(Action::Retire("old".into()))
        );
        s.retired(1_006);
        assert!(!s.rotating());
        assert_eq!(s.plan(&at(&["new"]), 2_000), Ok(Action::Done));
        let whats: Vec<&str> = s
            .rotation
            .as_ref()
            .unwrap()
            .events
            .iter()
            .map(|e| e.what.as_str())
            .collect();
        assert_eq!(
            whats,
            ["identified", "added", "tested", "promoted", "retired"]
        );
        assert_eq!(CredentialState::from_json(&s.to_json()), Some(s));
    }

    #[test]
    fn a_refused_secret_is_tried_last_until_it_is_accepted_again() {
        let stored = |uuid: &str| Slot {
            uuid: Some(uuid.into()),
            source: Source::Stored,
            sealed: Some(format!("sealed-{uuid}")),
            created_at_ms: Some(1),
            verified_at_ms: Some(10),
            refused_at_ms: None,
        };
        let mut s = CredentialState {
            active: stored("new"),
            previous: Some(stored("old")),
            ..CredentialState::default()
        };
        let roles = |s: &CredentialState| {
            s.mint_order()
                .into_iter()
                .map(|(r, _)| r)
                .collect::<Vec<_>>()
        };
        use SlotRole::*;
        assert_eq!(roles(&s), [Active, Previous, Bootstrap]);
        // The active secret was refused and the previous one accepted: previous first from now on.
        s.fell_back(&[Active], Previous, 20);
        assert_eq!(roles(&s), [Previous, Bootstrap, Active]);
        assert_eq!(s.previous.as_ref().unwrap().verified_at_ms, Some(20));
        // Accepted again later (e.g. by the rotation's own mint): back in its place.
        s.active.verified_at_ms = Some(30);
        assert_eq!(roles(&s), [Active, Previous, Bootstrap]);
        // The bootstrap secret has no slot here: nothing to record for it.
        s.fell_back(&[Active, Previous], Bootstrap, 40);
        assert_eq!(roles(&s), [Bootstrap, Active, Previous]);
        // The field is written only when set, and read back.
        assert!(!CredentialState::default()
            .to_json()
            .contains("refused_at_ms"));
        assert_eq!(CredentialState::from_json(&s.to_json()), Some(s));
    }

    #[test]
    fn the_record_json_is_written_and_read_field_by_field() {
        let slot = |uuid: Option<&str>, sealed: Option<&str>| Slot {
            uuid: uuid.map(str::to_owned),
            source: if sealed.is_some() {
                Source::Stored
            } else {
                Source::Bootstrap
            },
            sealed: sealed.map(str::to_owned),
            created_at_ms: sealed.map(|_| 7),
            verified_at_ms: uuid.map(|_| u64::MAX),
            refused_at_ms: None,
        };
        let mut full = CredentialState {
            v: 1,
            active: slot(Some("a\"\\\u{1}\n"), None),
            pending: Some(slot(Some("p"), Some("env.é😀"))),
            previous: Some(slot(None, None)),
            rotation: Some(Rotation {
                id: "r\t1".into(),
                step: Step::Promote,
                started_at_ms: 1,
                updated_at_ms: 2,
                finished_at_ms: Some(3),
                adding_since_ms: None,
                retire_after_ms: Some(4),
                last_error: Some(StepError {
                    at_ms: 5,
                    step: Step::Test,
                    message: "boom \u{7f}".into(),
                }),
                events: vec![
                    Event {
                        at_ms: 6,
                        what: "added".into(),
                        uuid: Some("p".into()),
                    },
                    Event {
                        at_ms: 8,
                        what: "tested".into(),
                        uuid: None,
                    },
                ],
            }),
        };
        assert_eq!(
            full.to_json(),
            concat!(
                r#"{"v":1,"active":{"uuid":"a\"\\\u0001\n","source":"bootstrap","created_at_ms":null,"verified_at_ms":18446744073709551615},"#,
                r#""pending":{"uuid":"p","source":"stored","sealed":"env.é😀","created_at_ms":7,"verified_at_ms":18446744073709551615},"#,
                r#""previous":{"uuid":null,"source":"bootstrap","created_at_ms":null,"verified_at_ms":null},"#,
                r#""rotation":{"id":"r\t1","step":"promote","started_at_ms":1,"updated_at_ms":2,"finished_at_ms":3,"adding_since_ms":null,"retire_after_ms":4,"#,
                "\"last_error\":{\"at_ms\":5,\"step\":\"test\",\"message\":\"boom \u{7f}\"},",
                r#""events":[{"at_ms":6,"what":"added","uuid":"p"},{"at_ms":8,"what":"tested"}]}}"#
            )
        );
        assert_eq!(
            CredentialState::default().to_json(),
            r#"{"v":1,"active":{"uuid":null,"source":"bootstrap","created_at_ms":null,"verified_at_ms":null},"pending":null,"previous":null,"rotation":null}"#
        );
        for state in [CredentialState::default(), rotating(), full.clone()] {
            assert_eq!(CredentialState::from_json(&state.to_json()), Some(state));
        }
        // Fields in another order, unknown fields, absent options, whitespace.
        let text = r#" { "rotation" : {"events":[{"what":"x","at_ms":1,"extra":[{}]}],
            "step":"retire","id":"i","updated_at_ms":2,"started_at_ms":1},
            "x": {"deep": [[[null]]]}, "active": {"source":"stored"}, "v": 1 } "#;
        let read = CredentialState::from_json(text).unwrap();
        assert_eq!(read.active.source, Source::Stored);
        assert_eq!(read.active.uuid, None);
        let rotation = read.rotation.unwrap();
        assert_eq!((rotation.step, rotation.events.len()), (Step::Retire, 1));
        assert_eq!((rotation.finished_at_ms, rotation.last_error), (None, None));
        full.v = 2;
        assert_eq!(CredentialState::from_json(&full.to_json()), None);
        for bad in [
            r#"{"v":1,"active":{"source":"bootstrap"},"v":1}"#,
            r#"{"v":1,"active":{"source":"other"}}"#,
            r#"{"v":1}"#,
            r#"{"v":1.0,"active":{"source":"stored"}}"#,
            r#"{"v":257,"active":{"source":"stored"}}"#,
            r#"{"v":1,"active":{"source":"stored"},"rotation":{"id":"i","step":"done","started_at_ms":1,"updated_at_ms":1,"events":null}}"#,
            r#"{"v":1,"active":{"source":"stored"}} x"#,
            r#"[1,{"source":"stored"}]"#,
        ] {
            assert_eq!(CredentialState::from_json(bad), None, "{bad}");
        }
    }

    #[test]
    fn two_secrets_at_adobe_make_room_but_never_delete_the_active_one() {
        let mut s = rotating();
        s.identified("old", 0);
        assert_eq!(
            s.plan(&at(&["old", "stray"]), 1),
            Ok(Action::DeleteUnused("stray".into()))
        );
        assert_eq!(
            s.plan(&at(&["stray", "old"]), 1),
            Ok(Action::DeleteUnused("stray".into()))
        );
        let mut unknown = rotating();
        assert_eq!(unknown.plan(&at(&["a", "b"]), 1), Ok(Action::Probe));
        unknown.identified("b", 1);
        assert_eq!(
            unknown.plan(&at(&["a", "b"]), 1),
            Ok(Action::DeleteUnused("a".into()))
        );
    }

    #[test]
    fn an_add_whose_answer_was_lost_leaves_an_orphan_that_is_cleaned_on_resume() {
        let mut s = rotating();
        s.identified("old", 0);
        s.adding(1);
        // Worker died after Adobe created "orphan" but before it was stored.
        assert_eq!(
            s.plan(&at(&["old", "orphan"]), 2),
            Ok(Action::DeleteUnused("orphan".into()))
        );
    }

    #[test]
    fn resumed_steps_whose_effect_is_visible_are_only_recorded() {
        let mut s = rotating();
        s.identified("old", 0);
        s.added("new", "x".into(), 0, 1);
        // Record says test, pending stored: fine. Now simulate a crash after promote's write of
        // slots but with the step still at promote.
        s.tested(2);
        let mut promoted = s.clone();
        promoted.promote(3, 0);
        promoted.rotation.as_mut().unwrap().step = Step::Promote;
        promoted.pending = Some(promoted.active.clone());
        assert_eq!(promoted.plan(&at(&["old", "new"]), 4), Ok(Action::Skip));
        // Retire whose delete happened but was not recorded.
        s.promote(5, 0);
        assert_eq!(s.plan(&at(&["new"]), 6), Ok(Action::Skip));
        s.skip(6);
        assert!(!s.rotating());
        assert!(s.previous.is_none());
    }

    #[test]
    fn a_pending_secret_gone_from_adobe_is_recreated_not_tested_forever() {
        // Regression (cargo fuzz, rotation): the pending record failed to store, the Worker
        // deleted the new secret again, and the error's own write then stored the record with
        // that pending secret. Every resume tested it and failed: the rotation never finished.
        let mut s = rotating();
        s.identified("old", 0);
        s.adding(1);
        s.added("new", "x".into(), 1, 2);
        s.failed("writing default's secrets: KV refused", 3);
        assert_eq!(s.plan(&at(&["old"]), 4), Ok(Action::Skip));
        s.skip(4);
        let r = s.rotation.as_ref().unwrap();
        assert_eq!((r.step, s.pending.as_ref()), (Step::Create, None));
        assert_eq!(r.events.last().unwrap().what, "pending_lost");
        assert_eq!(s.plan(&at(&["old"]), 5), Ok(Action::Add));
        // While the pending secret is at Adobe the test runs as before.
        s.added("newer", "y".into(), 5, 6);
        assert_eq!(s.plan(&at(&["old", "newer"]), 7), Ok(Action::Test));
        // Tested, then deleted by hand before the promote: never promoted.
        s.tested(8);
        assert_eq!(s.plan(&at(&["old"]), 9), Ok(Action::Skip));
        s.skip(9);
        assert_eq!(
            (s.active.uuid.as_deref(), s.pending.as_ref()),
            (Some("old"), None)
        );
        assert_eq!(s.rotation.as_ref().unwrap().step, Step::Create);
        // A promote whose record was written but whose step was not: still only recorded.
        s.added("newest", "z".into(), 10, 11);
        s.tested(12);
        assert_eq!(s.plan(&at(&["old", "newest"]), 13), Ok(Action::Promote));
        let mut promoted = s.clone();
        promoted.promote(14, 0);
        promoted.rotation.as_mut().unwrap().step = Step::Promote;
        promoted.pending = Some(promoted.active.clone());
        assert_eq!(promoted.plan(&at(&["old", "newest"]), 15), Ok(Action::Skip));
        promoted.skip(15);
        assert_eq!(promoted.rotation.as_ref().unwrap().step, Step::Retire);
        assert_eq!(promoted.active.uuid.as_deref(), Some("newest"));
    }

    #[test]
    fn retire_never_deletes_the_previous_secret_while_the_active_one_is_gone() {
        // Regression (cargo fuzz, rotation): the new secret was deleted by hand right after its
        // promotion; retiring the previous one would have left no secret that works.
        let mut s = rotating();
        s.identified("old", 0);
        s.added("new", "x".into(), 0, 1);
        s.tested(2);
        s.promote(3, 0);
        assert_eq!(
            s.plan(&at(&["old"]), 4),
            Err(PlanError::ActiveMissing("new".into()))
        );
        assert_eq!(
            s.plan(&at(&["old", "new"]), 4),
            Ok(Action::Retire("old".into()))
        );
    }

    #[test]
    fn a_second_start_while_rotating_is_refused() {
        let mut s = rotating();
        assert!(!s.start("r2", 1));
        assert_eq!(s.rotation.as_ref().unwrap().id, "r1");
    }

    #[test]
    fn errors_are_recorded_at_their_step_and_cleared_by_progress() {
        let mut s = rotating();
        s.identified("old", 0);
        s.added("new", "x".into(), 0, 1);
        s.failed("IMS answered invalid_client", 2);
        let r = s.rotation.as_ref().unwrap();
        assert_eq!(
            (r.step, r.last_error.as_ref().unwrap().step),
            (Step::Test, Step::Test)
        );
        s.tested(3);
        assert!(s.rotation.as_ref().unwrap().last_error.is_none());
    }

    #[test]
    fn active_missing_at_adobe_stops_the_rotation() {
        let mut s = rotating();
        s.identified("old", 0);
        assert_eq!(
            s.plan(&at(&["other"]), 1),
            Err(PlanError::ActiveMissing("old".into()))
        );
    }

    #[test]
    fn identify_by_usage_needs_exactly_one_recent_use() {
        let mut list = at(&["a", "b"]);
        list[0].last_used_at_ms = Some(100);
        list[1].last_used_at_ms = Some(50);
        assert_eq!(identify_by_usage(&list, 90), Some("a".into()));
        assert_eq!(identify_by_usage(&list, 40), None);
        assert_eq!(identify_by_usage(&list, 200), None);
    }

    #[test]
    fn manual_deletes_never_remove_the_only_active_or_pending_secret() {
        let mut s = CredentialState::default();
        assert_eq!(s.may_delete("a", &at(&["a"])), Err(DeleteRefusal::Only));
        assert_eq!(
            s.may_delete("x", &at(&["a", "b"])),
            Err(DeleteRefusal::Unknown("x".into()))
        );
        assert_eq!(
            s.may_delete("a", &at(&["a", "b"])),
            Err(DeleteRefusal::ActiveUnknown)
        );
        s.identified("a", 0);
        assert_eq!(
            s.may_delete("a", &at(&["a", "b"])),
            Err(DeleteRefusal::Active)
        );
        assert_eq!(s.may_delete("b", &at(&["a", "b"])), Ok(()));
        assert!(s.start("r", 0));
        s.added("b", "x".into(), 0, 1);
        assert_eq!(
            s.may_delete("b", &at(&["a", "b"])),
            Err(DeleteRefusal::Pending)
        );
        assert_eq!(s.role("b", &at(&["a", "b"])), Some("pending"));
        assert_eq!(s.role("a", &at(&["a", "b"])), Some("active"));
    }

    #[test]
    fn no_manual_delete_while_the_active_secret_is_missing_at_adobe() {
        // Regression (cargo fuzz, rotation): the active secret was gone and the operator could
        // delete the previous one, the last that still worked.
        let mut s = rotating();
        s.identified("old", 0);
        s.added("new", "x".into(), 0, 1);
        s.tested(2);
        s.promote(3, 0);
        assert_eq!(
            s.may_delete("old", &at(&["old", "stray"])),
            Err(DeleteRefusal::ActiveMissing)
        );
        assert_eq!(s.may_delete("stray", &at(&["old", "new", "stray"])), Ok(()));
    }

    #[test]
    fn the_bootstrap_secret_is_active_when_it_is_the_only_one() {
        let s = CredentialState::default();
        assert_eq!(s.active_uuid(&at(&["a"])), Some("a".into()));
        assert_eq!(s.active_uuid(&at(&["a", "b"])), None);
    }
}
