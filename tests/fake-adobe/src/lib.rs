//! `fake-adobe`: a fake of Adobe IMS and of the I/O Management API's client-secret endpoints,
//! for integration tests.
//!
//! The server listens on 127.0.0.1 only, speaks HTTP/1.1 through hyper (see [`server`]; the
//! handlers see the plain request and response model of [`http`]), keeps all of its state in one
//! [`state::State`] behind a single mutex, and routes every request through [`router::route`].
//! Endpoint handlers live in [`ims`] (the token endpoint), [`console`] (list, add and delete
//! client secrets), [`profile`] (a protected API for the broker's callers to use tokens on) and
//! [`control`] (the test-only `/__fake/` API). New Adobe APIs are added as a module plus a few
//! lines in the router.

pub mod cli;
pub mod console;
pub mod control;
pub mod form;
pub mod http;
pub mod ims;
pub mod jwt;
pub mod profile;
pub mod rng;
pub mod router;
pub mod server;
pub mod state;
