//! `Secret`: a client secret held in wasm memory. `toString()` and `toJSON()` print
//! `[redacted]` (the package adds the `util.inspect` / Deno inspect hooks); only `reveal()`
//! returns the value.

use crate::error;
use ims_core::ClientSecret;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// Anything with a `reveal(): string` method, i.e. a [`Secret`].
    type Revealable;
    #[wasm_bindgen(method, catch)]
    fn reveal(this: &Revealable) -> Result<JsValue, JsValue>;
}

/// A secret value that does not print itself.
#[wasm_bindgen]
pub struct Secret(ClientSecret);

#[wasm_bindgen]
impl Secret {
    /// Wraps `value`.
    #[wasm_bindgen(constructor)]
    pub fn new(value: String) -> Secret {
        Secret(ClientSecret::new(value))
    }

    /// The plaintext. Call it only where the value must leave the program.
    pub fn reveal(&self) -> String {
        self.0.secret().to_owned()
    }

    /// Always `[redacted]`.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_js_string(&self) -> String {
        "[redacted]".into()
    }

    /// Always `"[redacted]"`, so `JSON.stringify` never prints the value.
    #[wasm_bindgen(js_name = toJSON)]
    pub fn to_json(&self) -> String {
        "[redacted]".into()
    }
}

impl Secret {
    /// Wraps a core secret for JS.
    pub fn from_core(secret: ClientSecret) -> Self {
        Secret(secret)
    }
}

/// Reads a client secret given as a string or as a [`Secret`] (anything with `reveal()`).
pub fn read(value: &JsValue, what: &str) -> Result<ClientSecret, JsValue> {
    if let Some(s) = value.as_string() {
        if s.is_empty() {
            return Err(error::invalid(format!("{what} is empty")));
        }
        return Ok(ClientSecret::new(s));
    }
    if value.is_object() {
        let r: &Revealable = value.unchecked_ref();
        if let Ok(v) = r.reveal() {
            if let Some(s) = v.as_string().filter(|s| !s.is_empty()) {
                return Ok(ClientSecret::new(s));
            }
        }
    }
    Err(error::invalid(format!(
        "{what} must be a non-empty string or a Secret"
    )))
}
