//! The body of the broker's `POST /v1/token`: optional JSON
//! `{"credential":"default","scopes":["openid","AdobeID"]}`, where `scopes` may also be Adobe's
//! comma string, and `refused` reports a token an Adobe API refused ([`crate::refused`]). Read without I/O; the Worker hands over the bytes and answers the error as
//! `400 invalid_request`.

use crate::refused::RefusedToken;
use crate::scope::{ScopeError, ScopeSet};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

/// Why a body was refused; the text is the `error_description` of the 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("body must be a JSON object with optional \"credential\" (string), \"scopes\" (list of strings) and \"refused\" (SHA-256 of a refused token, hex): {0}")]
pub struct BodyError(String);

/// The request body: everything is optional, `null` meaning absent; no other member.
#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// The credential's name; `None` is the default credential.
    #[serde(default, deserialize_with = "credential")]
    pub credential: Option<String>,
    /// The scopes as spelt; `None` is the credential's default scopes.
    #[serde(default, deserialize_with = "scopes")]
    pub scopes: Option<Scopes>,
    /// A token an Adobe API refused, by its SHA-256: the broker replaces it.
    #[serde(default, deserialize_with = "refused")]
    pub refused: Option<RefusedToken>,
}

/// Why a `credential` is refused.
const BAD_CREDENTIAL: &str = "\"credential\" must be a string";
/// Why `scopes` are refused.
const BAD_SCOPES: &str = "\"scopes\" must be a list of strings or a string";

/// Why `refused` is refused.
const BAD_REFUSED: &str =
    "\"refused\" must be the SHA-256 of the refused access token, as 64 hex digits";

/// `refused`: 64 hex digits or `null`; anything else is [`BAD_REFUSED`].
fn refused<'de, D: Deserializer<'de>>(d: D) -> Result<Option<RefusedToken>, D::Error> {
    let text: Option<String> =
        Option::deserialize(d).map_err(|_: D::Error| D::Error::custom(BAD_REFUSED))?;
    text.map(|t| RefusedToken::from_hex(&t).ok_or_else(|| D::Error::custom(BAD_REFUSED)))
        .transpose()
}

/// `credential`: a string or `null`; anything else is [`BAD_CREDENTIAL`].
fn credential<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::deserialize(d).map_err(|_: D::Error| D::Error::custom(BAD_CREDENTIAL))
}

/// `scopes`: a list of strings, a string or `null`; anything else is [`BAD_SCOPES`].
fn scopes<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Scopes>, D::Error> {
    Option::deserialize(d).map_err(|_: D::Error| D::Error::custom(BAD_SCOPES))
}

/// `scopes`: a list of names, or Adobe's comma string.
#[derive(Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Scopes {
    /// `["openid","AdobeID"]`.
    List(Vec<String>),
    /// `"openid,AdobeID"`.
    Comma(String),
}

impl Scopes {
    /// The canonical scope set, or why the names are not scopes.
    pub fn to_set(&self) -> Result<ScopeSet, ScopeError> {
        match self {
            Self::List(list) => ScopeSet::from_names(list),
            Self::Comma(text) => ScopeSet::from_comma(text),
        }
    }
}

/// Reads the body: whitespace only is the defaults; otherwise a JSON object (strict JSON, nesting
/// bounded by `serde_json`'s recursion limit) whose members are `credential` (a string),
/// `scopes` (a list of strings or a string) and `refused` (64 hex digits), each optional and `null` meaning absent; a member
/// given twice counts once (the last: the document is read as a `serde_json` map first); any
/// other member, or another kind of document, is refused.
pub fn parse_body(bytes: &[u8]) -> Result<TokenBody, BodyError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(TokenBody::default());
    }
    let bad = |why: &str| BodyError(why.to_owned());
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|_| bad("not valid JSON"))?;
    if !value.is_object() {
        return Err(bad("not an object"));
    }
    TokenBody::deserialize(value).map_err(|e| {
        let text = e.to_string();
        // serde: "unknown field `name`, expected `credential` or `scopes`".
        match text
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.rsplit_once("`, expected"))
        {
            Some((name, _)) => bad(&format!("unknown field {name:?}")),
            None => BodyError(text),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(body: &str) -> Option<(Option<String>, Option<Vec<String>>)> {
        let b = parse_body(body.as_bytes()).ok()?;
        let scopes = b.scopes.map(|s| match s {
            Scopes::List(list) => list,
            Scopes::Comma(text) => vec![format!("comma:{text}")],
        });
        Some((b.credential, scopes))
    }

    /// What is accepted and refused.
    #[test]
    fn bodies_are_strict_json_objects_of_two_optional_members() {
        let refused = [
            "{",
            r#"{"scopes":["openid"]"#,
            "not json",
            r#"{"scopes":["openid"]} trailing"#,
            "[]",
            r#"["default"]"#,
            r#""default""#,
            "42",
            "true",
            "null",
            r#"{"scope":["openid"]}"#,
            r#"{"credential":"default","extra":1}"#,
            r#"{"credential":"default","extra":null}"#,
            r#"{"Credential":"default"}"#,
            r#"{"credential":5}"#,
            r#"{"credential":["default"]}"#,
            r#"{"credential":{"name":"default"}}"#,
            r#"{"scopes":5}"#,
            r#"{"scopes":true}"#,
            r#"{"scopes":[1,2]}"#,
            r#"{"scopes":["openid",null]}"#,
            r#"{"scopes":{"openid":true}}"#,
            r#"{"scopes":[["openid"]]}"#,
            r#"{"credential":"\ud800"}"#,
            r#"{"credential":"a",}"#,
            "{\"credential\":\"a\tb\"}",
            "\u{b}",
        ];
        for body in refused {
            let e = parse_body(body.as_bytes()).err();
            assert!(e.is_some(), "{body:?} is refused");
        }
        let none = Some((None, None));
        assert_eq!(parsed(""), none);
        assert_eq!(parsed(" \t\r\n\u{c}"), none);
        assert_eq!(parsed("{}"), none);
        assert_eq!(parsed(r#" {"credential":null,"scopes":null} "#), none);
        assert_eq!(
            parsed(r#"{"credential":"a","scopes":["x","y"]}"#),
            Some((Some("a".into()), Some(vec!["x".into(), "y".into()])))
        );
        assert_eq!(
            parsed(r#"{"scopes":"x,y"}"#),
            Some((None, Some(vec!["comma:x,y".into()])))
        );
        assert_eq!(parsed(r#"{"scopes":[]}"#), Some((None, Some(vec![]))));
        // A member given twice counts once, the last (serde_json's map); the first is not checked.
        assert_eq!(
            parsed(r#"{"credential":5,"credential":"b"}"#),
            Some((Some("b".into()), None))
        );
        assert!(parsed(r#"{"credential":"b","credential":5}"#).is_none());
        assert_eq!(
            parsed(r#"{"credential":"\u00e9\n"}"#),
            Some((Some("é\n".into()), None))
        );
        let deep = format!("{{\"x\":{}{}}}", "[".repeat(200), "]".repeat(200));
        assert!(parse_body(deep.as_bytes()).is_err());
    }

    /// The descriptions of the 400 name what is wrong.
    #[test]
    fn refusals_say_why() {
        let why = |body: &str| {
            let text = parse_body(body.as_bytes()).unwrap_err().to_string();
            let prefix = "body must be a JSON object with optional \"credential\" (string), \"scopes\" (list of strings) and \"refused\" (SHA-256 of a refused token, hex): ";
            text.strip_prefix(prefix).map(str::to_owned).unwrap_or(text)
        };
        assert_eq!(why("{"), "not valid JSON");
        assert_eq!(why("{} x"), "not valid JSON");
        assert_eq!(why("[]"), "not an object");
        assert_eq!(why(r#"{"scope":["openid"]}"#), r#"unknown field "scope""#);
        assert_eq!(why(r#"{"a\"b":1}"#), r#"unknown field "a\"b""#);
        assert_eq!(
            why(r#"{"credential":5}"#),
            r#""credential" must be a string"#
        );
        assert_eq!(
            why(r#"{"scopes":[1]}"#),
            r#""scopes" must be a list of strings or a string"#
        );
        let bad_refused =
            r#""refused" must be the SHA-256 of the refused access token, as 64 hex digits"#;
        assert_eq!(why(r#"{"refused":"abc"}"#), bad_refused);
        assert_eq!(why(r#"{"refused":5}"#), bad_refused);
        let hex = "ab".repeat(32);
        let body = parse_body(format!(r#"{{"refused":"{hex}"}}"#).as_bytes()).unwrap();
        assert_eq!(body.refused, RefusedToken::from_hex(&hex));
        assert_eq!(parse_body(br#"{"refused":null}"#).unwrap().refused, None);
    }
}
