//! Platform-independent core of ims-broker.
//!
//! Everything here is pure: it builds requests and parses responses, decides what is fresh, what
//! to retry and who may ask for what. Time, HTTP and storage come in through the traits of
//! [`platform`], so the same rules run in the Cloudflare Worker, in the npm package and in
//! native unit tests.
//!
//! - [`ims`]: the IMS token endpoint's wire format ([RFC 6749 §4.4](https://www.rfc-editor.org/rfc/rfc6749#section-4.4)).
//! - [`jwt`]: the access token's `created_at`/`expires_in` claims.
//! - [`scope`], [`cache_key`]: canonical scope sets and the cache key.
//! - [`policy`]: fresh, stale, unusable; skew; KV TTL.
//! - [`retry`]: attempts, backoff, `Retry-After`.
//! - [`cache`]: the two-level cache with single-flight and background refresh.
//! - [`callers`], [`credentials`]: configuration parsed from Worker vars and secrets.
//! - [`rotation`], [`rotation_runner`]: the secret rotation's state machine and the order of
//!   effects that drives it.
//! - [`workload_identity`]: the rules for callers presenting an OIDC token instead of a key.
#![forbid(unsafe_code)]

pub mod budget;
pub mod cache;
pub mod cache_key;
pub mod callers;
pub mod client_auth;
pub mod config;
pub mod credentials;
pub mod envelope;
pub mod error;
pub mod events;
pub mod hex;
pub mod hit_summary;
pub mod http;
pub mod ims;
pub mod io_api;
pub mod jwt;
pub mod memo;
pub mod metrics;
pub mod platform;
pub mod policy;
pub mod record;
pub mod record_json;
pub mod refused;
pub mod request_url;
pub mod retry;
pub mod rotation;
pub mod rotation_runner;
pub mod scope;
pub mod secret;
pub mod server_metadata;
pub mod time;
pub mod token_body;
pub mod upstream_url;
pub mod workload_identity;

pub use cache::{CacheOutcome, Failure, Served, Settings, TokenCache, TokenSpec, UpstreamCall};
pub use config::ConfigError;
pub use error::ImsError;
pub use scope::{ScopeError, ScopeSet};
pub use secret::{AccessToken, CallerKey, ClientSecret, IdentityToken};
