//! Request handlers, one module per endpoint family.

pub mod health;
pub mod identity;
pub mod metrics;
pub mod oauth;
pub mod secrets;
pub mod token;
