//! Reading the options object of `new TokenClient(options)` and `tokenRequest(options)`.

use crate::error;
use crate::secret;
use ims_core::ims::{ClientAuth, TokenEndpoint, DEFAULT_TOKEN_URL};
use ims_core::{ClientSecret, ScopeSet};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// The caller's options object (see `TokenClientOptions` in `index.d.ts`).
    pub type Options;
    #[wasm_bindgen(method, getter, js_name = tokenUrl)]
    fn token_url(this: &Options) -> JsValue;
    #[wasm_bindgen(method, getter, js_name = clientId)]
    fn client_id(this: &Options) -> JsValue;
    #[wasm_bindgen(method, getter, js_name = clientSecret)]
    fn client_secret(this: &Options) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn scopes(this: &Options) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn fetch(this: &Options) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn store(this: &Options) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn protocol(this: &Options) -> JsValue;
    #[wasm_bindgen(method, getter, js_name = clientAuth)]
    fn client_auth(this: &Options) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn credential(this: &Options) -> JsValue;
    #[wasm_bindgen(method, getter, js_name = timeoutMs)]
    fn timeout_ms(this: &Options) -> JsValue;
    #[wasm_bindgen(method, getter, js_name = waitUntil)]
    fn wait_until(this: &Options) -> JsValue;
    #[wasm_bindgen(method, getter, js_name = onError)]
    fn on_error(this: &Options) -> JsValue;
}

/// The options, checked.
pub struct Config {
    /// The token endpoint.
    pub token_url: String,
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub secret: ClientSecret,
    /// The default scope set.
    pub scopes: ScopeSet,
    /// The endpoint's dialect.
    pub endpoint: TokenEndpoint,
    /// The credential name in the cache key.
    pub credential: String,
    /// Timeout of each token call, ms.
    pub timeout_ms: Option<u64>,
    /// `fetch`, or undefined.
    pub fetch: JsValue,
    /// `store`, or undefined.
    pub store: JsValue,
    /// `waitUntil`, if a function.
    pub wait_until: Option<js_sys::Function>,
    /// `onError`, or undefined.
    pub on_error: JsValue,
}

fn string(value: JsValue, what: &str) -> Result<Option<String>, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    value
        .as_string()
        .map(Some)
        .ok_or_else(|| error::invalid(format!("{what} must be a string")))
}

fn function_or_undefined(value: JsValue, what: &str) -> Result<JsValue, JsValue> {
    if value.is_undefined() || value.is_null() {
        Ok(JsValue::UNDEFINED)
    } else if value.is_function() {
        Ok(value)
    } else {
        Err(error::invalid(format!("{what} must be a function")))
    }
}

/// Parses scopes given as a string (split on `,` for Adobe, on spaces for RFC 6749) or as a
/// list of names.
pub fn scopes(value: &JsValue, endpoint: TokenEndpoint) -> Result<ScopeSet, JsValue> {
    let parsed = if let Some(text) = value.as_string() {
        match endpoint {
            TokenEndpoint::Adobe => ScopeSet::from_comma(&text),
            TokenEndpoint::Rfc6749 { .. } => ScopeSet::from_space(&text),
        }
    } else if js_sys::Array::is_array(value) {
        let mut names = Vec::new();
        for item in js_sys::Array::from(value).iter() {
            names.push(
                item.as_string()
                    .ok_or_else(|| error::invalid("every scope must be a string"))?,
            );
        }
        ScopeSet::from_names(&names)
    } else if value.is_undefined() || value.is_null() {
        Ok(ScopeSet::default())
    } else {
        return Err(error::invalid(
            "scopes must be a string or an array of strings",
        ));
    };
    parsed.map_err(|e| error::to_js(&e))
}

/// Parses the endpoint dialect from `protocol` and `clientAuth`.
fn endpoint(o: &Options) -> Result<TokenEndpoint, JsValue> {
    let protocol = string(o.protocol(), "protocol")?;
    let auth = string(o.client_auth(), "clientAuth")?;
    match (protocol.as_deref(), auth.as_deref()) {
        (None | Some("adobe"), None) => Ok(TokenEndpoint::Adobe),
        (None | Some("adobe"), Some(_)) => Err(error::invalid(
            "clientAuth applies to protocol \"oauth2\" only",
        )),
        (Some("oauth2"), None | Some("basic")) => Ok(TokenEndpoint::Rfc6749 {
            auth: ClientAuth::Basic,
        }),
        (Some("oauth2"), Some("post")) => Ok(TokenEndpoint::Rfc6749 {
            auth: ClientAuth::Post,
        }),
        (Some("oauth2"), Some(_)) => {
            Err(error::invalid("clientAuth must be \"basic\" or \"post\""))
        }
        _ => Err(error::invalid("protocol must be \"adobe\" or \"oauth2\"")),
    }
}

impl Config {
    /// Reads and checks the options object.
    pub fn read(value: &JsValue) -> Result<Config, JsValue> {
        if !value.is_object() {
            return Err(error::invalid("options must be an object"));
        }
        let o: &Options = value.unchecked_ref();
        let endpoint = endpoint(o)?;
        let token_url = match (string(o.token_url(), "tokenUrl")?, endpoint) {
            (Some(url), _) if !url.is_empty() => url,
            (_, TokenEndpoint::Adobe) => DEFAULT_TOKEN_URL.to_owned(),
            (_, TokenEndpoint::Rfc6749 { .. }) => {
                return Err(error::invalid(
                    "tokenUrl is required for protocol \"oauth2\"",
                ))
            }
        };
        // The secret goes to this URL: https, or plain http to a loopback host only.
        ims_core::upstream_url::check("tokenUrl", &token_url)
            .map_err(|e| error::invalid(e.to_string()))?;
        let client_id = string(o.client_id(), "clientId")?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| error::invalid("clientId is required"))?;
        let secret = secret::read(&o.client_secret(), "clientSecret")?;
        let scopes = scopes(&o.scopes(), endpoint)?;
        let credential = string(o.credential(), "credential")?.unwrap_or_else(|| "default".into());
        let timeout = o.timeout_ms();
        let timeout_ms = if timeout.is_undefined() || timeout.is_null() {
            None
        } else {
            match timeout.as_f64() {
                Some(t) if t >= 1.0 && t.is_finite() => Some(t as u64),
                _ => return Err(error::invalid("timeoutMs must be a positive number")),
            }
        };
        let store = o.store();
        let store = if store.is_undefined() || store.is_null() {
            JsValue::UNDEFINED
        } else if store.is_object() {
            store
        } else {
            return Err(error::invalid(
                "store must be an object with get(key) and put(key, value, ttlSeconds)",
            ));
        };
        let wait_until = function_or_undefined(o.wait_until(), "waitUntil")?;
        Ok(Config {
            token_url,
            client_id,
            secret,
            scopes,
            endpoint,
            credential,
            timeout_ms,
            fetch: function_or_undefined(o.fetch(), "fetch")?,
            store,
            wait_until: wait_until.dyn_into().ok(),
            on_error: function_or_undefined(o.on_error(), "onError")?,
        })
    }
}
