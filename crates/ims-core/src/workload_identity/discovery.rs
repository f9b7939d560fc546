//! Where an issuer publishes its keys: the `jwks_uri` of its
//! [OpenID Provider configuration](https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig),
//! read from `<issuer>/.well-known/openid-configuration` when `TRUSTED_ISSUERS` gives no
//! `jwks_url`.

use super::*;

/// The OpenID Provider configuration URL of `issuer`
/// ([OIDC Discovery §4](https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfigurationRequest)):
/// the issuer with any trailing `/` removed, then `/.well-known/openid-configuration`.
pub fn configuration_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// The members of a provider configuration the broker reads; the others are ignored (the
/// document is the issuer's, and lists many).
#[derive(Deserialize)]
struct Configuration {
    issuer: String,
    jwks_uri: String,
}

/// The `jwks_uri` of a provider configuration document fetched for `issuer`. Refused
/// ([`JwtError::BadConfiguration`]) unless its `issuer` is exactly the configured one
/// ([OIDC Discovery §4.3](https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfigurationValidation))
/// and `jwks_uri` is a URL the broker may call (`https://`, or `http://` to a loopback host).
pub fn jwks_uri(document: &str, issuer: &TrustedIssuer) -> Result<String, JwtError> {
    let config: Configuration =
        serde_json::from_str(document).map_err(|_| JwtError::BadConfiguration)?;
    if config.issuer != issuer.issuer {
        return Err(JwtError::BadConfiguration);
    }
    upstream_url::check("jwks_uri", &config.jwks_uri).map_err(|_| JwtError::BadConfiguration)?;
    Ok(config.jwks_uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn github() -> TrustedIssuer {
        parse_trusted_issuers(
            r#"{"github":{"issuer":"https://token.actions.githubusercontent.com","audience":"x"}}"#,
        )
        .unwrap()
        .get("github")
        .unwrap()
        .clone()
    }

    #[test]
    fn the_configuration_is_read_at_the_well_known_url() {
        assert_eq!(
            configuration_url("https://token.actions.githubusercontent.com/"),
            "https://token.actions.githubusercontent.com/.well-known/openid-configuration"
        );
        assert_eq!(
            configuration_url("https://example.com/tenant"),
            "https://example.com/tenant/.well-known/openid-configuration"
        );
    }

    #[test]
    fn jwks_uri_is_taken_only_from_the_issuer_s_own_document() {
        let issuer = github();
        let doc = r#"{"issuer":"https://token.actions.githubusercontent.com",
                      "jwks_uri":"https://token.actions.githubusercontent.com/.well-known/jwks",
                      "subject_types_supported":["public","pairwise"]}"#;
        assert_eq!(
            jwks_uri(doc, &issuer).unwrap(),
            "https://token.actions.githubusercontent.com/.well-known/jwks"
        );
        for bad in [
            r#"{"issuer":"https://evil.example","jwks_uri":"https://evil.example/jwks"}"#,
            r#"{"issuer":"https://token.actions.githubusercontent.com","jwks_uri":"http://evil.example/jwks"}"#,
            r#"{"issuer":"https://token.actions.githubusercontent.com"}"#,
            "<html>",
        ] {
            assert_eq!(
                jwks_uri(bad, &issuer),
                Err(JwtError::BadConfiguration),
                "{bad}"
            );
        }
    }
}
