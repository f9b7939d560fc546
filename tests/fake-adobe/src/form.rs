//! `application/x-www-form-urlencoded` body parsing: `&`-separated `name=value` pairs, `+` means
//! space, `%XX` escapes are decoded, and the decoded bytes must be UTF-8.
//!
//! Stricter than the WHATWG parser (`form_urlencoded::parse`) on purpose: a malformed `%` escape
//! is an error rather than a literal `%`, and bytes that do not decode to UTF-8 are an error
//! rather than U+FFFD, so a broker that forgets to encode its parameters is caught. The decoding
//! itself is `percent-encoding`'s, the encoding `form_urlencoded`'s.

use std::fmt;

use percent_encoding::percent_decode;

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

/// Whether every `%` in `raw` starts an escape, i.e. is followed by two hex digits.
pub fn well_formed_escapes(raw: &[u8]) -> bool {
    raw.split(|&b| b == b'%')
        .skip(1)
        .all(|rest| rest.len() >= 2 && rest[0].is_ascii_hexdigit() && rest[1].is_ascii_hexdigit())
}

/// Decodes one form component: `+` becomes a space and `%XX` the byte `XX`.
pub fn decode_component(raw: &[u8]) -> Result<String, FormError> {
    if !well_formed_escapes(raw) {
        return Err(FormError::BadEscape);
    }
    let spaced: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_decode(&spaced)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| FormError::NotUtf8)
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

/// Encodes `pairs` as a form body: unreserved characters stay, space becomes `+`, everything
/// else is `%XX` (the inverse of [`parse`]).
pub fn encode(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
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
    fn escape_checks() {
        assert!(well_formed_escapes(b"a%20b%e2%82%ACc"));
        assert!(well_formed_escapes(b"no escapes"));
        for bad in [&b"%"[..], b"%4", b"a%%41", b"%4g", b"x%"] {
            assert!(!well_formed_escapes(bad), "{bad:?}");
        }
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
