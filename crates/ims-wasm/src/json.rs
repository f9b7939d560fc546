//! Plain JS objects, built and read field by field with `Reflect` (no serde on this side:
//! it would cost more WebAssembly than the few shapes the API has).

use wasm_bindgen::JsValue;

/// Builds a plain object: `Obj::new().set("a", 1).set("b", "x").into()`.
pub struct Obj(js_sys::Object);

impl Obj {
    /// An empty object.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Obj {
        Obj(js_sys::Object::new())
    }

    /// Sets `key` to `value`.
    pub fn set(self, key: &str, value: impl Into<JsValue>) -> Obj {
        let _ = js_sys::Reflect::set(&self.0, &JsValue::from_str(key), &value.into());
        self
    }
}

impl From<Obj> for JsValue {
    fn from(o: Obj) -> JsValue {
        o.0.into()
    }
}

/// `value[key]`, or undefined.
pub fn field(value: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(value, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// A number of milliseconds as a JS number.
pub fn num(ms: u64) -> JsValue {
    JsValue::from_f64(ms as f64)
}

/// An optional number of milliseconds: the number, or null.
pub fn opt_num(ms: Option<u64>) -> JsValue {
    ms.map_or(JsValue::NULL, num)
}

/// A list of strings as a JS array.
pub fn strings<'a>(items: impl IntoIterator<Item = &'a str>) -> JsValue {
    items
        .into_iter()
        .map(JsValue::from_str)
        .collect::<js_sys::Array>()
        .into()
}
