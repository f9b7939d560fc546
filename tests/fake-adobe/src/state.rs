//! All mutable state of the fake in one struct, shared behind a single `Mutex`.
//!
//! Handlers lock it briefly, decide and record, then unlock before sleeping or touching a
//! socket. The IMS side ([`crate::ims`]) and the I/O Management API ([`crate::console`]) share
//! the same clients: each [`Client`] holds a list of at most [`MAX_SECRETS`] client secrets, and
//! Developer Console credentials map `(org id, credential id)` to a client. Every token the fake
//! issued is remembered, and can be revoked; [`State::check_token`] is how the APIs that take a
//! bearer token ([`crate::console`], [`crate::profile`]) judge one. [`State::reset`] decides what
//! a test reset clears.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::rng;

/// The state shared by every connection thread.
pub type Shared = Arc<Mutex<State>>;

/// Wraps `state` for sharing.
pub fn shared(state: State) -> Shared {
    Arc::new(Mutex::new(state))
}

/// Locks the state; a panic in another thread does not poison it for the rest.
pub fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Token lifetime Adobe answers with, in seconds.
pub const DEFAULT_EXPIRES_IN: u64 = 86_399;

/// Most client secrets one client (credential) may hold at once, as at Adobe.
pub const MAX_SECRETS: usize = 2;

/// A new random secret value shaped like Adobe's: `p8e-` and 32 letters and digits.
pub fn generate_secret_value() -> String {
    format!("p8e-{}", rng::alphanumeric(32))
}

/// One client secret of a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSecret {
    /// Adobe's id of the secret: 32 lowercase hex characters.
    pub uuid: String,
    /// The secret itself.
    pub value: String,
    /// Creation time, ms since the epoch.
    pub created_at_ms: u64,
    /// Last successful token request made with this secret, ms since the epoch.
    pub last_used_at_ms: Option<u64>,
}

impl ClientSecret {
    /// A fresh secret entry for `value` with a random uuid, created at `now`.
    pub fn new(value: &str, now: u64) -> ClientSecret {
        ClientSecret {
            uuid: rng::hex(16),
            value: value.to_owned(),
            created_at_ms: now,
            last_used_at_ms: None,
        }
    }
}

/// One OAuth Server-to-Server client the fake knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The client id (also the `x-api-key`).
    pub client_id: String,
    /// The current client secrets, oldest first (at most [`MAX_SECRETS`]).
    pub secrets: Vec<ClientSecret>,
    /// Scopes this client may request; `None` allows any scope name.
    pub scopes: Option<Vec<String>>,
    /// The technical account id (`…@techacct.adobe.com`), stable for the client's lifetime.
    pub tech_account_id: String,
    /// The most secrets this client held at once (since it was created or the last reset).
    pub max_secrets_seen: usize,
}

impl Client {
    /// Whether this client may request `scope` (one item of the comma-separated list).
    pub fn allows(&self, scope: &str) -> bool {
        match &self.scopes {
            None => true,
            Some(list) => list.iter().any(|s| s == scope),
        }
    }

    /// The current secret whose value is `value`, if any.
    pub fn secret_by_value(&self, value: &str) -> Option<&ClientSecret> {
        self.secrets.iter().find(|s| s.value == value)
    }

    fn note_count(&mut self) {
        self.max_secrets_seen = self.max_secrets_seen.max(self.secrets.len());
    }
}

/// Why a secret operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretError {
    /// No client with that id.
    UnknownClient,
    /// The client already holds [`MAX_SECRETS`] secrets.
    LimitReached,
    /// The client already has a current secret with that value.
    DuplicateValue,
    /// The client already has a current secret with that uuid.
    DuplicateUuid,
    /// The client has no current secret with that uuid.
    UnknownSecret,
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SecretError::UnknownClient => "unknown client",
            SecretError::LimitReached => "maximum number of client secrets reached",
            SecretError::DuplicateValue => "the client already has this secret",
            SecretError::DuplicateUuid => "the client already has a secret with this uuid",
            SecretError::UnknownSecret => "unknown client secret uuid",
        })
    }
}

/// How token answers are shaped; set through `POST /__fake/config`, cleared by reset.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenConfig {
    /// Lifetime in seconds: the JSON `expires_in` and (×1000) the `expires_in` claim.
    pub expires_in: u64,
    /// Leave `expires_in` out of the JSON answer.
    pub omit_expires_in: bool,
    /// Put this value verbatim in the JSON `expires_in` instead of `expires_in`.
    pub expires_in_value: Option<Value>,
    /// Override for the `expires_in` claim (a string of milliseconds, or anything).
    pub claims_expires_in_ms: Option<String>,
    /// Delay every token answer by this many milliseconds.
    pub delay_ms: u64,
}

impl Default for TokenConfig {
    fn default() -> Self {
        TokenConfig {
            expires_in: DEFAULT_EXPIRES_IN,
            omit_expires_in: false,
            expires_in_value: None,
            claims_expires_in_ms: None,
            delay_ms: 0,
        }
    }
}

/// One operation of the I/O Management API's client-secret endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ApiOp {
    /// `GET …/secrets`.
    List,
    /// `POST …/secrets`.
    Add,
    /// `DELETE …/secrets/{uuid}`.
    Delete,
}

impl ApiOp {
    /// Every operation, in display order.
    pub const ALL: [ApiOp; 3] = [ApiOp::List, ApiOp::Add, ApiOp::Delete];

    /// The operation's name (`list`, `add`, `delete`), also its fault target name.
    pub fn name(self) -> &'static str {
        match self {
            ApiOp::List => "list",
            ApiOp::Add => "add",
            ApiOp::Delete => "delete",
        }
    }
}

/// Which calls a fault queue applies to: each target has its own FIFO queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultTarget {
    /// `POST /ims/token/v3` (the default).
    Ims,
    /// One I/O Management API operation.
    Api(ApiOp),
    /// `GET /api/v1/profile`, the protected API that callers of the broker use tokens for.
    Profile,
}

impl FaultTarget {
    /// Every target, in display order.
    pub const ALL: [FaultTarget; 5] = [
        FaultTarget::Ims,
        FaultTarget::Api(ApiOp::List),
        FaultTarget::Api(ApiOp::Add),
        FaultTarget::Api(ApiOp::Delete),
        FaultTarget::Profile,
    ];

    /// The target's name in the control API (`ims`, `list`, `add`, `delete`, `profile`).
    pub fn name(self) -> &'static str {
        match self {
            FaultTarget::Ims => "ims",
            FaultTarget::Api(op) => op.name(),
            FaultTarget::Profile => "profile",
        }
    }

    /// Parses a target name.
    pub fn parse(name: &str) -> Option<FaultTarget> {
        FaultTarget::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// What an injected fault does to one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer this status (429 or 5xx) with an error body.
    Status {
        /// The status code.
        code: u16,
        /// Value of a `Retry-After` header (seconds), if any.
        retry_after: Option<u64>,
    },
    /// 200 with an HTML body.
    Garbage,
    /// Sleep, then answer normally.
    Slow {
        /// How long to sleep, in milliseconds.
        ms: u64,
    },
    /// Close the connection without answering (nothing happens).
    Drop,
    /// IMS only: 400 `invalid_client` whatever was sent.
    InvalidClient,
    /// IMS only: 400 `invalid_scope` whatever was sent.
    InvalidScope,
    /// IMS only: 200 with an empty `access_token`.
    EmptyToken,
    /// `add` only: handle the call for real (the secret is created), then close the connection
    /// without answering.
    AddThenDrop,
    /// `delete` only: handle the call for real (the secret is deleted), then close the
    /// connection without answering.
    DeleteThenDrop,
}

impl FaultKind {
    /// The kind's name as used in the control API (`status429`, `slow`, …).
    pub fn name(&self) -> String {
        match self {
            FaultKind::Status { code, .. } => format!("status{code}"),
            FaultKind::Garbage => "garbage".to_owned(),
            FaultKind::Slow { .. } => "slow".to_owned(),
            FaultKind::Drop => "drop".to_owned(),
            FaultKind::InvalidClient => "invalid_client".to_owned(),
            FaultKind::InvalidScope => "invalid_scope".to_owned(),
            FaultKind::EmptyToken => "empty_token".to_owned(),
            FaultKind::AddThenDrop => "add_then_drop".to_owned(),
            FaultKind::DeleteThenDrop => "delete_then_drop".to_owned(),
        }
    }

    /// Whether this kind may be queued for `target`.
    pub fn valid_for(&self, target: FaultTarget) -> bool {
        match self {
            FaultKind::Status { .. } | FaultKind::Garbage | FaultKind::Slow { .. } => true,
            FaultKind::Drop => true,
            FaultKind::InvalidClient | FaultKind::InvalidScope | FaultKind::EmptyToken => {
                target == FaultTarget::Ims
            }
            FaultKind::AddThenDrop => target == FaultTarget::Api(ApiOp::Add),
            FaultKind::DeleteThenDrop => target == FaultTarget::Api(ApiOp::Delete),
        }
    }
}

/// One entry of a fault queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// What to do.
    pub kind: FaultKind,
    /// Calls left for this entry; `None` means every call until reset.
    pub remaining: Option<u64>,
}

/// One `POST /ims/token/v3` as recorded for `GET /__fake/stats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    /// Arrival time, ms since the epoch.
    pub at_ms: u64,
    /// The `client_id` sent in the body, if one could be read.
    pub client_id: Option<String>,
    /// The `scope` sent in the body, if one could be read.
    pub scope: Option<String>,
    /// `ok`, `fault:<kind>` or `error:<oauth error code>`.
    pub outcome: String,
    /// The fault consumed by this call, if any (also set for `slow`, whose outcome is the real
    /// answer's).
    pub fault: Option<String>,
    /// The uuid of the client secret a successful call authenticated with.
    pub secret_uuid: Option<String>,
}

/// One I/O Management API call as recorded for `GET /__fake/stats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiCallRecord {
    /// Arrival time, ms since the epoch.
    pub at_ms: u64,
    /// Which operation.
    pub op: ApiOp,
    /// The status answered; `None` when the connection was dropped.
    pub status: Option<u16>,
    /// The secret concerned: the new one of an add that took effect, the path's of a delete.
    pub uuid: Option<String>,
    /// The fault consumed by this call, if any.
    pub fault: Option<String>,
    /// Whether the call changed Adobe's state (an add created or a delete removed a secret),
    /// whatever the client got to see.
    pub applied: bool,
}

/// One `GET /api/v1/profile` as recorded for `GET /__fake/stats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileCallRecord {
    /// Arrival time, ms since the epoch.
    pub at_ms: u64,
    /// The status answered; `None` when the connection was dropped.
    pub status: Option<u16>,
    /// What the checks decided (`ok`, `token_revoked`, …) or `fault:<kind>` for a call a fault
    /// replaced; see [`crate::profile`].
    pub outcome: String,
    /// The bearer token presented, if any (so tests can tell which token a caller used).
    pub access_token: Option<String>,
    /// The `x-api-key` presented, if any.
    pub api_key: Option<String>,
    /// The fault consumed by this call, if any (also set for `slow`, whose outcome is the real
    /// answer's).
    pub fault: Option<String>,
}

/// Per-operation call counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApiCounts {
    /// `list` calls.
    pub list: u64,
    /// `add` calls.
    pub add: u64,
    /// `delete` calls.
    pub delete: u64,
}

impl ApiCounts {
    /// The counter of `op`.
    pub fn get(&self, op: ApiOp) -> u64 {
        match op {
            ApiOp::List => self.list,
            ApiOp::Add => self.add,
            ApiOp::Delete => self.delete,
        }
    }

    /// Adds one call of `op`.
    pub fn bump(&mut self, op: ApiOp) {
        let c = match op {
            ApiOp::List => &mut self.list,
            ApiOp::Add => &mut self.add,
            ApiOp::Delete => &mut self.delete,
        };
        *c += 1;
    }
}

/// A token the fake issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The JWT.
    pub access_token: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The scope string as requested (comma-separated).
    pub scope: String,
    /// Issue time, ms since the epoch.
    pub created_at_ms: u64,
    /// Expiry, ms since the epoch (issue time + the configured `expires_in`).
    pub expires_at_ms: u64,
}

impl IssuedToken {
    /// Whether the token carries every scope in `required`.
    pub fn has_scopes(&self, required: &[&str]) -> bool {
        required
            .iter()
            .all(|r| self.scope.split(',').any(|s| s == *r))
    }
}

/// How a presented bearer token stands, as judged by [`State::check_token`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCheck<'a> {
    /// Issued by the fake, not revoked, not expired.
    Valid(&'a IssuedToken),
    /// Never issued by the fake.
    Unknown,
    /// Revoked through `POST /__fake/revoke` (whether or not it has expired since).
    Revoked,
    /// Past its expiry.
    Expired,
}

/// Everything the fake remembers.
#[derive(Debug, Default)]
pub struct State {
    /// Known clients by id (kept across reset).
    pub clients: BTreeMap<String, Client>,
    /// Developer Console credentials: `(org id, credential id)` → client id (kept across reset).
    pub credentials: BTreeMap<(String, String), String>,
    /// Every client secret the fake knows or ever knew (kept across reset).
    pub known_secrets: Vec<String>,
    /// Token answer settings.
    pub config: TokenConfig,
    /// One FIFO of injected faults per target.
    pub faults: BTreeMap<FaultTarget, VecDeque<Fault>>,
    /// Every `POST /ims/token/v3` since reset, faulted and rejected ones included.
    pub token_calls: u64,
    /// Token calls answered with a real token since reset.
    pub token_successes: u64,
    /// One record per token call since reset.
    pub calls: Vec<CallRecord>,
    /// Tokens issued since reset.
    pub issued: Vec<IssuedToken>,
    /// Every token ever issued (kept across reset: for log-leak checks and so that a token
    /// issued before a reset stays valid at the I/O Management API until it expires).
    pub all_issued: Vec<IssuedToken>,
    /// I/O Management API calls since reset, by operation (faulted and rejected ones included).
    pub api_calls: ApiCounts,
    /// One record per I/O Management API call since reset.
    pub api_log: Vec<ApiCallRecord>,
    /// Tokens revoked through `POST /__fake/revoke` (kept across reset, like `all_issued`: a
    /// revoked token never becomes valid again).
    pub revoked: BTreeSet<String>,
    /// `GET /api/v1/profile` calls since reset (faulted and rejected ones included).
    pub profile_calls: u64,
    /// Those calls by outcome (`ok`, `token_revoked`, `fault:status503`, …).
    pub profile_outcomes: BTreeMap<String, u64>,
    /// One record per profile call since reset.
    pub profile_log: Vec<ProfileCallRecord>,
}

impl State {
    /// An empty state with the default config and no clients.
    pub fn new() -> State {
        State::default()
    }

    /// Adds a client whose only secret is `secret`, or replaces an existing client's scopes and
    /// secrets (its secret list becomes just `secret`; an entry that already has this value
    /// keeps its uuid and times). The secret is remembered forever in `known_secrets`.
    pub fn upsert_client(&mut self, client_id: &str, secret: &str, scopes: Option<Vec<String>>) {
        let now = now_ms();
        self.remember_secret(secret);
        let client = self
            .clients
            .entry(client_id.to_owned())
            .or_insert_with(|| Client {
                client_id: client_id.to_owned(),
                secrets: Vec::new(),
                scopes: None,
                tech_account_id: format!("{}@techacct.adobe.com", rng::hex(12).to_uppercase()),
                max_secrets_seen: 0,
            });
        let entry = client
            .secret_by_value(secret)
            .cloned()
            .unwrap_or_else(|| ClientSecret::new(secret, now));
        client.secrets = vec![entry];
        client.scopes = scopes;
        client.note_count();
    }

    /// Adds a secret to a client: `value`, or a new random one. Refused beyond
    /// [`MAX_SECRETS`] and for a value the client already has.
    pub fn add_secret(
        &mut self,
        client_id: &str,
        value: Option<&str>,
    ) -> Result<ClientSecret, SecretError> {
        self.add_secret_as(client_id, value, None)
    }

    /// [`State::add_secret`] with the uuid given (a test recreating what Adobe held, e.g. from a
    /// stored-values fixture) instead of a random one; refused when the client already holds a
    /// secret with that uuid.
    pub fn add_secret_as(
        &mut self,
        client_id: &str,
        value: Option<&str>,
        uuid: Option<&str>,
    ) -> Result<ClientSecret, SecretError> {
        let client = self
            .clients
            .get_mut(client_id)
            .ok_or(SecretError::UnknownClient)?;
        if client.secrets.len() >= MAX_SECRETS {
            return Err(SecretError::LimitReached);
        }
        let value = value.map_or_else(generate_secret_value, str::to_owned);
        if client.secret_by_value(&value).is_some() {
            return Err(SecretError::DuplicateValue);
        }
        if let Some(uuid) = uuid {
            if client.secrets.iter().any(|s| s.uuid == uuid) {
                return Err(SecretError::DuplicateUuid);
            }
        }
        let mut secret = ClientSecret::new(&value, now_ms());
        if let Some(uuid) = uuid {
            uuid.clone_into(&mut secret.uuid);
        }
        client.secrets.push(secret.clone());
        client.note_count();
        self.remember_secret(&value);
        Ok(secret)
    }

    /// Deletes a client's secret by uuid (even its last one: the fake does not protect a client
    /// from locking itself out) and returns it.
    pub fn delete_secret(
        &mut self,
        client_id: &str,
        uuid: &str,
    ) -> Result<ClientSecret, SecretError> {
        let client = self
            .clients
            .get_mut(client_id)
            .ok_or(SecretError::UnknownClient)?;
        let i = client
            .secrets
            .iter()
            .position(|s| s.uuid == uuid)
            .ok_or(SecretError::UnknownSecret)?;
        Ok(client.secrets.remove(i))
    }

    /// Records a successful token request made with the secret `uuid` of `client_id`.
    pub fn mark_secret_used(&mut self, client_id: &str, uuid: &str, at_ms: u64) {
        if let Some(s) = self
            .clients
            .get_mut(client_id)
            .and_then(|c| c.secrets.iter_mut().find(|s| s.uuid == uuid))
        {
            s.last_used_at_ms = Some(at_ms);
        }
    }

    /// Maps the credential `(org_id, credential_id)` to an existing client.
    pub fn upsert_credential(
        &mut self,
        org_id: &str,
        credential_id: &str,
        client_id: &str,
    ) -> Result<(), SecretError> {
        if !self.clients.contains_key(client_id) {
            return Err(SecretError::UnknownClient);
        }
        self.credentials.insert(
            (org_id.to_owned(), credential_id.to_owned()),
            client_id.to_owned(),
        );
        Ok(())
    }

    /// The client id of the credential `(org_id, credential_id)`, if known.
    pub fn credential_client(&self, org_id: &str, credential_id: &str) -> Option<&str> {
        self.credentials
            .get(&(org_id.to_owned(), credential_id.to_owned()))
            .map(String::as_str)
    }

    /// Records `secret` in `known_secrets` (once).
    pub fn remember_secret(&mut self, secret: &str) {
        if !self.known_secrets.iter().any(|s| s == secret) {
            self.known_secrets.push(secret.to_owned());
        }
    }

    /// Clears counters, call records, issued tokens (not `all_issued`), faults and config, and
    /// restarts every client's `max_secrets_seen` from its current number of secrets; keeps
    /// clients, credentials, current secrets (with their `last_used_at_ms`), known secrets and
    /// revocations.
    pub fn reset(&mut self) {
        self.config = TokenConfig::default();
        self.faults.clear();
        self.token_calls = 0;
        self.token_successes = 0;
        self.calls.clear();
        self.issued.clear();
        self.api_calls = ApiCounts::default();
        self.api_log.clear();
        self.profile_calls = 0;
        self.profile_outcomes.clear();
        self.profile_log.clear();
        for client in self.clients.values_mut() {
            client.max_secrets_seen = client.secrets.len();
        }
    }

    /// Appends `fault` to the queue of `target`.
    pub fn push_fault(&mut self, target: FaultTarget, fault: Fault) {
        self.faults.entry(target).or_default().push_back(fault);
    }

    /// Number of entries queued for `target`.
    pub fn pending_faults_for(&self, target: FaultTarget) -> usize {
        self.faults.get(&target).map_or(0, VecDeque::len)
    }

    /// Number of entries queued over all targets.
    pub fn pending_faults(&self) -> usize {
        self.faults.values().map(VecDeque::len).sum()
    }

    /// Consumes one unit of the head fault of `target`'s queue, if any, and returns its kind.
    pub fn take_fault(&mut self, target: FaultTarget) -> Option<FaultKind> {
        let queue = self.faults.get_mut(&target)?;
        let head = queue.front_mut()?;
        let kind = head.kind.clone();
        let exhausted = match head.remaining {
            None => false,
            Some(n) if n <= 1 => true,
            Some(n) => {
                head.remaining = Some(n - 1);
                false
            }
        };
        if exhausted {
            queue.pop_front();
        }
        Some(kind)
    }

    /// Records a newly issued token (since reset and forever).
    pub fn record_issued(&mut self, token: IssuedToken) {
        self.all_issued.push(token.clone());
        self.issued.push(token);
    }

    /// The record of `access_token`, if the fake ever issued it (resets included).
    pub fn token_info(&self, access_token: &str) -> Option<&IssuedToken> {
        self.all_issued
            .iter()
            .rev()
            .find(|t| t.access_token == access_token)
    }

    /// Whether `access_token` may be used at `now`: issued by the fake, not revoked, and not
    /// expired (checked in that order).
    pub fn check_token(&self, access_token: &str, now: u64) -> TokenCheck<'_> {
        match self.token_info(access_token) {
            None => TokenCheck::Unknown,
            Some(_) if self.revoked.contains(access_token) => TokenCheck::Revoked,
            Some(t) if t.expires_at_ms <= now => TokenCheck::Expired,
            Some(t) => TokenCheck::Valid(t),
        }
    }

    /// Revokes every token issued so far (resets included); returns how many were not revoked
    /// before. Tokens issued later are not affected.
    pub fn revoke_all(&mut self) -> usize {
        let before = self.revoked.len();
        for t in &self.all_issued {
            self.revoked.insert(t.access_token.clone());
        }
        self.revoked.len() - before
    }

    /// Revokes one token: `None` if the fake never issued it, else whether it was not revoked
    /// before.
    pub fn revoke(&mut self, access_token: &str) -> Option<bool> {
        self.token_info(access_token)?;
        Some(self.revoked.insert(access_token.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMS: FaultTarget = FaultTarget::Ims;

    #[test]
    fn faults_are_fifo_with_counts() {
        let mut st = State::new();
        st.push_fault(
            IMS,
            Fault {
                kind: FaultKind::Drop,
                remaining: Some(2),
            },
        );
        st.push_fault(
            IMS,
            Fault {
                kind: FaultKind::Garbage,
                remaining: Some(1),
            },
        );
        st.push_fault(
            IMS,
            Fault {
                kind: FaultKind::EmptyToken,
                remaining: None,
            },
        );
        assert_eq!(st.take_fault(IMS), Some(FaultKind::Drop));
        assert_eq!(st.take_fault(IMS), Some(FaultKind::Drop));
        assert_eq!(st.take_fault(IMS), Some(FaultKind::Garbage));
        for _ in 0..5 {
            assert_eq!(st.take_fault(IMS), Some(FaultKind::EmptyToken));
        }
        st.reset();
        assert_eq!(st.take_fault(IMS), None);
    }

    #[test]
    fn each_target_has_its_own_queue() {
        let mut st = State::new();
        let add = FaultTarget::Api(ApiOp::Add);
        let list = FaultTarget::Api(ApiOp::List);
        st.push_fault(
            add,
            Fault {
                kind: FaultKind::AddThenDrop,
                remaining: Some(1),
            },
        );
        st.push_fault(
            IMS,
            Fault {
                kind: FaultKind::Garbage,
                remaining: Some(1),
            },
        );
        assert_eq!(st.pending_faults(), 2);
        assert_eq!(st.pending_faults_for(list), 0);
        assert_eq!(st.take_fault(list), None);
        assert_eq!(st.take_fault(FaultTarget::Api(ApiOp::Delete)), None);
        assert_eq!(st.take_fault(IMS), Some(FaultKind::Garbage));
        assert_eq!(st.pending_faults_for(add), 1);
        assert_eq!(st.take_fault(add), Some(FaultKind::AddThenDrop));
        assert_eq!(st.take_fault(add), None);
        assert_eq!(st.pending_faults(), 0);
    }

    #[test]
    fn fault_kinds_per_target() {
        let add = FaultTarget::Api(ApiOp::Add);
        let del = FaultTarget::Api(ApiOp::Delete);
        let list = FaultTarget::Api(ApiOp::List);
        assert!(FaultKind::Drop.valid_for(list));
        assert!(FaultKind::Slow { ms: 1 }.valid_for(del));
        assert!(FaultKind::AddThenDrop.valid_for(add));
        assert!(!FaultKind::AddThenDrop.valid_for(del));
        assert!(!FaultKind::AddThenDrop.valid_for(IMS));
        assert!(FaultKind::DeleteThenDrop.valid_for(del));
        assert!(!FaultKind::DeleteThenDrop.valid_for(list));
        assert!(!FaultKind::InvalidClient.valid_for(list));
        assert!(FaultKind::EmptyToken.valid_for(IMS));
        for t in FaultTarget::ALL {
            assert_eq!(FaultTarget::parse(t.name()), Some(t));
        }
        assert_eq!(FaultTarget::parse("token"), None);
    }

    #[test]
    fn clients_and_secrets() {
        let mut st = State::new();
        st.upsert_client("c", "s1", None);
        let tech = st.clients["c"].tech_account_id.clone();
        assert!(tech.ends_with("@techacct.adobe.com"));
        st.upsert_client("c", "s2", Some(vec!["openid".to_owned()]));
        st.upsert_client("d", "s1", None);
        assert_eq!(st.known_secrets, vec!["s1", "s2"]);
        assert_eq!(st.clients["c"].tech_account_id, tech);
        assert_eq!(st.clients["c"].secrets.len(), 1);
        assert_eq!(st.clients["c"].secrets[0].value, "s2");
        assert!(st.clients["c"].allows("openid"));
        assert!(!st.clients["c"].allows("AdobeID"));
        assert!(st.clients["d"].allows("anything"));
        st.reset();
        assert_eq!(st.clients.len(), 2);
        assert_eq!(st.known_secrets.len(), 2);
    }

    #[test]
    fn secret_list_semantics_and_the_limit() {
        let mut st = State::new();
        st.upsert_client("c", "first", None);
        let first = st.clients["c"].secrets[0].clone();
        assert_eq!(first.uuid.len(), 32);
        assert!(first.uuid.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(first.last_used_at_ms, None);
        assert_eq!(st.clients["c"].max_secrets_seen, 1);

        // Re-registering the same value keeps the entry.
        st.upsert_client("c", "first", None);
        assert_eq!(st.clients["c"].secrets, vec![first.clone()]);

        let second = st.add_secret("c", None).expect("second secret");
        assert!(second.value.starts_with("p8e-"));
        assert_eq!(second.value.len(), 36);
        assert_ne!(second.uuid, first.uuid);
        assert_eq!(
            st.add_secret("c", Some("x")),
            Err(SecretError::LimitReached)
        );
        assert_eq!(st.add_secret("zz", None), Err(SecretError::UnknownClient));
        assert_eq!(st.clients["c"].max_secrets_seen, 2);
        assert!(st.known_secrets.contains(&second.value));

        assert_eq!(
            st.delete_secret("c", "nope"),
            Err(SecretError::UnknownSecret)
        );
        assert_eq!(st.delete_secret("c", &first.uuid), Ok(first.clone()));
        assert_eq!(
            st.add_secret("c", Some(&second.value)),
            Err(SecretError::DuplicateValue)
        );
        let third = st.add_secret("c", Some("third")).expect("room again");
        let uuids: Vec<&str> = st.clients["c"]
            .secrets
            .iter()
            .map(|s| s.uuid.as_str())
            .collect();
        assert_eq!(uuids, [second.uuid.as_str(), third.uuid.as_str()]);
        assert_eq!(st.clients["c"].max_secrets_seen, 2);

        // A deleted secret stays known (for log scans); reset keeps the secrets.
        assert!(st.known_secrets.contains(&first.value));
        st.mark_secret_used("c", &third.uuid, 42);
        st.delete_secret("c", &second.uuid).expect("delete");
        st.reset();
        assert_eq!(st.clients["c"].max_secrets_seen, 1);
        assert_eq!(st.clients["c"].secrets[0].last_used_at_ms, Some(42));

        // Even the last secret can be deleted.
        st.delete_secret("c", &third.uuid).expect("delete last");
        assert!(st.clients["c"].secrets.is_empty());
    }

    #[test]
    fn credentials_map_to_clients() {
        let mut st = State::new();
        st.upsert_client("c", "s", None);
        assert_eq!(
            st.upsert_credential("1234", "5678", "nope"),
            Err(SecretError::UnknownClient)
        );
        st.upsert_credential("1234", "5678", "c")
            .expect("known client");
        assert_eq!(st.credential_client("1234", "5678"), Some("c"));
        assert_eq!(st.credential_client("1234", "0000"), None);
        st.reset();
        assert_eq!(st.credential_client("1234", "5678"), Some("c"));
    }

    #[test]
    fn tokens_stay_known_across_reset() {
        let mut st = State::new();
        let tok = IssuedToken {
            access_token: "t".to_owned(),
            client_id: "c".to_owned(),
            scope: "openid,AdobeID".to_owned(),
            created_at_ms: 1,
            expires_at_ms: 2,
        };
        st.record_issued(tok.clone());
        st.reset();
        assert!(st.issued.is_empty());
        assert_eq!(st.token_info("t"), Some(&tok));
        assert!(tok.has_scopes(&["AdobeID", "openid"]));
        assert!(!tok.has_scopes(&["openid", "adobeio_api"]));
        assert!(!tok.has_scopes(&["Adobe"]));
    }

    fn token(name: &str, expires_at_ms: u64) -> IssuedToken {
        IssuedToken {
            access_token: name.to_owned(),
            client_id: "c".to_owned(),
            scope: "openid".to_owned(),
            created_at_ms: 1,
            expires_at_ms,
        }
    }

    #[test]
    fn tokens_are_checked_for_issue_revocation_and_expiry() {
        let mut st = State::new();
        st.record_issued(token("a", 100));
        st.record_issued(token("b", 100));
        st.record_issued(token("old", 10));
        assert_eq!(st.check_token("a", 50), TokenCheck::Valid(&token("a", 100)));
        assert_eq!(st.check_token("a", 100), TokenCheck::Expired);
        assert_eq!(st.check_token("old", 50), TokenCheck::Expired);
        assert_eq!(st.check_token("nope", 50), TokenCheck::Unknown);

        assert_eq!(st.revoke("nope"), None);
        assert_eq!(st.revoke("a"), Some(true));
        assert_eq!(st.revoke("a"), Some(false));
        assert_eq!(st.check_token("a", 50), TokenCheck::Revoked);
        assert!(matches!(st.check_token("b", 50), TokenCheck::Valid(_)));

        // Revoking all covers every token issued so far, not later ones; reset keeps it.
        assert_eq!(st.revoke_all(), 2);
        assert_eq!(st.revoke_all(), 0);
        st.reset();
        st.record_issued(token("new", 100));
        assert_eq!(st.check_token("b", 50), TokenCheck::Revoked);
        assert_eq!(st.check_token("old", 50), TokenCheck::Revoked);
        assert!(matches!(st.check_token("new", 50), TokenCheck::Valid(_)));
    }
}
