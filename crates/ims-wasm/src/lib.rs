//! wasm-bindgen bindings of `ims-core` for the npm package `ims-broker-core`.
//!
//! A thin layer, modelled on lol-html's `js-api` and ruff's `ruff_wasm`: it converts values
//! between JavaScript and the core and holds no rule of its own. The token rules (cache key,
//! skew, early refresh, single-flight, retries, cooldown) all run in [`ims_core`], the same code
//! the Cloudflare Worker runs.
//!
//! - [`client`]: `TokenClient` (the core's token cache over `fetch` and an optional store) and
//!   `SecretsClient` (the I/O Management API's secret operations).
//! - [`rotation`]: `RotationState`, the secret-rotation state machine.
//! - [`helpers`]: pure functions for callers who bring their own HTTP.
//! - [`secret`]: `Secret`, a value that never prints itself.
//! - [`error`]: the one helper that turns core errors into JS `Error`s with `code`/`debugId`.
//! - [`host`]: the platform traits over the JS runtime (`js/host.js`).

pub mod client;
pub mod error;
pub mod helpers;
pub mod host;
pub mod json;
pub mod options;
pub mod rotation;
pub mod secret;

pub use client::{SecretsClient, TokenClient};
pub use rotation::RotationState;
pub use secret::Secret;
