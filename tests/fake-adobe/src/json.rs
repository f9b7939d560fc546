//! JSON objects rendered with a fixed key order (Adobe's wire order), which `serde_json::Map`
//! (sorted keys) would not preserve.

use serde_json::Value;

/// Renders `pairs` as a compact JSON object, keys in the given order.
pub fn ordered_object(pairs: &[(&str, Value)]) -> String {
    let mut out = String::from("{");
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::String((*key).to_owned()).to_string());
        out.push(':');
        out.push_str(&value.to_string());
    }
    out.push('}');
    out
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
    }
}
