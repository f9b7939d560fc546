//! `application/x-www-form-urlencoded` body parsing: `&`-separated `name=value` pairs, `+` means
//! space, `%XX` escapes are decoded, and the decoded bytes must be UTF-8.
//!
//! Stricter than the WHATWG parser on purpose: a malformed `%` escape is an error rather than a
//! literal `%`, so a broker that forgets to encode its parameters is caught.

use std::fmt;

/// Why a form body could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormError {
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// A decoded name or value is not valid UTF-8.
    NotUtf8,
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormError::BadEscape => f.write_str("malformed percent-escape"),
            FormError::NotUtf8 => f.write_str("decoded form data is not UTF-8"),
        }
    }
}

impl std::error::Error for FormError {}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes one form component: `+` becomes a space and `%XX` the byte `XX`.
pub fn decode_component(raw: &[u8]) -> Result<String, FormError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hi = raw.get(i + 1).copied().and_then(hex_val);
                let lo = raw.get(i + 2).copied().and_then(hex_val);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => return Err(FormError::BadEscape),
                }
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| FormError::NotUtf8)
}

/// Parses a whole body into `(name, value)` pairs in order, duplicates kept.
///
/// Empty pieces (`a=1&&b=2`, a trailing `&`) are skipped; a piece without `=` is a name with an
/// empty value.
pub fn parse(body: &[u8]) -> Result<Vec<(String, String)>, FormError> {
    let mut pairs = Vec::new();
    for piece in body.split(|&b| b == b'&') {
        if piece.is_empty() {
            continue;
        }
        let (name, value) = match piece.iter().position(|&b| b == b'=') {
            Some(i) => (&piece[..i], &piece[i + 1..]),
            None => (piece, &piece[piece.len()..]),
        };
        pairs.push((decode_component(name)?, decode_component(value)?));
    }
    Ok(pairs)
}

/// Encodes one form component (the inverse of [`decode_component`]): unreserved characters
/// stay, space becomes `+`, everything else is `%XX`.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Encodes `pairs` as a form body.
pub fn encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(n, v)| format!("{}={}", encode_component(n), encode_component(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(body: &str) -> Result<Vec<(String, String)>, FormError> {
        parse(body.as_bytes())
    }

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn parses_plain_pairs_in_order() {
        assert_eq!(
            p("grant_type=client_credentials&client_id=abc&scope=openid,AdobeID"),
            Ok(owned(&[
                ("grant_type", "client_credentials"),
                ("client_id", "abc"),
                ("scope", "openid,AdobeID"),
            ]))
        );
    }

    #[test]
    fn plus_is_space_and_percent_decodes() {
        assert_eq!(
            p("scope=openid+AdobeID&s=a%2Cb%20c%2B%3D%26&n%61me=%E2%82%AC"),
            Ok(owned(&[
                ("scope", "openid AdobeID"),
                ("s", "a,b c+=&"),
                ("name", "€"),
            ]))
        );
    }

    #[test]
    fn skips_empty_pieces_and_handles_missing_equals() {
        assert_eq!(
            p("&a=1&&b&c=&"),
            Ok(owned(&[("a", "1"), ("b", ""), ("c", "")]))
        );
        assert_eq!(p(""), Ok(vec![]));
        assert_eq!(p("a=b=c"), Ok(owned(&[("a", "b=c")])));
    }

    #[test]
    fn duplicates_are_kept_for_the_caller_to_judge() {
        assert_eq!(p("a=1&a=2"), Ok(owned(&[("a", "1"), ("a", "2")])));
    }

    #[test]
    fn rejects_bad_escapes_and_non_utf8() {
        assert_eq!(p("a=%"), Err(FormError::BadEscape));
        assert_eq!(p("a=%4"), Err(FormError::BadEscape));
        assert_eq!(p("a=%zz"), Err(FormError::BadEscape));
        assert_eq!(p("a=%FF"), Err(FormError::NotUtf8));
    }

    #[test]
    fn encode_round_trips() {
        let secret = "p8e-a+b/c d&e=f%€";
        let body = encode(&[("client_secret", secret), ("scope", "openid,AdobeID")]);
        assert_eq!(
            body,
            "client_secret=p8e-a%2Bb%2Fc+d%26e%3Df%25%E2%82%AC&scope=openid%2CAdobeID"
        );
        assert_eq!(
            parse(body.as_bytes()),
            Ok(owned(&[
                ("client_secret", secret),
                ("scope", "openid,AdobeID")
            ]))
        );
    }
}
