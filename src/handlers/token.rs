//! `POST /v1/token`: the broker's own token API.
//!
//! `Authorization: Bearer <caller key>`, optional JSON body
//! `{"credential":"default","scopes":["openid","AdobeID"]}` (`scopes` may also be Adobe's comma
//! string). Answers `{"access_token","token_type":"bearer","expires_in","expires_at","scope",
//! "credential"}`, where `expires_in`/`expires_at` count down to the last instant the caller may
//! use the token (its expiry less the safety margin).

use super::body;
use crate::api_error::{json_response, ApiError, NO_STORE};
use crate::auth;
use crate::routes::Ctx;
use crate::tokens;
use ims_core::json::{Json, Obj};
use ims_core::ScopeSet;
use worker::{Request, Response};

/// The request body: everything is optional.
#[derive(Default)]
struct TokenBody {
    credential: Option<String>,
    scopes: Option<Scopes>,
}

/// `scopes`: a list of names, or Adobe's comma string.
enum Scopes {
    List(Vec<String>),
    Comma(String),
}

/// Reads the body as the `serde` derive read it before (`deny_unknown_fields`, `scopes`
/// untagged): whitespace only is the defaults; otherwise a JSON object (strict JSON, as
/// `serde_json` reads a document) whose members are `credential` (a string) and `scopes` (a list
/// of strings or a string), each optional and `null` meaning absent; a member given twice counts
/// once (the last, as in `serde_json`'s map); any other member, or another kind of document, is
/// refused.
fn parse_body(bytes: &[u8]) -> Result<TokenBody, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(TokenBody::default());
    }
    let bad = |why: &str| {
        ApiError::InvalidRequest(format!(
            "body must be a JSON object with optional \"credential\" (string) and \"scopes\" (list of strings): {why}"
        ))
    };
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

/// Handles `POST /v1/token`.
pub async fn issue(mut req: Request, c: &mut Ctx) -> Result<Response, ApiError> {
    let caller = auth::authenticate(&c.env, auth::bearer_key(&req))?;
    c.log.caller = Some(caller.id.clone());
    let media_type = body::media_type(&req);
    let bytes = body::read(&mut req).await?;
    if !bytes.is_empty() && media_type.as_deref() != Some("application/json") {
        return Err(ApiError::UnsupportedMediaType("application/json"));
    }
    let parsed = parse_body(&bytes)?;
    let scopes = match parsed.scopes {
        None => None,
        Some(Scopes::List(list)) => Some(ScopeSet::from_names(&list)),
        Some(Scopes::Comma(text)) => Some(ScopeSet::from_comma(&text)),
    };
    let grant = tokens::grant(c, &caller, parsed.credential.as_deref(), scopes).await?;
    // Keys in serde_json's (sorted) order, as this body was written before; one allocation.
    let token = grant.token.access_token.secret();
    let room = token.len() + grant.token.scope.len() + grant.credential.len() + 128;
    let body = Obj::with_capacity(room)
        .str("access_token", token)
        .str("credential", &grant.credential)
        .str(
            "expires_at",
            &ims_core::time::rfc3339(grant.token.usable_until_ms()),
        )
        .u64("expires_in", grant.expires_in_s)
        .str("scope", &grant.token.scope)
        .str("token_type", "bearer")
        .end();
    Ok(json_response(200, body, NO_STORE))
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
            assert!(
                matches!(e, Some(ApiError::InvalidRequest(_))),
                "{body:?} is refused"
            );
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
