//! A KV namespace called directly: `get` as text, `put` with an optional TTL, `delete`, and
//! `list` of key names. Every call has a timeout (`KV_TIMEOUT_MS`): a KV location that hangs must
//! cost a request a bounded wait, after which the caller treats it as a failed call (a token
//! lookup as a miss, a write as lost sharing, a record read through the last record read).
//!
//! workers-rs's `KvStore` passes every value and option through `serde_wasm_bindgen` (a string
//! value goes out as a JS value that is then tested for being a number, which links `f64`'s
//! `Display`), and its `list` reads each key's metadata as a `serde_json::Value`. For the four
//! plain calls this Worker makes, `serde_wasm_bindgen` alone was about 11 KB of the .wasm before
//! compression.

use futures_util::future::{select, Either};
use std::fmt;
use std::time::Duration;
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

/// A KV namespace binding, and how long each call may take.
#[derive(Clone)]
pub struct Kv {
    ns: KvNamespace,
    timeout_ms: u64,
}

impl Kv {
    /// The namespace bound as `binding`, if it is bound; each call times out after `timeout_ms`.
    pub fn from_env(env: &worker::Env, binding: &str, timeout_ms: u64) -> Option<Self> {
        let value = Reflect::get(env, &JsValue::from_str(binding)).ok()?;
        (value.is_object()).then(|| Self {
            ns: value.unchecked_into(),
            timeout_ms,
        })
    }

    /// Awaits a KV call's promise, or fails once the timeout has passed.
    async fn call(&self, promise: Promise) -> Result<JsValue, KvError> {
        let timer = worker::Delay::from(Duration::from_millis(self.timeout_ms));
        match select(JsFuture::from(promise), timer).await {
            Either::Left((result, _)) => Ok(result?),
            Either::Right(((), _)) => Err(KvError(format!(
                "timed out after {} ms (KV_TIMEOUT_MS)",
                self.timeout_ms
            ))),
        }
    }

    /// The value of `key` as text; `None` when there is none.
    pub async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        let value = self.call(self.ns.get(key, "text")?).await?;
        Ok(value.as_string())
    }

    /// Writes `value` under `key`, expiring after `ttl_s` seconds when given (KV's least is 60).
    pub async fn put(&self, key: &str, value: &str, ttl_s: Option<u64>) -> Result<(), KvError> {
        let options = Object::new();
        if let Some(ttl) = ttl_s {
            Reflect::set(&options, &"expirationTtl".into(), &(ttl as f64).into())?;
        }
        self.call(self.ns.put(key, value, &options)?).await?;
        Ok(())
    }

    /// Deletes `key`.
    pub async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.call(self.ns.delete(key)?).await?;
        Ok(())
    }

    /// The names of at most `limit` keys that start with `prefix` (the first page of KV's list).
    pub async fn list(&self, prefix: &str, limit: u32) -> Result<Vec<String>, KvError> {
        let options = Object::new();
        Reflect::set(&options, &"prefix".into(), &prefix.into())?;
        Reflect::set(&options, &"limit".into(), &limit.into())?;
        let listed = self.call(self.ns.list(&options)?).await?;
        let keys: Array = Reflect::get(&listed, &"keys".into())?.dyn_into()?;
        Ok(keys
            .iter()
            .filter_map(|key| Reflect::get(&key, &"name".into()).ok()?.as_string())
            .collect())
    }
}
