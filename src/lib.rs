//! ims-broker: a Cloudflare Worker that holds Adobe OAuth Server-to-Server credentials and hands
//! cached IMS access tokens to internal callers.
//!
//! This crate is wiring and I/O only: the `fetch` entry point ([`entry`]) hands each request to the
//! route table ([`routes`]), handlers live in [`handlers`], and every rule (wire format, cache
//! policy, scopes, caller config) lives in the platform-independent `ims-core` crate.

mod api_error;
mod auth;
mod config;
mod entry;
mod handlers;
mod incoming;
mod log;
mod management;
mod platform;
mod random;
mod refresher;
mod reply;
mod rotation;
mod routes;
mod scheduled;
mod secrets;
mod telemetry;
mod tokens;

use worker::{event, Env, ScheduleContext, ScheduledEvent};

/// Runs once when the module is instantiated, before its first event.
#[event(start)]
fn start() {
    platform::intern::hot_strings();
}

/// The `scheduled` event (Cron Trigger): pre-warms tokens and runs due rotations.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    scheduled::run(&env).await;
}
