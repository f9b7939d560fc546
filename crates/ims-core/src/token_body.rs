//! The body of the broker's `POST /v1/token`: optional JSON
//! `{"credential":"default","scopes":["openid","AdobeID"]}`, where `scopes` may also be Adobe's
//! comma string. Read without I/O; the Worker hands over the bytes and answers the error as
//! `400 invalid_request`.

use crate::json::Json;
use crate::scope::{ScopeError, ScopeSet};

/// Why a body was refused; the text is the `error_description` of the 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("body must be a JSON object with optional \"credential\" (string) and \"scopes\" (list of strings): {0}")]
pub struct BodyError(String);

/// The request body: everything is optional.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TokenBody {
    /// The credential's name; `None` is the default credential.
    pub credential: Option<String>,
    /// The scopes as spelt; `None` is the credential's default scopes.
    pub scopes: Option<Scopes>,
}

/// `scopes`: a list of names, or Adobe's comma string.
#[derive(Debug, PartialEq, Eq)]
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

/// Reads the body as the `serde` derive read it before (`deny_unknown_fields`, `scopes`
/// untagged): whitespace only is the defaults; otherwise a JSON object (strict JSON, as
/// `serde_json` reads a document) whose members are `credential` (a string) and `scopes` (a list
/// of strings or a string), each optional and `null` meaning absent; a member given twice counts
/// once (the last, as in `serde_json`'s map); any other member, or another kind of document, is
/// refused.
pub fn parse_body(bytes: &[u8]) -> Result<TokenBody, BodyError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(TokenBody::default());
    }
    let bad = |why: &str| BodyError(why.to_owned());
    let value = Json::parse(bytes).map_err(|_| bad("not valid JSON"))?;
    let Json::Obj(members) = &value else {
        return Err(bad("not an object"));
    };
    if let Some((key, _)) = members
        .iter()
        .find(|(k, _)| k != "credential" && k != "scopes")
    {
        return Err(bad(&format!("unknown field {key:?}")));
    }
    let credential = match value.get("credential") {
        None | Some(Json::Null) => None,
        Some(Json::Str(s)) => Some(s.clone()),
        Some(_) => return Err(bad("\"credential\" must be a string")),
    };
    let scopes = match value.get("scopes") {
        None | Some(Json::Null) => None,
        Some(Json::Str(s)) => Some(Scopes::Comma(s.clone())),
        Some(Json::Arr(items)) => Some(Scopes::List(
            items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<_>>()
                .ok_or_else(|| bad("\"scopes\" must be a list of strings or a string"))?,
        )),
        Some(_) => return Err(bad("\"scopes\" must be a list of strings or a string")),
    };
    Ok(TokenBody { credential, scopes })
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

    /// What the `serde` derive (through `serde_json::Value`) accepted and refused.
    #[test]
    fn bodies_are_read_as_before() {
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
    }
}
