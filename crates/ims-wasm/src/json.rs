//! The plain JS objects of the API: derived `Serialize` records turned into JS values by
//! `serde-wasm-bindgen`, and the reading of one field of a JS object.

use serde::{Serialize, Serializer};
use wasm_bindgen::JsValue;

/// `value` as a plain JS value: records and maps as plain objects (members in the order they
/// are written), `None` as `null`, numbers as numbers, strings as strings, sequences as arrays.
pub fn to_js<T: Serialize + ?Sized>(value: &T) -> JsValue {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .unwrap_or(JsValue::NULL)
}

/// `value[key]`, or undefined.
pub fn field(value: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(value, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// A number of milliseconds as a JS number (exact up to 2^53 ms, far beyond any real instant;
/// larger values are rounded, never refused).
pub fn num(ms: u64) -> f64 {
    ms as f64
}

/// Name-value pairs (HTTP headers) as one plain object, in their order; a name given again
/// replaces its value.
pub struct Pairs<'a>(pub &'a [(String, String)]);

impl Serialize for Pairs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}
