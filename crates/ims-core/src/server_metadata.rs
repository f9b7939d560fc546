//! The broker's own authorization server metadata,
//! [RFC 8414](https://www.rfc-editor.org/rfc/rfc8414), served at
//! `/.well-known/oauth-authorization-server` so that OAuth2 libraries that discover find the
//! token endpoint and how to authenticate to it.

use serde::Serialize;

/// The metadata document ([RFC 8414 §2](https://www.rfc-editor.org/rfc/rfc8414#section-2)).
#[derive(Debug, Serialize)]
pub struct ServerMetadata {
    /// The issuer identifier: the broker's origin.
    pub issuer: String,
    /// `<origin>/oauth/token`.
    pub token_endpoint: String,
    /// Only `client_credentials`.
    pub grant_types_supported: [&'static str; 1],
    /// No authorization endpoint, so no response type.
    pub response_types_supported: [&'static str; 0],
    /// A caller key by HTTP Basic or in the form, or a JWT client assertion
    /// ([RFC 7523 §2.2](https://www.rfc-editor.org/rfc/rfc7523#section-2.2)), whose keys are
    /// the trusted issuer's.
    pub token_endpoint_auth_methods_supported: [&'static str; 3],
    /// The signature algorithms accepted for client assertions.
    pub token_endpoint_auth_signing_alg_values_supported: [&'static str; 2],
}

/// The metadata of the broker served at `origin` (scheme, host and port, no trailing `/`).
pub fn server_metadata(origin: &str) -> ServerMetadata {
    ServerMetadata {
        issuer: origin.to_owned(),
        token_endpoint: format!("{origin}/oauth/token"),
        grant_types_supported: ["client_credentials"],
        response_types_supported: [],
        token_endpoint_auth_methods_supported: [
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
        ],
        token_endpoint_auth_signing_alg_values_supported: ["RS256", "ES256"],
    }
}

/// The origin of an absolute URL (`https://broker.example.com`), `None` when it has none.
pub fn origin_of(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    let origin = url.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_names_the_token_endpoint_and_how_to_authenticate() {
        let doc = serde_json::to_value(server_metadata("https://broker.example.com")).unwrap();
        assert_eq!(
            doc,
            serde_json::json!({
                "issuer": "https://broker.example.com",
                "token_endpoint": "https://broker.example.com/oauth/token",
                "grant_types_supported": ["client_credentials"],
                "response_types_supported": [],
                "token_endpoint_auth_methods_supported":
                    ["client_secret_basic", "client_secret_post", "private_key_jwt"],
                "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
            })
        );
    }

    #[test]
    fn the_origin_drops_path_query_and_default_port() {
        assert_eq!(
            origin_of("https://broker.example.com:443/.well-known/oauth-authorization-server?x=1")
                .as_deref(),
            Some("https://broker.example.com")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:8787/x").as_deref(),
            Some("http://127.0.0.1:8787")
        );
        assert_eq!(origin_of("not a url"), None);
    }
}
