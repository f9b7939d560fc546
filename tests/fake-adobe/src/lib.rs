//! `fake-adobe`: a fake of Adobe IMS (and, later, the I/O Management API) for integration tests.
//!
//! The server listens on 127.0.0.1 only, speaks a minimal HTTP/1.1 (see [`http`]), keeps all of
//! its state in one [`state::State`] behind a single mutex, and routes every request through
//! [`router::route`]. Endpoint handlers live in [`ims`] (the token endpoint) and [`control`] (the
//! test-only `/__fake/` API). New Adobe APIs are added as a module plus a few lines in the router.

pub mod cli;
pub mod control;
pub mod form;
pub mod http;
pub mod ims;
pub mod json;
pub mod jwt;
pub mod rng;
pub mod router;
pub mod server;
pub mod state;
