//! All mutable state of the fake in one struct, shared behind a single `Mutex`.
//!
//! Handlers lock it briefly, decide and record, then unlock before sleeping or touching a
//! socket. Later Adobe APIs (the I/O Management API's credentials and secrets) add their fields
//! here; [`State::reset`] decides what a test reset clears.

use std::collections::{BTreeMap, VecDeque};
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

/// One OAuth Server-to-Server client the fake IMS knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The client id (also the `x-api-key`).
    pub client_id: String,
    /// The current client secret.
    pub secret: String,
    /// Scopes this client may request; `None` allows any scope name.
    pub scopes: Option<Vec<String>>,
    /// The technical account id (`…@techacct.adobe.com`), stable for the client's lifetime.
    pub tech_account_id: String,
}

impl Client {
    /// Whether this client may request `scope` (one item of the comma-separated list).
    pub fn allows(&self, scope: &str) -> bool {
        match &self.scopes {
            None => true,
            Some(list) => list.iter().any(|s| s == scope),
        }
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

/// What an injected fault does to one token call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer this status (429 or 5xx) with an OAuth-style error body.
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
    /// Close the connection without answering.
    Drop,
    /// 400 `invalid_client` whatever was sent.
    InvalidClient,
    /// 400 `invalid_scope` whatever was sent.
    InvalidScope,
    /// 200 with an empty `access_token`.
    EmptyToken,
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
        }
    }
}

/// One entry of the fault queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// What to do.
    pub kind: FaultKind,
    /// Token calls left for this entry; `None` means every call until reset.
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
    /// Expiry, ms since the epoch (from the configured `expires_in`).
    pub expires_at_ms: u64,
}

/// Everything the fake remembers.
#[derive(Debug, Default)]
pub struct State {
    /// Known clients by id (kept across reset).
    pub clients: BTreeMap<String, Client>,
    /// Every client secret the fake knows or ever knew (kept across reset).
    pub known_secrets: Vec<String>,
    /// Token answer settings.
    pub config: TokenConfig,
    /// FIFO of injected faults.
    pub faults: VecDeque<Fault>,
    /// Every `POST /ims/token/v3` since reset, faulted and rejected ones included.
    pub token_calls: u64,
    /// Token calls answered with a real token since reset.
    pub token_successes: u64,
    /// One record per token call since reset.
    pub calls: Vec<CallRecord>,
    /// Tokens issued since reset.
    pub issued: Vec<IssuedToken>,
    /// Every token ever issued (kept across reset, for log-leak checks).
    pub all_issued_tokens: Vec<String>,
}

impl State {
    /// An empty state with the default config and no clients.
    pub fn new() -> State {
        State::default()
    }

    /// Adds or replaces a client; its secret is remembered forever in `known_secrets`.
    pub fn upsert_client(&mut self, client_id: &str, secret: &str, scopes: Option<Vec<String>>) {
        let tech_account_id = match self.clients.get(client_id) {
            Some(existing) => existing.tech_account_id.clone(),
            None => format!("{}@techacct.adobe.com", rng::hex(12).to_uppercase()),
        };
        self.remember_secret(secret);
        self.clients.insert(
            client_id.to_owned(),
            Client {
                client_id: client_id.to_owned(),
                secret: secret.to_owned(),
                scopes,
                tech_account_id,
            },
        );
    }

    /// Records `secret` in `known_secrets` (once).
    pub fn remember_secret(&mut self, secret: &str) {
        if !self.known_secrets.iter().any(|s| s == secret) {
            self.known_secrets.push(secret.to_owned());
        }
    }

    /// Clears counters, call records, issued tokens (not `all_issued_tokens`), faults and
    /// config; keeps clients and known secrets.
    pub fn reset(&mut self) {
        self.config = TokenConfig::default();
        self.faults.clear();
        self.token_calls = 0;
        self.token_successes = 0;
        self.calls.clear();
        self.issued.clear();
    }

    /// Consumes one unit of the head fault, if any, and returns its kind.
    pub fn take_fault(&mut self) -> Option<FaultKind> {
        let head = self.faults.front_mut()?;
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
            self.faults.pop_front();
        }
        Some(kind)
    }

    /// The issued-token record for `access_token`, if the fake issued it (since reset).
    pub fn token_info(&self, access_token: &str) -> Option<&IssuedToken> {
        self.issued.iter().find(|t| t.access_token == access_token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_fifo_with_counts() {
        let mut st = State::new();
        st.faults.push_back(Fault {
            kind: FaultKind::Drop,
            remaining: Some(2),
        });
        st.faults.push_back(Fault {
            kind: FaultKind::Garbage,
            remaining: Some(1),
        });
        st.faults.push_back(Fault {
            kind: FaultKind::EmptyToken,
            remaining: None,
        });
        assert_eq!(st.take_fault(), Some(FaultKind::Drop));
        assert_eq!(st.take_fault(), Some(FaultKind::Drop));
        assert_eq!(st.take_fault(), Some(FaultKind::Garbage));
        for _ in 0..5 {
            assert_eq!(st.take_fault(), Some(FaultKind::EmptyToken));
        }
        st.reset();
        assert_eq!(st.take_fault(), None);
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
        assert!(st.clients["c"].allows("openid"));
        assert!(!st.clients["c"].allows("AdobeID"));
        assert!(st.clients["d"].allows("anything"));
        st.reset();
        assert_eq!(st.clients.len(), 2);
        assert_eq!(st.known_secrets.len(), 2);
    }
}
