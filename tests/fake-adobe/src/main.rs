//! The `fake-adobe` binary: parses the command line, binds 127.0.0.1, prints
//! `fake-adobe listening on http://127.0.0.1:PORT` on stdout, then serves until killed.

use std::io::{self, Write};
use std::net::TcpListener;
use std::process::ExitCode;

use fake_adobe::cli::{self, Command};
use fake_adobe::server;
use fake_adobe::state::{self, State};

fn main() -> ExitCode {
    let opts = match cli::parse_args(std::env::args().skip(1)) {
        Ok(Command::Run(opts)) => opts,
        Ok(Command::Help) => {
            let _ = writeln!(io::stdout().lock(), "{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            server::log(&format!("{msg}\n{}", cli::USAGE));
            return ExitCode::from(2);
        }
    };
    let mut st = State::new();
    for c in &opts.clients {
        st.upsert_client(&c.client_id, &c.client_secret, c.scopes.clone());
    }
    for c in &opts.credentials {
        if st
            .upsert_credential(&c.org_id, &c.credential_id, &c.client_id)
            .is_err()
        {
            server::log(&format!(
                "--credential {}:{} names a client not given with --client: {}",
                c.org_id, c.credential_id, c.client_id
            ));
            return ExitCode::from(2);
        }
    }
    let shared = state::shared(st);
    let listener = match TcpListener::bind(("127.0.0.1", opts.port)) {
        Ok(l) => l,
        Err(e) => {
            server::log(&format!("cannot bind 127.0.0.1:{}: {e}", opts.port));
            return ExitCode::FAILURE;
        }
    };
    let port = match listener.local_addr() {
        Ok(addr) => addr.port(),
        Err(e) => {
            server::log(&format!("cannot read the bound address: {e}"));
            return ExitCode::FAILURE;
        }
    };
    {
        let mut out = io::stdout().lock();
        if writeln!(out, "fake-adobe listening on http://127.0.0.1:{port}")
            .and_then(|()| out.flush())
            .is_err()
        {
            server::log("cannot write the listening line to stdout");
        }
    }
    if let Err(e) = server::serve(listener, shared) {
        server::log(&format!("cannot serve: {e}"));
    }
    ExitCode::FAILURE
}
