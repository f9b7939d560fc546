//! The one place core errors become JavaScript `Error`s.
//!
//! Every error thrown or rejected by the package is an `ImsError` (a subclass of `Error`, defined
//! in the package's `api.mjs` and registered with `_useErrorClass`) with a stable
//! `code` (the broker's codes: `upstream_invalid_client`, `invalid_scope`, …), and where they
//! exist Adobe's `x-debug-id` as `debugId`, the HTTP `status` the broker would answer with,
//! the `upstreamStatus` Adobe answered with and `retryAfter` seconds. Messages come from the
//! core's `Display`, which never holds a secret or a token.

use ims_core::io_api::IoApiError;
use ims_core::jwt::ClaimsError;
use ims_core::rotation::PlanError;
use ims_core::{ImsError, ScopeError};
use wasm_bindgen::JsValue;

/// What a JS error carries besides its message.
#[derive(Default)]
pub struct Details<'a> {
    /// The stable code.
    pub code: &'a str,
    /// Adobe's `x-debug-id`.
    pub debug_id: Option<&'a str>,
    /// The HTTP status the broker answers this error with.
    pub status: Option<u16>,
    /// The HTTP status Adobe answered with.
    pub upstream_status: Option<u16>,
    /// Seconds Adobe asked to wait.
    pub retry_after_s: Option<u64>,
    /// Adobe's gateway `error_code` (I/O Management API).
    pub adobe_code: Option<&'a str>,
}

/// A core error, seen as its JS details.
pub trait CoreError: std::fmt::Display {
    /// The fields set on the JS error.
    fn details(&self) -> Details<'_>;
}

impl CoreError for ImsError {
    fn details(&self) -> Details<'_> {
        Details {
            code: self.code(),
            debug_id: self.debug_id(),
            status: Some(self.http_status()),
            upstream_status: self.upstream_status(),
            retry_after_s: self.retry_after_s(),
            adobe_code: None,
        }
    }
}

impl CoreError for IoApiError {
    fn details(&self) -> Details<'_> {
        let (adobe_code, retry_after_s) = match self {
            IoApiError::Status {
                code,
                retry_after_s,
                ..
            } => (code.as_deref(), *retry_after_s),
            _ => (None, None),
        };
        Details {
            code: "upstream_management_error",
            debug_id: self.debug_id(),
            status: Some(502),
            upstream_status: self.status(),
            retry_after_s,
            adobe_code,
        }
    }
}

impl CoreError for ScopeError {
    fn details(&self) -> Details<'_> {
        Details {
            code: "invalid_scope",
            status: Some(400),
            ..Details::default()
        }
    }
}

impl CoreError for ClaimsError {
    fn details(&self) -> Details<'_> {
        Details {
            code: "invalid_token",
            ..Details::default()
        }
    }
}

impl CoreError for PlanError {
    fn details(&self) -> Details<'_> {
        Details {
            code: match self {
                PlanError::Ambiguous => "rotation_ambiguous",
                PlanError::ActiveMissing(_) => "rotation_active_missing",
                PlanError::NoRotation => "no_rotation",
            },
            status: Some(409),
            ..Details::default()
        }
    }
}

/// A problem with what the JS caller passed (`invalid_options`).
pub struct InvalidOptions(pub String);

impl std::fmt::Display for InvalidOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl CoreError for InvalidOptions {
    fn details(&self) -> Details<'_> {
        Details {
            code: "invalid_options",
            ..Details::default()
        }
    }
}

fn set(target: &JsValue, name: &str, value: JsValue) {
    let _ = js_sys::Reflect::set(target, &JsValue::from_str(name), &value);
}

/// The class of every error the package throws: the JS layer's `ImsError` (a subclass of
/// `Error`), so that `instanceof ImsError` holds. Each runtime entry calls it once after loading.
#[wasm_bindgen::prelude::wasm_bindgen(js_name = _useErrorClass)]
pub fn use_error_class(class: JsValue) {
    crate::host::use_error_class(&class);
}

/// Turns a core error into a JS `Error` (of the class given to `_useErrorClass`) named `ImsError` with `code`, `debugId`, `status`,
/// `upstreamStatus`, `retryAfter` and `adobeCode` (each only when known).
pub fn to_js(error: &dyn CoreError) -> JsValue {
    let d = error.details();
    let e = crate::host::new_error(&error.to_string());
    set(&e, "name", "ImsError".into());
    set(&e, "code", d.code.into());
    if let Some(id) = d.debug_id {
        set(&e, "debugId", id.into());
    }
    if let Some(s) = d.status {
        set(&e, "status", s.into());
    }
    if let Some(s) = d.upstream_status {
        set(&e, "upstreamStatus", s.into());
    }
    if let Some(s) = d.retry_after_s {
        set(&e, "retryAfter", (s as f64).into());
    }
    if let Some(c) = d.adobe_code {
        set(&e, "adobeCode", c.into());
    }
    e
}

/// Shorthand for an `invalid_options` error.
pub fn invalid(message: impl Into<String>) -> JsValue {
    to_js(&InvalidOptions(message.into()))
}
