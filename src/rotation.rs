//! The rotation of a credential's client secret, run inside the credential's Durable Object:
//! `ims-core`'s runner ([`ims_core::rotation_runner`], which holds the order of effects that
//! makes a rotation safe) driven with Adobe's I/O Management API, IMS, `STORE_KEY` sealing and
//! the object's storage ([`ObjectRotation`]), and the secret deletes operators ask for, checked
//! against the same record.
//!
//! Only the object calls this module, one run at a time (`crate::credential_object` keeps the
//! guard), so no step overlaps another and every step's record is committed with one storage
//! write before the next step starts.

use crate::api_error::ApiError;
use crate::config::BrokerConfig;
use crate::log::Fields;
use crate::management::Management;
use crate::record_store;
use crate::runtime::WorkerPlatform;
use crate::secrets;
use ims_core::cache::{mint_with, TokenSpec};
use ims_core::credentials::Credential;
use ims_core::envelope::StoreKeys;
use ims_core::io_api::{NewSecret, SecretInfo};
use ims_core::rotation::{CredentialState, DeleteRefusal, Slot};
use ims_core::rotation_runner::{self, Outcome, RotationPlatform};
use ims_core::{ClientSecret, TokenCache};
use worker::{Env, Storage};

/// Everything a run of one credential's rotation works with.
pub struct ObjectRotation<'a> {
    /// Bindings (the bootstrap Worker secret).
    pub env: &'a Env,
    /// Settings.
    pub cfg: &'a BrokerConfig,
    /// The credential.
    pub cred: &'a Credential,
    /// The runtime, minting by itself (the object is the coordinator).
    pub platform: &'a WorkerPlatform,
    /// The object's token cache (the management token).
    pub cache: &'a TokenCache,
    /// The object's storage.
    pub storage: &'a Storage,
}

impl ObjectRotation<'_> {
    fn keys(&self) -> &StoreKeys {
        self.platform.keys()
    }

    /// The Management API client, authenticated with the secrets `state` knows.
    fn management(&self, state: &CredentialState) -> Result<Management<'_>, ApiError> {
        let known = secrets::known(self.env, self.keys(), self.cred, state)?;
        Management::new(self.platform, self.cfg, self.cache, self.cred, known)
    }

    /// What Adobe holds for the credential (for the operators' list).
    pub async fn adobe(&self, state: &CredentialState) -> Result<Vec<SecretInfo>, ApiError> {
        self.management(state)?.list().await
    }

    /// Runs the rotation (starting one when `start` and none is unfinished) as far as it goes
    /// now; the record is saved after every step. Counts the outcome (the hooks below log).
    pub async fn run(&self, state: &mut CredentialState, start: bool) -> Result<Outcome, ApiError> {
        // Misconfiguration (no org/credential id, an unreadable stored secret) is answered at
        // once and changes nothing.
        self.management(state)?;
        let id = start.then(crate::random::id);
        let outcome =
            rotation_runner::run(self, state, id.as_deref(), self.cfg.rotation_grace_ms).await?;
        let label = match &outcome {
            Outcome::Idle => None,
            Outcome::Done => Some("done"),
            Outcome::Waiting { .. } => Some("waiting"),
            Outcome::Failed => Some("error"),
        };
        if let Some(label) = label {
            crate::telemetry::metrics(self.platform.isolate(), |m| m.rotation(label));
        }
        Ok(outcome)
    }

    /// Deletes `uuid` at Adobe if the record allows it (never the active or pending secret,
    /// never the only one): checked and done with no rotation step in between.
    pub async fn delete(&self, state: &CredentialState, uuid: &str) -> Result<(), ApiError> {
        let mgmt = self.management(state)?;
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
            Fields::new()
                .str("credential", &self.cred.name)
                .str("uuid", uuid),
            None,
        );
        Ok(())
    }
}

impl RotationPlatform for ObjectRotation<'_> {
    type Error = ApiError;

    fn now_ms(&self) -> u64 {
        crate::platform::now_ms()
    }

    async fn list(&self, state: &CredentialState) -> Result<Vec<SecretInfo>, ApiError> {
        self.management(state)?.list().await
    }

    async fn add(&self, state: &CredentialState) -> Result<NewSecret, ApiError> {
        self.management(state)?.add().await
    }

    async fn delete(&self, state: &CredentialState, uuid: &str) -> Result<(), ApiError> {
        self.management(state)?.delete(uuid).await
    }

    async fn mint_with(&self, _state: &CredentialState, slot: &Slot) -> Result<(), ApiError> {
        let secret = secrets::open_slot(self.env, self.keys(), self.cred, slot)?;
        let spec = TokenSpec::new(
            &self.cred.name,
            &self.cred.client_id,
            vec![secret.clone()],
            self.cred.default_scopes.clone(),
            &self.cfg.token_url,
        );
        let what = Some("rotation");
        match mint_with(self.platform, &self.cfg.settings, &spec, &secret).await {
            Ok((_, call)) => {
                crate::telemetry::upstream(
                    self.platform.isolate(),
                    &self.cred.name,
                    what,
                    &call,
                    None,
                );
                Ok(())
            }
            Err(f) => {
                if let Some(call) = &f.upstream {
                    let code = Some(f.error.code());
                    crate::telemetry::upstream(
                        self.platform.isolate(),
                        &self.cred.name,
                        what,
                        call,
                        code,
                    );
                }
                Err(ApiError::Upstream(f.error))
            }
        }
    }

    fn seal(&self, uuid: &str, secret: &ClientSecret) -> String {
        secrets::seal(self.keys(), &self.cred.name, uuid, secret)
    }

    async fn save(&self, state: &CredentialState) -> Result<(), ApiError> {
        record_store::save(self.storage, state).await
    }

    fn stepped(&self, state: &CredentialState) {
        if let Some(r) = state.rotation.as_ref() {
            let detail = format!("{} → {}", r.id, r.step.as_str());
            crate::telemetry::rotation(self.platform.isolate(), &self.cred.name, &detail);
        }
        crate::log::event(
            "rotation_step",
            Fields::new()
                .str("credential", &self.cred.name)
                .opt_str("rotation", state.rotation.as_ref().map(|r| r.id.as_str()))
                .opt_str("next", state.rotation.as_ref().map(|r| r.step.as_str())),
            None,
        );
    }

    fn started(&self, state: &CredentialState) {
        crate::log::event(
            "rotation_started",
            Fields::new()
                .str("credential", &self.cred.name)
                .opt_str("rotation", state.rotation.as_ref().map(|r| r.id.as_str())),
            None,
        );
    }

    fn step_failed(&self, state: &CredentialState, error: &str) {
        let step = state.rotation.as_ref().map(|r| r.step.as_str());
        crate::log::event(
            "rotation_error",
            Fields::new()
                .str("level", "error")
                .str("credential", &self.cred.name)
                .str("error", error)
                .opt_str("step", step),
            None,
        );
        crate::telemetry::rotation(
            self.platform.isolate(),
            &self.cred.name,
            &format!("error: {error}"),
        );
    }

    fn pending_store_failed(&self, uuid: &str, deleted_again: bool, error: &str) {
        crate::log::event(
            "rotation_pending_store_failed",
            Fields::new()
                .str("level", "error")
                .str("credential", &self.cred.name)
                .str("uuid", uuid)
                .bool("deleted_again", deleted_again)
                .str("error", error),
            None,
        );
    }
}
