//! Command-line parsing: `fake-adobe [--port N] [--client ID:SECRET[:SCOPE1,SCOPE2,...]]...
//! [--credential ORG_ID:CREDENTIAL_ID:CLIENT_ID]...`.
//!
//! Error messages never repeat a `--client` value: it holds a secret.

/// Usage text.
pub const USAGE: &str = "Usage: fake-adobe [--port N] [--client ID:SECRET[:SCOPE1,SCOPE2,...]]...
                  [--credential ORG_ID:CREDENTIAL_ID:CLIENT_ID]...
  --port N          port on 127.0.0.1 to listen on (0, the default, picks a free one)
  --client ...      a known client whose first secret is SECRET; without scopes any scope
                    name is allowed (repeatable)
  --credential ...  a Developer Console credential of a --client, for the I/O Management API
                    (repeatable)";

/// A client given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSpec {
    /// Client id.
    pub client_id: String,
    /// Client secret (cannot contain `:`).
    pub client_secret: String,
    /// Allowed scopes; `None` allows any.
    pub scopes: Option<Vec<String>>,
}

/// A Developer Console credential given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialSpec {
    /// Numeric Developer Console org id.
    pub org_id: String,
    /// Credential id.
    pub credential_id: String,
    /// The client it belongs to (must also be given with `--client`).
    pub client_id: String,
}

/// Options for running the server.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Options {
    /// Port to bind on 127.0.0.1 (0 = any free port).
    pub port: u16,
    /// Initial clients.
    pub clients: Vec<ClientSpec>,
    /// Initial credentials.
    pub credentials: Vec<CredentialSpec>,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the server.
    Run(Options),
    /// Print usage and exit.
    Help,
}

/// Parses a `--client` value `ID:SECRET[:SCOPE1,SCOPE2,...]`.
pub fn parse_client(spec: &str) -> Result<ClientSpec, String> {
    let invalid = || "invalid --client value (expected ID:SECRET[:SCOPE1,SCOPE2,...])".to_owned();
    let mut parts = spec.splitn(3, ':');
    let client_id = parts.next().filter(|s| !s.is_empty()).ok_or_else(invalid)?;
    let client_secret = parts.next().filter(|s| !s.is_empty()).ok_or_else(invalid)?;
    let scopes = match parts.next() {
        None => None,
        Some(list) => {
            let items: Vec<String> = list.split(',').map(str::to_owned).collect();
            if items
                .iter()
                .any(|s| s.is_empty() || s.contains(char::is_whitespace) || s.contains(':'))
            {
                return Err(invalid());
            }
            Some(items)
        }
    };
    Ok(ClientSpec {
        client_id: client_id.to_owned(),
        client_secret: client_secret.to_owned(),
        scopes,
    })
}

/// Parses a `--credential` value `ORG_ID:CREDENTIAL_ID:CLIENT_ID` (the client id may contain
/// `:`).
pub fn parse_credential(spec: &str) -> Result<CredentialSpec, String> {
    let mut parts = spec.splitn(3, ':').filter(|s| !s.is_empty());
    match (parts.next(), parts.next(), parts.next()) {
        (Some(org), Some(cred), Some(client)) => Ok(CredentialSpec {
            org_id: org.to_owned(),
            credential_id: cred.to_owned(),
            client_id: client.to_owned(),
        }),
        _ => Err(format!(
            "invalid --credential value {spec:?} (expected ORG_ID:CREDENTIAL_ID:CLIENT_ID)"
        )),
    }
}

/// Parses the arguments after the program name.
pub fn parse_args<I, S>(args: I) -> Result<Command, String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut opts = Options::default();
    let mut args = args.into_iter().map(Into::into);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--port" | "--client" | "--credential" => {
                let value = match inline {
                    Some(v) => v,
                    None => args.next().ok_or_else(|| format!("{flag} needs a value"))?,
                };
                if flag == "--port" {
                    opts.port = value
                        .parse()
                        .map_err(|_| format!("invalid --port value: {value}"))?;
                } else if flag == "--client" {
                    opts.clients.push(parse_client(&value)?);
                } else {
                    opts.credentials.push(parse_credential(&value)?);
                }
            }
            _ => return Err(format!("unknown argument: {flag}")),
        }
    }
    Ok(Command::Run(opts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_options() {
        let cmd = parse_args([
            "--port",
            "8123",
            "--client",
            "id1:sec1",
            "--client=id2:sec2:openid,AdobeID",
            "--credential",
            "1234:5678:id1",
            "--credential=9:8:a:b",
        ]);
        assert_eq!(
            cmd,
            Ok(Command::Run(Options {
                port: 8123,
                clients: vec![
                    ClientSpec {
                        client_id: "id1".into(),
                        client_secret: "sec1".into(),
                        scopes: None
                    },
                    ClientSpec {
                        client_id: "id2".into(),
                        client_secret: "sec2".into(),
                        scopes: Some(vec!["openid".into(), "AdobeID".into()])
                    },
                ],
                credentials: vec![
                    CredentialSpec {
                        org_id: "1234".into(),
                        credential_id: "5678".into(),
                        client_id: "id1".into()
                    },
                    CredentialSpec {
                        org_id: "9".into(),
                        credential_id: "8".into(),
                        client_id: "a:b".into()
                    },
                ]
            }))
        );
        assert_eq!(
            parse_args(Vec::<String>::new()),
            Ok(Command::Run(Options::default()))
        );
        assert_eq!(parse_args(["--help"]), Ok(Command::Help));
    }

    #[test]
    fn rejects_bad_input_without_echoing_secrets() {
        for bad in ["id", ":sec", "id:", "id:sec:", "id:sec:a,,b", "id:sec:a b"] {
            let err = parse_args(["--client", bad]).expect_err(bad);
            assert!(!err.contains("sec"), "{err}");
        }
        assert!(parse_args(["--port", "x"]).is_err());
        assert!(parse_args(["--port", "70000"]).is_err());
        assert!(parse_args(["--port"]).is_err());
        assert!(parse_args(["--bogus"]).is_err());
        for bad in ["1", "1:2", "1:2:", ":2:c", "1::c"] {
            assert!(parse_args(["--credential", bad]).is_err(), "{bad}");
        }
    }
}
