//! `ims::parse_token_response` on an arbitrary IMS answer, and what the broker does next with
//! its result: the retry decision, `Retry-After`, and the cached-token policy.
//!
//! Input (hand-writable, see `fuzz/seeds/token_response/`):
//!
//! ```text
//! <status> <sent_at_ms>
//! Header-Name: value
//! …
//! <empty line>
//! <body bytes>
//! ```
//!
//! A first line that does not parse gives status 200 and `sent_at_ms` 1.7e12.
#![no_main]

use ims_core::http::HttpResponse;
use ims_core::ims::{parse_retry_after, parse_token_response};
use ims_core::policy::{CachedToken, Freshness};
use ims_core::retry::{RetryDecision, RetryPolicy};
use ims_core::ImsError;
use libfuzzer_sys::fuzz_target;

const DEFAULT_SENT_AT: u64 = 1_700_000_000_000;

fn split_input(data: &[u8]) -> (u16, u64, Vec<(String, String)>, Vec<u8>) {
    let cut = data.windows(2).position(|w| w == b"\n\n");
    let (head, body) = match cut {
        Some(i) => (&data[..i], data[i + 2..].to_vec()),
        None => (data, Vec::new()),
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split('\n');
    let mut first = lines.next().unwrap_or_default().split_whitespace();
    let status = first.next().and_then(|s| s.parse().ok()).unwrap_or(200);
    let sent_at = first
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SENT_AT);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_owned(), v.trim_start().to_owned()))
        .collect();
    (status, sent_at, headers, body)
}

fn rank(f: Freshness) -> u8 {
    match f {
        Freshness::Fresh => 0,
        Freshness::Stale => 1,
        Freshness::Unusable => 2,
    }
}

fn check_error(status: u16, err: &ImsError) {
    if status == 429 || status >= 500 {
        assert!(
            matches!(err, ImsError::Unavailable { status: s, .. } if *s == status),
            "{status} must be Unavailable, got {err:?}"
        );
    }
    assert!(matches!(err.http_status(), 400 | 502 | 503 | 504));
    assert!(!err.code().is_empty());
    match err {
        ImsError::InvalidClient { description, .. }
        | ImsError::InvalidScope { description, .. } => {
            assert!(description.chars().count() <= 200);
        }
        ImsError::Rejected { error, .. } => assert!(error.chars().count() <= 64),
        _ => {}
    }
    let _ = (err.to_string(), err.public_description(), err.debug_id());
    let policy = RetryPolicy::default();
    let ceiling = policy.max_delay_ms.max(policy.max_retry_wait_ms);
    for attempt in 1..=4 {
        for bad_bodies in 0..=2 {
            for random in [0.0, 0.5, 0.999_999, f64::NAN, -1.0, 2.0] {
                match policy.decide(attempt, err, bad_bodies, random) {
                    RetryDecision::RetryAfter(ms) => {
                        assert!(err.is_retryable());
                        assert!(attempt < policy.max_attempts);
                        assert!(ms <= ceiling, "wait {ms} ms > {ceiling}");
                    }
                    RetryDecision::GiveUp => {}
                }
            }
        }
    }
}

fn check_cached(token: &str, sent_at: u64, expires_at: u64) {
    let cached = CachedToken {
        access_token: ims_core::AccessToken::new(token),
        scope: "AdobeID,openid".into(),
        sent_at_ms: sent_at,
        expires_at_ms: expires_at,
    };
    let usable = cached.usable_until_ms();
    let refresh = cached.refresh_at_ms();
    assert!(sent_at < usable && usable <= expires_at);
    assert!(sent_at <= refresh && refresh <= usable);
    assert_ne!(cached.freshness(sent_at), Freshness::Unusable);
    assert_eq!(cached.freshness(usable), Freshness::Unusable);
    let mut last = 0;
    for now in [
        sent_at,
        refresh.saturating_sub(1),
        refresh,
        usable - 1,
        usable,
        u64::MAX,
    ] {
        let r = rank(cached.freshness(now));
        assert!(r >= last, "freshness went back in time at {now}");
        last = r;
        assert!(cached.kv_ttl_s(now) >= ims_core::policy::MIN_KV_TTL_S);
        assert!(cached.caller_expires_in_s(now).saturating_mul(1000) <= usable.saturating_sub(now));
    }
    let stored = cached.to_stored("default");
    assert_eq!(CachedToken::from_stored(&stored), Some(cached));
}

fuzz_target!(|data: &[u8]| {
    let (status, sent_at, headers, body) = split_input(data);
    for (_, v) in &headers {
        let _ = parse_retry_after(v, sent_at);
        let _ = parse_retry_after(v, 0);
        let _ = parse_retry_after(v, u64::MAX);
    }
    if let Ok(text) = std::str::from_utf8(&body) {
        if let Some(c) = CachedToken::from_stored(text) {
            assert!(c.expires_at_ms > c.sent_at_ms && !c.access_token.secret().is_empty());
            check_cached(c.access_token.secret(), c.sent_at_ms, c.expires_at_ms);
        }
    }
    let response = HttpResponse {
        status,
        headers,
        body,
    };
    match parse_token_response(&response, sent_at) {
        Ok(issued) => {
            assert!(
                (200..300).contains(&status),
                "token accepted with status {status}"
            );
            let token = issued.access_token.secret();
            assert!(!token.is_empty());
            assert!(issued.expires_at_ms > sent_at);
            assert_eq!(
                format!("{issued:?}"),
                format!(
                    "IssuedToken {{ access_token: AccessToken([redacted]), expires_at_ms: {} }}",
                    issued.expires_at_ms
                ),
                "the token's Debug is not redacted"
            );
            check_cached(token, sent_at, issued.expires_at_ms);
        }
        Err(err) => check_error(status, &err),
    }
});
