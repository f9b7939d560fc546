//! `RotationState`: the core's secret-rotation state machine ([`CredentialState`]) for JS.
//! Pure: it plans the next action from what Adobe holds and records what was done; the
//! caller performs the actions (with `SecretsClient`) and persists the record.

use crate::error;
use crate::host::ms;
use crate::json::{field, num, to_js};
use ims_core::io_api::SecretInfo;
use ims_core::rotation::{self, Action, CredentialState, DEFAULT_GRACE_MS};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// Secrets as given by `SecretsClient.list()`: `[{ uuid, createdAt?, lastUsedAt? }]`.
fn secrets(value: &JsValue) -> Result<Vec<SecretInfo>, JsValue> {
    if !js_sys::Array::is_array(value) {
        return Err(error::invalid(
            "secrets must be an array of { uuid, createdAt, lastUsedAt }",
        ));
    }
    let list: &js_sys::Array = value.unchecked_ref();
    list.iter()
        .map(|item| {
            let uuid = field(&item, "uuid")
                .as_string()
                .ok_or_else(|| error::invalid("every secret needs a string uuid"))?;
            Ok(SecretInfo {
                uuid,
                created_at_ms: field(&item, "createdAt").as_f64().map_or(0, ms),
                last_used_at_ms: field(&item, "lastUsedAt").as_f64().map(ms),
            })
        })
        .collect()
}

/// One credential's durable rotation record and the rules that advance it.
#[wasm_bindgen]
pub struct RotationState(CredentialState);

#[wasm_bindgen]
impl RotationState {
    /// A fresh record: the active secret is the one the operator configured (uuid unknown).
    #[wasm_bindgen(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> RotationState {
        RotationState(CredentialState::default())
    }

    /// Reads a record written by `toJSON()` / `serialize()` (an object or its JSON text).
    #[wasm_bindgen(js_name = fromJSON)]
    pub fn from_json(record: JsValue) -> Result<RotationState, JsValue> {
        let text = match record.as_string() {
            Some(t) => t,
            None => js_sys::JSON::stringify(&record)
                .ok()
                .and_then(|s| s.as_string())
                .unwrap_or_default(),
        };
        CredentialState::from_json(&text)
            .map(RotationState)
            .ok_or_else(|| error::invalid("not a rotation record (version 1)"))
    }

    /// The record as a plain object (what to persist).
    #[wasm_bindgen(js_name = toJSON)]
    pub fn to_json(&self) -> JsValue {
        js_sys::JSON::parse(&self.0.to_json()).unwrap_or(JsValue::NULL)
    }

    /// The record as JSON text.
    pub fn serialize(&self) -> String {
        self.0.to_json()
    }

    /// True while a rotation is unfinished.
    #[wasm_bindgen(getter)]
    pub fn rotating(&self) -> bool {
        self.0.rotating()
    }

    /// The next step of the current or last rotation (`create`, `test`, `promote`, `retire`,
    /// `done`), or undefined before the first.
    #[wasm_bindgen(getter)]
    pub fn step(&self) -> Option<String> {
        self.0.rotation.as_ref().map(|r| r.step.as_str().to_owned())
    }

    /// The active secret's uuid, once known.
    #[wasm_bindgen(getter, js_name = activeUuid)]
    pub fn active_uuid(&self) -> Option<String> {
        self.0.active.uuid.clone()
    }

    /// The pending secret's uuid, during a rotation.
    #[wasm_bindgen(getter, js_name = pendingUuid)]
    pub fn pending_uuid(&self) -> Option<String> {
        self.0.pending.as_ref().and_then(|s| s.uuid.clone())
    }

    /// The previous secret's uuid, until it is retired.
    #[wasm_bindgen(getter, js_name = previousUuid)]
    pub fn previous_uuid(&self) -> Option<String> {
        self.0.previous.as_ref().and_then(|s| s.uuid.clone())
    }

    /// Starts a rotation with id `id` unless one is unfinished; whether one was started.
    pub fn start(&mut self, id: String, now: f64) -> bool {
        self.0.start(&id, ms(now))
    }

    /// The next action, from what Adobe holds now (`SecretsClient.list()`):
    /// `{ kind: "identify" | "deleteUnused" | "retire", uuid }`, `{ kind: "waitUntil", until }`,
    /// or `{ kind: "probe" | "add" | "test" | "promote" | "skip" | "done" }`.
    pub fn plan(&self, adobe: JsValue, now: f64) -> Result<JsValue, JsValue> {
        let adobe = secrets(&adobe)?;
        let action = self.0.plan(&adobe, ms(now)).map_err(|e| error::to_js(&e))?;
        let (kind, uuid, until) = match action {
            Action::Identify(uuid) => ("identify", Some(uuid), None),
            Action::Probe => ("probe", None, None),
            Action::DeleteUnused(uuid) => ("deleteUnused", Some(uuid), None),
            Action::Add => ("add", None, None),
            Action::Test => ("test", None, None),
            Action::Promote => ("promote", None, None),
            Action::WaitUntil(at) => ("waitUntil", None, Some(at)),
            Action::Retire(uuid) => ("retire", Some(uuid), None),
            Action::Skip => ("skip", None, None),
            Action::Done => ("done", None, None),
        };
        /// The action; `uuid` and `until` only where the kind has one.
        #[derive(Serialize)]
        struct Planned {
            kind: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            uuid: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            until: Option<f64>,
        }
        Ok(to_js(&Planned {
            kind,
            uuid,
            until: until.map(num),
        }))
    }

    /// Records the active secret's uuid.
    pub fn identified(&mut self, uuid: String, now: f64) {
        self.0.identified(&uuid, ms(now));
    }

    /// Records that an unused secret was deleted at Adobe.
    #[wasm_bindgen(js_name = deletedUnused)]
    pub fn deleted_unused(&mut self, uuid: String, now: f64) {
        self.0.deleted_unused(&uuid, ms(now));
    }

    /// Records, before asking Adobe, that an add is under way.
    pub fn adding(&mut self, now: f64) {
        self.0.adding(ms(now));
    }

    /// Records the new secret as pending. `sealed` is how the caller keeps the value (an
    /// encrypted envelope or a reference to a secret store), never the plaintext.
    pub fn added(&mut self, uuid: String, sealed: String, created_at: f64, now: f64) {
        self.0.added(&uuid, sealed, ms(created_at), ms(now));
    }

    /// Records a successful test of the pending secret.
    pub fn tested(&mut self, now: f64) {
        self.0.tested(ms(now));
    }

    /// Pending becomes active, active becomes previous; retire waits `graceMs` (default 10 min).
    pub fn promote(&mut self, now: f64, grace_ms: Option<f64>) {
        self.0
            .promote(ms(now), grace_ms.map_or(DEFAULT_GRACE_MS, ms));
    }

    /// Records the previous secret as deleted at Adobe and finishes the rotation.
    pub fn retired(&mut self, now: f64) {
        self.0.retired(ms(now));
    }

    /// Records that the planned step's effect was already visible.
    pub fn skip(&mut self, now: f64) {
        self.0.skip(ms(now));
    }

    /// Records an error at the current step (it is retried on resume).
    pub fn failed(&mut self, message: String, now: f64) {
        self.0.failed(message, ms(now));
    }
}

/// The secret whose `lastUsedAt` says it was used since `probeMs`, if exactly one.
#[wasm_bindgen(js_name = identifyByUsage)]
pub fn identify_by_usage(adobe: JsValue, probe_ms: f64) -> Result<Option<String>, JsValue> {
    Ok(rotation::identify_by_usage(&secrets(&adobe)?, ms(probe_ms)))
}
