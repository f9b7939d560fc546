//! A KV namespace called directly: `get` as text, `put` with an optional TTL, `delete`, and
//! `list` of key names.
//!
//! workers-rs's `KvStore` passes every value and option through `serde_wasm_bindgen` (a string
//! value goes out as a JS value that is then tested for being a number, which links `f64`'s
//! `Display`), and its `list` reads each key's metadata as a `serde_json::Value`. For the four
//! plain calls this Worker makes, `serde_wasm_bindgen` alone was about 11 KB of the .wasm before
//! compression (issue 6).

use std::fmt;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::js_sys::futures::JsFuture;
use worker::js_sys::{Array, Object, Promise, Reflect};

#[wasm_bindgen]
extern "C" {
    /// The runtime's KV namespace object.
    #[derive(Clone)]
    type KvNamespace;

    #[wasm_bindgen(method, catch)]
    fn get(this: &KvNamespace, key: &str, kind: &str) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn put(
        this: &KvNamespace,
        key: &str,
        value: &str,
        options: &Object,
    ) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn delete(this: &KvNamespace, key: &str) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn list(this: &KvNamespace, options: &Object) -> Result<Promise, JsValue>;
}

/// A KV call that failed: the runtime's message.
#[derive(Debug)]
pub struct KvError(String);

impl fmt::Display for KvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<JsValue> for KvError {
    fn from(e: JsValue) -> Self {
        let message = match e.dyn_ref::<worker::js_sys::Error>() {
            Some(error) => String::from(error.message()),
            None => e.as_string().unwrap_or_else(|| "unknown KV error".into()),
        };
        Self(message)
    }
}

/// A KV namespace binding.
#[derive(Clone)]
pub struct Kv(KvNamespace);

impl Kv {
    /// The namespace bound as `binding`, if it is bound.
    pub fn from_env(env: &worker::Env, binding: &str) -> Option<Self> {
        let value = Reflect::get(env, &JsValue::from_str(binding)).ok()?;
        (value.is_object()).then(|| Self(value.unchecked_into()))
    }

    /// The value of `key` as text; `None` when there is none.
    pub async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        let value = JsFuture::from(self.0.get(key, "text")?).await?;
        Ok(value.as_string())
    }

    /// Writes `value` under `key`, expiring after `ttl_s` seconds when given (KV's least is 60).
    pub async fn put(&self, key: &str, value: &str, ttl_s: Option<u64>) -> Result<(), KvError> {
        let options = Object::new();
        if let Some(ttl) = ttl_s {
            Reflect::set(&options, &"expirationTtl".into(), &(ttl as f64).into())?;
        }
        JsFuture::from(self.0.put(key, value, &options)?).await?;
        Ok(())
    }

    /// Deletes `key`.
    pub async fn delete(&self, key: &str) -> Result<(), KvError> {
        JsFuture::from(self.0.delete(key)?).await?;
        Ok(())
    }

    /// The names of at most `limit` keys that start with `prefix` (the first page of KV's list).
    pub async fn list(&self, prefix: &str, limit: u32) -> Result<Vec<String>, KvError> {
        let options = Object::new();
        Reflect::set(&options, &"prefix".into(), &prefix.into())?;
        Reflect::set(&options, &"limit".into(), &limit.into())?;
        let listed = JsFuture::from(self.0.list(&options)?).await?;
        let keys: Array = Reflect::get(&listed, &"keys".into())?.dyn_into()?;
        Ok(keys
            .iter()
            .filter_map(|key| Reflect::get(&key, &"name".into()).ok()?.as_string())
            .collect())
    }
}
