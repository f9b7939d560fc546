//! ims-broker: a Cloudflare Worker that holds Adobe OAuth Server-to-Server credentials and hands
//! cached IMS access tokens to internal callers.
//!
//! This crate is wiring and I/O only; every rule (wire format, cache policy, scopes, caller
//! config) lives in the platform-independent `ims-core` crate. Modules import downward:
//! - [`edge`]: the `fetch` export; reads the request once and decides its route;
//! - [`routes`]: which handler serves which route, errors as HTTP answers, the log line;
//! - [`handlers`]: one module per endpoint family;
//! - services: [`tokens`], [`credential_object`] (the Durable Object that owns each
//!   credential's secrets record, rotations, deletes and minting), [`rotation`],
//!   [`record_store`], [`secrets`], [`management`], [`scheduled`], [`telemetry`], [`auth`],
//!   [`identity`] (callers that present a workload identity token) and [`issuer_keys`] (their
//!   issuers' keys),
//!   [`runtime`] (`ims-core`'s platform traits) and [`credential_client`] (asking the object);
//! - below them: the request and its context ([`request`], [`context`]), the isolate's state
//!   ([`isolate`]), settings ([`config`]), answers ([`reply`], [`api_error`]), [`log`], and the
//!   runtime's own calls ([`platform`]).

mod api_error;
mod auth;
mod config;
mod context;
mod credential_client;
mod credential_object;
mod edge;
mod handlers;
mod identity;
mod isolate;
mod issuer_keys;
mod log;
mod management;
mod platform;
mod random;
mod record_store;
mod reply;
mod request;
mod rotation;
mod routes;
mod runtime;
mod scheduled;
mod secrets;
mod telemetry;
mod tokens;

use worker::{event, Env, ScheduleContext, ScheduledEvent};

/// The `scheduled` event (Cron Trigger): pre-warms tokens and wakes the credentials' objects.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    scheduled::run(&env).await;
}
