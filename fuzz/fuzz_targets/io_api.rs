//! The I/O Management API answers (`io_api::parse_list/parse_add/parse_delete`), the request
//! builders with arbitrary ids, and the stored secrets record (`CredentialState::from_json`).
//!
//! Input: same shape as `token_response`: `<status>\n<headers>\n\n<body>`.
//!
//! Invariants: non-2xx is an error carrying that status (404 is success for delete); an error
//! does not depend on a `client_secret` in the body (so never carries it); a `NewSecret`'s `Debug` hides the
//! plaintext; a delete URL's last segment is only `[A-Za-z0-9-]`; the rotation helpers accept
//! any listed answer; a secrets record that parses re-serialises to itself.
#![no_main]

use ims_core::http::HttpResponse;
use ims_core::io_api::{self, CredentialRef, IoApiError};
use ims_core::rotation::{identify_by_usage, CredentialState};
use ims_core::AccessToken;
use libfuzzer_sys::fuzz_target;

fn split_input(data: &[u8]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let cut = data.windows(2).position(|w| w == b"\n\n");
    let (head, body) = match cut {
        Some(i) => (&data[..i], data[i + 2..].to_vec()),
        None => (data, Vec::new()),
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split('\n');
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_owned(), v.trim_start().to_owned()))
        .collect();
    (status, headers, body)
}

fn check_error(status: u16, e: &IoApiError) {
    match e {
        IoApiError::Status {
            status: s, message, ..
        } => {
            assert_eq!(*s, status);
            assert!(!(200..300).contains(s));
            assert!(message.as_ref().is_none_or(|m| m.chars().count() <= 200));
        }
        IoApiError::BadResponse(_) => assert!((200..300).contains(&status)),
        IoApiError::Transport(_) => panic!("a parser answered Transport"),
    }
}

fuzz_target!(|data: &[u8]| {
    let (status, headers, body) = split_input(data);
    let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    // The body re-serialised with and without its `client_secret`: an error must not depend
    // on it (so it cannot carry it).
    let with_and_without = json.as_ref().and_then(|j| {
        let with = j.as_object()?.clone();
        let mut without = with.clone();
        without.remove("client_secret")?;
        Some((
            serde_json::to_vec(&with).ok()?,
            serde_json::to_vec(&without).ok()?,
        ))
    });
    let response = HttpResponse {
        status,
        headers,
        body,
    };

    match io_api::parse_list(&response) {
        Ok(list) => {
            assert!((200..300).contains(&status));
            for probe in [0, 1, u64::MAX] {
                if let Some(uuid) = identify_by_usage(&list, probe) {
                    assert!(list.iter().any(|s| s.uuid == uuid));
                }
            }
            let mut state = CredentialState::default();
            for s in &list {
                let _ = (state.role(&s.uuid, &list), state.may_delete(&s.uuid, &list));
            }
            let _ = state.active_uuid(&list);
            if let Some(first) = list.first() {
                state.identified(&first.uuid, 0);
                assert!(
                    state.may_delete(&first.uuid, &list).is_err(),
                    "may delete the active"
                );
            }
        }
        Err(e) => check_error(status, &e),
    }
    match io_api::parse_add(&response) {
        Ok(new) => {
            assert!((200..300).contains(&status));
            assert!(!new.client_secret.secret().is_empty());
            let shown = format!("{new:?}");
            assert!(shown.contains("ClientSecret([redacted])"));
            let secret = new.client_secret.secret();
            if secret.len() >= 24 && !new.uuid.contains(secret) {
                assert!(
                    !shown.contains(secret),
                    "NewSecret's Debug shows the secret"
                );
            }
        }
        Err(e) => {
            check_error(status, &e);
            if let (Some((with, without)), false) =
                (&with_and_without, (200..300).contains(&status))
            {
                let answer = |body: &Vec<u8>| {
                    io_api::parse_add(&HttpResponse {
                        body: body.clone(),
                        ..response.clone()
                    })
                };
                assert_eq!(answer(with), answer(without), "error depends on the secret");
            }
        }
    }
    match io_api::parse_delete(&response) {
        Ok(()) => assert!(status == 404 || (200..300).contains(&status)),
        Err(e) => check_error(status, &e),
    }

    // Request builders with ids taken from the body text.
    let text = String::from_utf8_lossy(&response.body);
    let target = CredentialRef {
        base_url: "https://api.adobe.io/".into(),
        org_id: "123".into(),
        credential_id: "456".into(),
        client_id: "cid".into(),
    };
    let token = AccessToken::new("tok");
    let req = io_api::delete_request(&target, &token, &text);
    let tail = req
        .url
        .strip_prefix("https://api.adobe.io/console/organizations/123/credentials/456/secrets/")
        .expect("delete URL prefix");
    assert!(
        tail.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
        "{tail:?}"
    );
    assert_eq!(req.method, "DELETE");
    let _ = (
        io_api::list_request(&target, &token),
        io_api::add_request(&target, &token),
    );

    // The secrets record as stored in KV.
    if let Some(state) = CredentialState::from_json(&text) {
        let again = CredentialState::from_json(&state.to_json());
        assert_eq!(again.as_ref(), Some(&state), "record does not round-trip");
        let _ = (state.rotating(), state.active_uuid(&[]));
        let _ = state.plan(&[], 0);
    }
});
