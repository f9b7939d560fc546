//! JSON objects rendered with a fixed key order (Adobe's wire order), which `serde_json::Map`
//! (sorted keys) would not preserve.

use serde_json::Value;

/// Renders `pairs` as a compact JSON object, keys in the given order.
pub fn ordered_object(pairs: &[(&str, Value)]) -> String {
    let rendered: Vec<(&str, String)> = pairs.iter().map(|(k, v)| (*k, v.to_string())).collect();
    object_of_rendered(&rendered)
}

/// Renders `pairs` as a compact JSON object whose values are ALREADY rendered JSON texts (so
/// nested objects can keep their own order), keys in the given order.
pub fn object_of_rendered(pairs: &[(&str, String)]) -> String {
    let mut out = String::from("{");
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::String((*key).to_owned()).to_string());
        out.push(':');
        out.push_str(value);
    }
    out.push('}');
    out
}

/// Renders already rendered JSON texts as a JSON array.
pub fn array_of_rendered(items: &[String]) -> String {
    format!("[{}]", items.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_order_and_escapes() {
        let s = ordered_object(&[("z", json!(1)), ("a\"b", json!("x\ny")), ("m", json!(null))]);
        assert_eq!(s, r#"{"z":1,"a\"b":"x\ny","m":null}"#);
        assert_eq!(ordered_object(&[]), "{}");
        let inner = ordered_object(&[("z", json!(1)), ("a", json!(2))]);
        let arr = array_of_rendered(&[inner.clone(), inner]);
        assert_eq!(arr, r#"[{"z":1,"a":2},{"z":1,"a":2}]"#);
        assert_eq!(array_of_rendered(&[]), "[]");
        assert_eq!(
            object_of_rendered(&[("k", arr)]),
            r#"{"k":[{"z":1,"a":2},{"z":1,"a":2}]}"#
        );
    }
}
