//! The credential's Durable Object: one per credential (named by the credential's name), the
//! single authority for everything the broker must never get wrong about it.
//!
//! - **The secrets record** lives in the object's storage (`crate::record_store`: schema,
//!   import from the KV design). Isolates learn it only from the object's answers.
//! - **Minting**: an isolate that misses in memory and KV asks the object (`…/token`); the
//!   object serves from its own cache (memory, KV) or mints with the record's secrets, one IMS
//!   call per cache key at a time for every isolate in every location, writes KV, and answers
//!   the token with the record.
//! - **Rotations** run here, one run at a time: a rotate call while a run is at work answers
//!   `busy` with the record as it is. Each step is committed with one storage write. Before a
//!   run the object sets an alarm `ROTATION_RESUME_S` ahead, so a run stopped mid-step (the
//!   object evicted or restarted) is resumed; after it, the alarm is set to when the rotation
//!   can go on: the end of the grace period (retire), a retry after a failed step, or the
//!   `ROTATE_AFTER_DAYS` due time. Alarms are retried by the platform until they succeed.
//! - **Deletes** asked through the API are checked against the record and done here, never
//!   while a run is at work (409), so a delete can never race a step.
//!
//! The object's fetch answers JSON only to isolates of this Worker (it has no public route);
//! the wire is `crate::credential_client`.

use crate::api_error::ApiError;
use crate::config::BrokerConfig;
use crate::credential_client::{
    Answer, Ask, Deleted, Outcome, RecordAnswer, RotateAnswer, SecretsAnswer,
};
use crate::isolate::Isolate;
use crate::log::Fields;
use crate::record_store;
use crate::reply::Reply;
use crate::rotation::ObjectRotation;
use crate::runtime::WorkerPlatform;
use ims_core::cache::{CacheOutcome, Minted, TokenSpec};
use ims_core::credentials::Credential;
use ims_core::refused::RefusedToken;
use ims_core::rotation::{CredentialState, SlotRole};
use ims_core::rotation_runner;
use ims_core::{ClientSecret, ScopeSet};
use serde::Serialize;
use std::cell::Cell;
use std::rc::Rc;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

/// How long after a failed rotation step the alarm tries again, ms.
const RETRY_MS: u64 = 60_000;
/// How often an object with `ROTATE_AFTER_DAYS` set checks the active secret's age at most, ms.
const DAY_MS: u64 = 86_400_000;

/// The Durable Object class.
#[durable_object]
pub struct CredentialObject {
    state: State,
    env: Env,
    /// True while a rotation run is at work in this object.
    running: Cell<bool>,
    /// True once the credential's name is in storage.
    named: Cell<bool>,
}

/// What one call works with.
struct Scope {
    isolate: Rc<Isolate>,
    cfg: Rc<BrokerConfig>,
    cred: Credential,
    platform: WorkerPlatform,
}

/// Clears the running mark when the run ends, however it ends.
struct Running<'a>(&'a Cell<bool>);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

impl DurableObject for CredentialObject {
    fn new(state: State, env: Env) -> Self {
        Self {
            state,
            env,
            running: Cell::new(false),
            named: Cell::new(false),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let url = req.url()?;
        let parts: Vec<String> = url
            .path_segments()
            .map(|s| s.map(str::to_owned).collect())
            .unwrap_or_default();
        let method = req.method().to_string();
        let body = req.bytes().await?;
        let json = match (method.as_str(), parts.as_slice()) {
            ("POST", [name, op]) if op == "token" => self.token(name, &body).await.to_json(),
            ("GET", [name, op]) if op == "record" => answer(self.record(name).await),
            ("GET", [name, op]) if op == "secrets" => answer(self.secrets(name).await),
            ("POST", [name, op]) if op == "rotate" => answer(self.rotate(name).await),
            ("DELETE", [name, op, uuid]) if op == "secrets" => {
                answer(self.delete(name, uuid).await)
            }
            _ => return Reply::empty(404).into_worker(),
        };
        Reply::with_type(200, "application/json", json.into_bytes()).into_worker()
    }

    async fn alarm(&self) -> Result<Response> {
        self.on_alarm()
            .await
            .map_err(|e| worker::Error::from(e.to_string()))?;
        Response::empty()
    }
}

/// An operator call's answer as JSON.
fn answer<T: Serialize>(result: std::result::Result<T, ApiError>) -> String {
    serde_json::to_string(&Outcome::from(result)).unwrap_or_default()
}

impl CredentialObject {
    /// The settings, the credential and the runtime for a call on `name`.
    async fn scope(&self, name: &str) -> std::result::Result<Scope, ApiError> {
        let isolate = Isolate::current();
        let cfg = isolate.config(&self.env)?;
        let cred = cfg.credential(name)?.clone();
        let platform = WorkerPlatform::of(&isolate, &self.env)?.local();
        if !self.named.get() {
            record_store::remember_name(&self.state.storage(), name).await?;
            self.named.set(true);
        }
        Ok(Scope {
            isolate,
            cfg,
            cred,
            platform,
        })
    }

    /// The record, from storage (imported from KV on the first access).
    async fn load(&self, s: &Scope) -> std::result::Result<CredentialState, ApiError> {
        let p = &s.platform;
        record_store::load(&self.state.storage(), p.kv(), p.keys(), &s.cred.name).await
    }

    fn rotation<'a>(&'a self, s: &'a Scope, storage: &'a worker::Storage) -> ObjectRotation<'a> {
        ObjectRotation {
            env: &self.env,
            cfg: &s.cfg,
            cred: &s.cred,
            platform: &s.platform,
            cache: &s.isolate.object_cache,
            storage,
        }
    }

    async fn record(&self, name: &str) -> std::result::Result<RecordAnswer, ApiError> {
        let s = self.scope(name).await?;
        let record = self.load(&s).await?;
        self.schedule_if_unset(&s, &record).await;
        Ok(RecordAnswer { record })
    }

    async fn secrets(&self, name: &str) -> std::result::Result<SecretsAnswer, ApiError> {
        let s = self.scope(name).await?;
        let record = self.load(&s).await?;
        let storage = self.state.storage();
        let adobe = self.rotation(&s, &storage).adobe(&record).await?;
        Ok(SecretsAnswer { record, adobe })
    }

    async fn rotate(&self, name: &str) -> std::result::Result<RotateAnswer, ApiError> {
        let s = self.scope(name).await?;
        if self.running.get() {
            let record = self.load(&s).await?;
            return Ok(RotateAnswer { record, busy: true });
        }
        let record = self.run(&s, true).await?;
        Ok(RotateAnswer {
            record,
            busy: false,
        })
    }

    async fn delete(&self, name: &str, uuid: &str) -> std::result::Result<Deleted, ApiError> {
        let s = self.scope(name).await?;
        // Held from the check to the delete: no rotation step runs in between.
        let _guard = self.hold(name)?;
        let record = self.load(&s).await?;
        let storage = self.state.storage();
        self.rotation(&s, &storage).delete(&record, uuid).await?;
        Ok(Deleted {})
    }

    /// Marks a run (or a delete) as at work; `Err` (409) when one already is.
    fn hold(&self, name: &str) -> std::result::Result<Running<'_>, ApiError> {
        if self.running.replace(true) {
            return Err(ApiError::Conflict(format!(
                "a rotation of {name:?} is running; try again when it has finished"
            )));
        }
        Ok(Running(&self.running))
    }

    /// One rotation run (starting one when `start`), with the alarm that resumes it should the
    /// object stop mid-step, and the alarm for what comes next.
    async fn run(&self, s: &Scope, start: bool) -> std::result::Result<CredentialState, ApiError> {
        let _guard = self.hold(&s.cred.name)?;
        let storage = self.state.storage();
        let mut record = self.load(s).await?;
        if !start && !record.rotating() {
            self.schedule(s, &record, None).await;
            return Ok(record);
        }
        let now = crate::platform::now_ms();
        self.set_alarm(&s.cred.name, now + s.cfg.rotation_resume_ms)
            .await;
        let outcome = self.rotation(s, &storage).run(&mut record, start).await;
        self.schedule(s, &record, outcome.as_ref().ok()).await;
        outcome.map(|_| record)
    }

    /// The alarm: resumes an unfinished rotation, starts a due one.
    async fn on_alarm(&self) -> std::result::Result<(), ApiError> {
        let Some(name) = record_store::name(&self.state.storage()).await? else {
            return Ok(());
        };
        let s = self.scope(&name).await?;
        if self.running.get() {
            // A run at work sets the next alarm when it ends (replacing this one); a delete at
            // work does not, so the alarm comes back.
            crate::log::event(
                "rotation_alarm",
                Fields::new().str("credential", &name).bool("busy", true),
                None,
            );
            let at = crate::platform::now_ms() + s.cfg.rotation_resume_ms;
            self.set_alarm(&name, at).await;
            return Ok(());
        }
        let record = self.load(&s).await?;
        let start = !record.rotating() && self.due(&s, &record).await;
        let rotating = record.rotating();
        crate::log::event(
            "rotation_alarm",
            Fields::new()
                .str("credential", &name)
                .bool("resume", rotating)
                .bool("start", start),
            None,
        );
        self.run(&s, start).await.map(|_| ())
    }

    /// True when `ROTATE_AFTER_DAYS` is set and the active secret is older than that.
    async fn due(&self, s: &Scope, record: &CredentialState) -> bool {
        let Some(days) = s.cfg.rotate_after_days else {
            return false;
        };
        if s.cred.org_id.is_none() || s.cred.credential_id.is_none() {
            return false;
        }
        let created = match record.active.created_at_ms {
            Some(c) => Some(c),
            None => {
                let storage = self.state.storage();
                let adobe = self.rotation(s, &storage).adobe(record).await.ok();
                adobe.and_then(|adobe| {
                    let uuid = record
                        .active
                        .uuid
                        .clone()
                        .or_else(|| match adobe.as_slice() {
                            [only] => Some(only.uuid.clone()),
                            _ => None,
                        })?;
                    adobe
                        .iter()
                        .find(|a| a.uuid == uuid)
                        .map(|a| a.created_at_ms)
                })
            }
        };
        created.is_some_and(|c| crate::platform::now_ms().saturating_sub(c) > days * DAY_MS)
    }

    /// Sets the alarm for what comes next after a run that ended with `outcome` (`None`: no
    /// run), or removes it when nothing will.
    async fn schedule(
        &self,
        s: &Scope,
        record: &CredentialState,
        outcome: Option<&rotation_runner::Outcome>,
    ) {
        let now = crate::platform::now_ms();
        let next = match outcome {
            Some(rotation_runner::Outcome::Waiting { until_ms }) => Some(*until_ms),
            Some(rotation_runner::Outcome::Failed) => Some(now + RETRY_MS),
            _ if record.rotating() => Some(now + RETRY_MS),
            _ => s.cfg.rotate_after_days.map(|_| now + DAY_MS),
        };
        match next {
            Some(at) => self.set_alarm(&s.cred.name, at).await,
            None => {
                if let Err(e) = self.state.storage().delete_alarm().await {
                    alarm_failed(&s.cred.name, &e);
                }
            }
        }
    }

    /// Sets the alarm for an object that has none yet although it will need one (an unfinished
    /// rotation, or `ROTATE_AFTER_DAYS`): the Cron Trigger wakes every object, so an object
    /// nobody called since the upgrade gets its alarm too.
    async fn schedule_if_unset(&self, s: &Scope, record: &CredentialState) {
        if self.running.get() || !(record.rotating() || s.cfg.rotate_after_days.is_some()) {
            return;
        }
        if matches!(self.state.storage().get_alarm().await, Ok(None)) {
            // An unfinished rotation (imported, or left by a run that stopped) is resumed as
            // after a stopped run; the active secret's age is checked at once.
            let wait = if record.rotating() {
                s.cfg.rotation_resume_ms
            } else {
                0
            };
            self.set_alarm(&s.cred.name, crate::platform::now_ms() + wait)
                .await;
        }
    }

    async fn set_alarm(&self, credential: &str, at_ms: u64) {
        let date =
            worker::js_sys::Date::new(&worker::wasm_bindgen::JsValue::from_f64(at_ms as f64));
        if let Err(e) = self
            .state
            .storage()
            .set_alarm(worker::ScheduledTime::new(date))
            .await
        {
            alarm_failed(credential, &e);
        }
    }

    /// A token for the ask in `body`, and the record it was minted with.
    async fn token(&self, name: &str, body: &[u8]) -> Answer {
        let refused = |e: ApiError| Answer {
            token: None,
            error: None,
            upstream: None,
            refusal: Some(e.into()),
            record: None,
        };
        let Some(ask) = Ask::from_json(body) else {
            return refused(ApiError::InvalidRequest("an unreadable ask".into()));
        };
        let s = match self.scope(name).await {
            Ok(s) => s,
            Err(e) => return refused(e),
        };
        let mut record = match self.load(&s).await {
            Ok(r) => r,
            Err(e) => return refused(e),
        };
        match self.mint(&s, &ask, &mut record).await {
            Ok(Ok((token, upstream))) => Answer {
                token: Some(token.to_stored(name)),
                error: None,
                upstream,
                refusal: None,
                record: Some(record),
            },
            Ok(Err(f)) => Answer {
                token: None,
                error: Some(f.error.to_wire()),
                upstream: f.upstream,
                refusal: None,
                record: Some(record),
            },
            Err(e) => refused(e),
        }
    }

    /// A usable token that is not stale, through the object's own cache (memory, KV), minting
    /// with the record's secrets (never asking an object again). Askers come when they have
    /// nothing usable or want a refresh, so a stale token is refreshed first; if that fails,
    /// the failure is the answer (an asker that still holds a usable token keeps serving it).
    /// A mint that fell back to another secret updates `record` ([`Self::record_fallback`]).
    async fn mint(
        &self,
        s: &Scope,
        ask: &Ask,
        record: &mut CredentialState,
    ) -> std::result::Result<Minted, ApiError> {
        let scopes =
            ScopeSet::from_comma(&ask.scopes).map_err(|e| ApiError::InvalidScope(e.to_string()))?;
        let tried = crate::secrets::known_slots(&self.env, s.platform.keys(), &s.cred, record)?;
        let secrets = tried.iter().map(|(_, secret)| secret.clone()).collect();
        let spec = TokenSpec::of_use(
            ask.use_,
            &s.cred.name,
            &s.cred.client_id,
            secrets,
            scopes,
            &s.cfg.token_url,
        );
        let cache = &s.isolate.object_cache;
        let now = crate::platform::now_ms();
        let refused = ask.refused.as_deref().and_then(RefusedToken::from_hex);
        let cached = match cache.from_memory(&spec.key, now) {
            Some(served) => Some(served),
            None => cache.from_store(&s.platform, &spec.key).await,
        };
        // A token a caller reported refused is replaced, at most once a minute per key (for all
        // isolates: they all ask this object); within the minute it is served as it is.
        let cached = cached.filter(|served| {
            let replace = refused.as_ref().is_some_and(|r| r.is(&served.token))
                && s.isolate
                    .object_replacements
                    .borrow_mut()
                    .allow(&spec.key, now);
            if replace {
                cache.forget(&spec.key);
            }
            !replace
        });
        let served = match cached {
            Some(served) => served,
            None => match cache.mint_for(&s.platform, &s.cfg.settings, &spec).await {
                Ok(served) => served,
                Err(f) => return Ok(Err(f)),
            },
        };
        if let Some(up) = served.upstream.as_ref().filter(|u| u.secret_index > 0) {
            self.record_fallback(s, &tried, up.secret_index, record)
                .await;
        }
        if served.outcome != CacheOutcome::Stale {
            return Ok(Ok(((*served.token).clone(), served.upstream)));
        }
        let upstream = match cache.refresh(&s.platform, &s.cfg.settings, &spec).await {
            Ok(up) => up,
            Err(f) => return Ok(Err(f)),
        };
        if let Some(up) = upstream.as_ref().filter(|u| u.secret_index > 0) {
            self.record_fallback(s, &tried, up.secret_index, record)
                .await;
        }
        // The refresh just put it in the object's memory.
        let token = cache.peek(&spec.key).ok_or_else(|| {
            ApiError::Storage("the refreshed token is not in the object's memory".into())
        })?;
        Ok(Ok(((*token).clone(), upstream)))
    }

    /// IMS refused the secrets tried before `index` (`invalid_client`) and accepted the one at
    /// `index`: logged, and written into the record so that every mint after it, here and in
    /// every isolate that learns the record, tries the accepted secret first. The record is read
    /// again right before the write (only storage calls in between, so no rotation step can
    /// land in the middle), and left alone if its secrets changed since the mint began.
    async fn record_fallback(
        &self,
        s: &Scope,
        tried: &[(SlotRole, ClientSecret)],
        index: usize,
        record: &mut CredentialState,
    ) {
        crate::secrets::log_fallback(&s.cred.name, index);
        let Some((accepted, _)) = tried.get(index) else {
            return;
        };
        let refused: Vec<SlotRole> = tried[..index].iter().map(|(role, _)| *role).collect();
        let Ok(mut current) = self.load(s).await else {
            return;
        };
        let keys = s.platform.keys();
        match crate::secrets::known_slots(&self.env, keys, &s.cred, &current) {
            Ok(now_known) if now_known == tried => {}
            _ => return,
        }
        current.fell_back(&refused, *accepted, crate::platform::now_ms());
        if record_store::save(&self.state.storage(), &current)
            .await
            .is_ok()
        {
            *record = current;
        }
    }
}

fn alarm_failed(credential: &str, e: &worker::Error) {
    crate::log::event(
        "alarm_failed",
        Fields::new()
            .str("level", "error")
            .str("credential", credential)
            .str("error", &e.to_string()),
        None,
    );
}
