//! Reading a JSON document that must be one object into a derived record.
//!
//! A `serde` derive reads a struct from a JSON array too, field by field in declaration order;
//! the broker's stored values and Adobe's answers are objects only, so an array is refused here
//! before the derive sees it. Everything else is the derive's: unknown fields skipped unless the
//! type denies them, a field given twice refused, nesting bounded by `serde_json`'s recursion
//! limit.

use serde::de::DeserializeOwned;

/// `bytes` as a `T`, if they are one JSON object that reads as one (whitespace around it
/// allowed, nothing else).
pub fn from_object<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    if !bytes.trim_ascii_start().starts_with(b"{") {
        return None;
    }
    serde_json::from_slice(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Pair {
        a: u64,
        b: Option<String>,
    }

    #[test]
    fn only_an_object_is_a_record() {
        assert_eq!(
            from_object::<Pair>(b" {\"b\":null,\"x\":[{}],\"a\":1} "),
            Some(Pair { a: 1, b: None })
        );
        for refused in [
            &b"[1,\"x\"]"[..],
            b"{\"a\":1,\"a\":2}",
            b"{\"a\":1} x",
            b"{\"a\":1.0}",
            b"{\"a\":-1}",
            b"",
            b"null",
        ] {
            assert_eq!(from_object::<Pair>(refused), None, "{refused:?}");
        }
    }
}
