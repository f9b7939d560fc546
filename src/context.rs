//! What a handler gets besides the request: the bindings, the execution context, this
//! isolate's state, the request's log line and, once known, the authenticated caller.

use crate::isolate::Isolate;
use crate::log::RequestLog;
use ims_core::callers::Caller;
use std::rc::Rc;
use worker::{Context, Env};

/// A request's context.
pub struct Ctx {
    /// Bindings.
    pub env: Env,
    /// For `wait_until` (background refresh, event batches).
    pub ctx: Context,
    /// This isolate's state.
    pub isolate: Rc<Isolate>,
    /// The request's log line, filled in by the handler.
    pub log: RequestLog,
    /// The authenticated caller, once a handler knows it: an admin's errors say which setting is
    /// misconfigured.
    pub caller: Option<Rc<Caller>>,
}

impl Ctx {
    /// True when the authenticated caller is an admin.
    pub fn admin(&self) -> bool {
        self.caller
            .as_ref()
            .is_some_and(|caller| caller.may_manage_secrets())
    }
}
