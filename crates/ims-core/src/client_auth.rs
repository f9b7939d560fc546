//! Client authentication at the broker's own `/oauth/token`
//! ([RFC 6749 §2.3.1](https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1)): the client id and
//! secret arrive either by HTTP Basic, each form-urlencoded before base64, or as form
//! parameters; or a workload identity token arrives as a JWT client assertion
//! ([RFC 7523 §2.2](https://www.rfc-editor.org/rfc/rfc7523#section-2.2)). Exactly one method per
//! request. Form parameters may not repeat (§3.2).

use crate::secret::{CallerKey, IdentityToken};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::collections::HashMap;

/// Why the client's credentials could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientAuthError {
    /// No credentials, a scheme other than Basic, or undecodable Basic credentials
    /// (`invalid_client`).
    #[error("client authentication failed")]
    Invalid,
    /// Basic and form credentials at once (`invalid_request`).
    #[error("use exactly one client authentication method")]
    Both,
    /// A form parameter appears more than once (`invalid_request`).
    #[error("parameter {0:?} is repeated")]
    Repeated(String),
}

fn form_decode(text: &str) -> String {
    form_urlencoded::parse(format!("v={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Reads `Authorization: Basic …`; `Ok(None)` when there is no `Authorization` header.
pub fn basic(authorization: Option<&str>) -> Result<Option<(String, CallerKey)>, ClientAuthError> {
    let Some(value) = authorization else {
        return Ok(None);
    };
    let (scheme, encoded) = value
        .trim()
        .split_once(' ')
        .ok_or(ClientAuthError::Invalid)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(ClientAuthError::Invalid);
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or(ClientAuthError::Invalid)?;
    let (id, secret) = decoded.split_once(':').ok_or(ClientAuthError::Invalid)?;
    Ok(Some((form_decode(id), CallerKey::new(form_decode(secret)))))
}

/// Parses a form body; a repeated parameter is an error.
pub fn parse_form(body: &[u8]) -> Result<HashMap<String, String>, ClientAuthError> {
    let mut params = HashMap::new();
    for (k, v) in form_urlencoded::parse(body) {
        if params
            .insert(k.clone().into_owned(), v.into_owned())
            .is_some()
        {
            return Err(ClientAuthError::Repeated(k.chars().take(64).collect()));
        }
    }
    Ok(params)
}

/// The client's id and secret, from Basic or from the form (whose `client_id`/`client_secret`
/// are removed from `form`). Next to Basic, a form `client_id` without a secret is allowed when
/// it names the same client ([RFC 6749 §3.2.1](https://www.rfc-editor.org/rfc/rfc6749#section-3.2.1)
/// and [§4.4.2](https://www.rfc-editor.org/rfc/rfc6749#section-4.4.2) let a client send it;
/// several libraries do); another id is [`ClientAuthError::Invalid`].
pub fn client_credentials(
    authorization: Option<&str>,
    form: &mut HashMap<String, String>,
) -> Result<(String, CallerKey), ClientAuthError> {
    let basic = basic(authorization)?;
    match (
        basic,
        form.remove("client_id"),
        form.remove("client_secret"),
    ) {
        (Some(_), _, Some(_)) => Err(ClientAuthError::Both),
        (Some((id, key)), Some(named), None) if named == id => Ok((id, key)),
        (Some(_), Some(_), None) => Err(ClientAuthError::Invalid),
        (Some(c), None, None) => Ok(c),
        (None, Some(id), Some(secret)) => Ok((id, CallerKey::new(secret))),
        (None, _, _) => Err(ClientAuthError::Invalid),
    }
}

/// The `client_assertion_type` of a JWT client assertion
/// ([RFC 7523 §2.2](https://www.rfc-editor.org/rfc/rfc7523#section-2.2)).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How a client authenticated at `/oauth/token`.
#[derive(Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// A caller id and key (`client_secret_basic` or `client_secret_post`).
    Secret {
        /// `client_id`.
        id: String,
        /// `client_secret`: the caller key.
        key: CallerKey,
    },
    /// A JWT client assertion (`private_key_jwt`, or a platform's token as in Azure's federated
    /// credentials).
    Assertion {
        /// `client_assertion`.
        token: IdentityToken,
        /// `client_id`, when sent: it must then name the same client as the assertion
        /// ([RFC 7521 §4.2](https://www.rfc-editor.org/rfc/rfc7521#section-4.2)).
        client_id: Option<String>,
    },
}

/// The client's authentication, from Basic, the form's `client_id`/`client_secret`, or its
/// `client_assertion_type`/`client_assertion` (all of which are removed from `form`). An
/// assertion next to a secret is [`ClientAuthError::Both`]; an assertion of another type, or
/// half of one, is [`ClientAuthError::Invalid`].
pub fn client_auth(
    authorization: Option<&str>,
    form: &mut HashMap<String, String>,
) -> Result<ClientAuth, ClientAuthError> {
    match (
        form.remove("client_assertion_type"),
        form.remove("client_assertion"),
    ) {
        (None, None) => {
            client_credentials(authorization, form).map(|(id, key)| ClientAuth::Secret { id, key })
        }
        (Some(kind), Some(assertion)) if kind == JWT_BEARER => {
            if authorization.is_some() || form.contains_key("client_secret") {
                return Err(ClientAuthError::Both);
            }
            Ok(ClientAuth::Assertion {
                token: IdentityToken::new(assertion),
                client_id: form.remove("client_id"),
            })
        }
        _ => Err(ClientAuthError::Invalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        format!("Basic {}", STANDARD.encode(s))
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let (id, key) = basic(Some(&b64("svc%3Aa:k+y%2B"))).unwrap().unwrap();
        assert_eq!((id.as_str(), key.secret()), ("svc:a", "k y+"));
        assert_eq!(basic(None), Ok(None));
        assert_eq!(basic(Some("Bearer x")), Err(ClientAuthError::Invalid));
        assert_eq!(basic(Some("Basic !!!")), Err(ClientAuthError::Invalid));
        assert_eq!(basic(Some(&b64("no-colon"))), Err(ClientAuthError::Invalid));
    }

    #[test]
    fn exactly_one_method() {
        let mut form =
            parse_form(b"grant_type=client_credentials&client_id=a&client_secret=b").unwrap();
        let (id, _) = client_credentials(None, &mut form).unwrap();
        assert_eq!(id, "a");
        assert!(!form.contains_key("client_secret"));
        let mut form = parse_form(b"client_id=a&client_secret=b").unwrap();
        assert_eq!(
            client_credentials(Some(&b64("a:b")), &mut form),
            Err(ClientAuthError::Both)
        );
        let mut form = parse_form(b"client_id=a").unwrap();
        assert_eq!(
            client_credentials(None, &mut form),
            Err(ClientAuthError::Invalid)
        );
        // Basic with the same client_id in the form: one method, the id said twice.
        let mut form = parse_form(b"grant_type=client_credentials&client_id=a").unwrap();
        let (id, key) = client_credentials(Some(&b64("a:b")), &mut form).unwrap();
        assert_eq!((id.as_str(), key.secret()), ("a", "b"));
        let mut form = parse_form(b"client_id=other").unwrap();
        assert_eq!(
            client_credentials(Some(&b64("a:b")), &mut form),
            Err(ClientAuthError::Invalid)
        );
        let mut form = parse_form(b"client_secret=b").unwrap();
        assert_eq!(
            client_credentials(None, &mut form),
            Err(ClientAuthError::Invalid)
        );
        let mut empty = HashMap::new();
        assert_eq!(
            client_credentials(None, &mut empty),
            Err(ClientAuthError::Invalid)
        );
    }

    #[test]
    fn repeated_parameters_are_refused() {
        assert_eq!(
            parse_form(b"scope=a&scope=b"),
            Err(ClientAuthError::Repeated("scope".into()))
        );
    }

    #[test]
    fn a_jwt_client_assertion_is_one_method_of_its_own() {
        let mut form = parse_form(
            b"grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=eyJ.a.b&client_id=deploy",
        )
        .unwrap();
        let auth = client_auth(None, &mut form).unwrap();
        let ClientAuth::Assertion { token, client_id } = auth else {
            panic!("an assertion")
        };
        assert_eq!(
            (token.secret(), client_id.as_deref()),
            ("eyJ.a.b", Some("deploy"))
        );
        assert_eq!(
            form.get("grant_type").map(String::as_str),
            Some("client_credentials")
        );
        assert!(!form.contains_key("client_assertion"));

        let with = |body: &[u8], authorization: Option<&str>| {
            client_auth(authorization, &mut parse_form(body).unwrap())
        };
        let jwt_bearer = "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=eyJ.a.b";
        assert_eq!(
            with(jwt_bearer.as_bytes(), Some(&b64("a:b"))),
            Err(ClientAuthError::Both)
        );
        assert_eq!(
            with(format!("{jwt_bearer}&client_secret=x").as_bytes(), None),
            Err(ClientAuthError::Both)
        );
        assert_eq!(
            with(
                b"client_assertion_type=urn%3Aother&client_assertion=eyJ.a.b",
                None
            ),
            Err(ClientAuthError::Invalid)
        );
        assert_eq!(
            with(b"client_assertion=eyJ.a.b", None),
            Err(ClientAuthError::Invalid)
        );
        // Without an assertion, the secret methods as before.
        assert!(matches!(
            with(b"client_id=a&client_secret=b", None),
            Ok(ClientAuth::Secret { .. })
        ));
    }
}
