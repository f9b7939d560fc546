//! The rule for the URLs the broker sends secrets to (`IMS_TOKEN_URL`, `IO_API_BASE_URL`, the npm
//! package's `tokenUrl`): `https://`, or plain `http://` to a loopback host only (`127.0.0.0/8`,
//! `localhost`, `[::1]`), which is what local development and the tests use. A client secret or a
//! management token must never cross a network in clear text.

use crate::config::ConfigError;
use url::{Host, Url};

/// `Ok` when `value`, the setting `setting`, is a URL the broker may send secrets to; else a
/// [`ConfigError`] naming the setting (never quoting the value).
pub fn check(setting: &str, value: &str) -> Result<(), ConfigError> {
    let url = Url::parse(value.trim())
        .map_err(|_| ConfigError::invalid(setting, "not an absolute URL"))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        "http" => Err(ConfigError::invalid(
            setting,
            "must use https:// (plain http:// only to a loopback host: 127.0.0.0/8, localhost, [::1])",
        )),
        _ => Err(ConfigError::invalid(setting, "must be an https:// URL")),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_and_http_only_to_loopback() {
        for ok in [
            "https://ims-na1.adobelogin.com/ims/token/v3",
            "https://127.0.0.1:8443/x",
            "http://127.0.0.1:41234/ims/token/v3",
            "http://127.5.6.7/",
            "http://localhost:9/",
            "http://LOCALHOST/",
            "http://[::1]:8080/",
        ] {
            assert_eq!(check("IMS_TOKEN_URL", ok), Ok(()), "{ok}");
        }
        for bad in [
            "http://ims-na1.adobelogin.com/ims/token/v3",
            "http://10.0.0.1/",
            "http://128.0.0.1/",
            "http://localhost.evil.example/",
            "http://[::2]/",
            "http://127.0.0.1.nip.io/",
            "ftp://127.0.0.1/",
            "ims-na1.adobelogin.com/ims/token/v3",
            "",
        ] {
            let e = check("IO_API_BASE_URL", bad).unwrap_err();
            assert!(
                e.to_string().starts_with("IO_API_BASE_URL is invalid"),
                "{bad}: {e}"
            );
            if !bad.is_empty() {
                assert!(!e.to_string().contains(bad), "the value is not quoted");
            }
        }
    }
}
