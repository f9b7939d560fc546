//! The Adobe I/O Management API, called with a token the broker mints for itself (scopes
//! [`MANAGEMENT_SCOPES`], through the same cache as every other token).

use crate::api_error::ApiError;
use crate::config::BrokerConfig;
use crate::runtime::WorkerPlatform;
use ims_core::cache::TokenSpec;
use ims_core::cache_key::TokenUse;
use ims_core::credentials::Credential;
use ims_core::http::{HttpClient, HttpRequest, HttpResponse};
use ims_core::io_api::{self, CredentialRef, IoApiError, NewSecret, SecretInfo, MANAGEMENT_SCOPES};
use ims_core::{AccessToken, ClientSecret, ConfigError, ScopeSet, TokenCache};

/// A client of one credential's secrets at Adobe.
pub struct Management<'a> {
    platform: &'a WorkerPlatform,
    cfg: &'a BrokerConfig,
    cache: &'a TokenCache,
    cred: &'a Credential,
    secrets: Vec<ClientSecret>,
    target: CredentialRef,
}

/// Turns a management failure into an API error (502, with Adobe's debug id in the text).
pub fn upstream(e: IoApiError) -> ApiError {
    ApiError::Management(e)
}

impl<'a> Management<'a> {
    /// Prepares calls for `cred`; its `org_id`/`credential_id` must be configured.
    pub fn new(
        platform: &'a WorkerPlatform,
        cfg: &'a BrokerConfig,
        cache: &'a TokenCache,
        cred: &'a Credential,
        secrets: Vec<ClientSecret>,
    ) -> Result<Self, ApiError> {
        let missing = |what: &str| {
            let setting = if cred.name == "default" {
                what.to_ascii_uppercase()
            } else {
                format!("CREDENTIALS.{}.{what}", cred.name)
            };
            ApiError::Misconfigured(ConfigError::Missing { setting })
        };
        let target = CredentialRef {
            base_url: cfg.io_api_base_url.clone(),
            org_id: cred.org_id.clone().ok_or_else(|| missing("org_id"))?,
            credential_id: cred
                .credential_id
                .clone()
                .ok_or_else(|| missing("credential_id"))?,
            client_id: cred.client_id.clone(),
        };
        Ok(Self {
            platform,
            cfg,
            cache,
            cred,
            secrets,
            target,
        })
    }

    /// The spec of the management token: the broker's own, in a cache namespace of its own.
    fn token_spec(&self) -> TokenSpec {
        let scopes = ScopeSet::from_names(MANAGEMENT_SCOPES).unwrap_or_default();
        TokenSpec::of_use(
            TokenUse::Broker,
            &self.cred.name,
            &self.cred.client_id,
            self.secrets.clone(),
            scopes,
            &self.cfg.token_url,
        )
    }

    /// The management token: from the cache, or, when `fresh`, minted anew (the cached one was
    /// refused).
    async fn token(&self, fresh: bool) -> Result<AccessToken, ApiError> {
        let spec = self.token_spec();
        let settings = &self.cfg.settings;
        let served = if fresh {
            self.cache.forget(&spec.key);
            self.cache.mint_for(self.platform, settings, &spec).await
        } else {
            self.cache.get(self.platform, settings, &spec).await
        };
        let served = served.map_err(|f| {
            if let Some(call) = &f.upstream {
                crate::telemetry::upstream(
                    self.platform.isolate(),
                    &self.cred.name,
                    Some("management"),
                    call,
                    Some(f.error.code()),
                );
            }
            ApiError::Upstream(f.error)
        })?;
        if let Some(call) = &served.upstream {
            let isolate = self.platform.isolate();
            crate::telemetry::upstream(isolate, &self.cred.name, Some("management"), call, None);
        }
        Ok(served.token.access_token.clone())
    }

    /// Sends the request `make` builds with the management token. A 401 means Adobe no longer
    /// accepts the cached token (revoked, or expired early): it is dropped, and the request sent
    /// once more with a new one (a refused request changed nothing at Adobe).
    async fn authorized(
        &self,
        make: impl Fn(&AccessToken) -> HttpRequest,
    ) -> Result<HttpResponse, ApiError> {
        let response = self.call(make(&self.token(false).await?)).await?;
        if response.status != 401 {
            return Ok(response);
        }
        crate::log::event(
            "management_token_refused",
            crate::log::Fields::new()
                .str("level", "warn")
                .str("credential", &self.cred.name),
            None,
        );
        self.call(make(&self.token(true).await?)).await
    }

    async fn call(&self, request: HttpRequest) -> Result<HttpResponse, ApiError> {
        self.platform
            .send(&request, self.cfg.settings.timeout_ms)
            .await
            .map_err(|e| upstream(IoApiError::Transport(e.to_string())))
    }

    /// The secrets Adobe holds for the credential.
    pub async fn list(&self) -> Result<Vec<SecretInfo>, ApiError> {
        let response = self
            .authorized(|token| io_api::list_request(&self.target, token))
            .await?;
        io_api::parse_list(&response).map_err(upstream)
    }

    /// Adds a secret; its plaintext is in the answer only.
    pub async fn add(&self) -> Result<NewSecret, ApiError> {
        let response = self
            .authorized(|token| io_api::add_request(&self.target, token))
            .await?;
        io_api::parse_add(&response).map_err(upstream)
    }

    /// Deletes a secret (already gone counts as deleted).
    pub async fn delete(&self, uuid: &str) -> Result<(), ApiError> {
        let response = self
            .authorized(|token| io_api::delete_request(&self.target, token, uuid))
            .await?;
        io_api::parse_delete(&response).map_err(upstream)
    }
}
