//! `POST /v1/token`: the broker's own token API.
//!
//! `Authorization: Bearer <caller key>`, optional JSON body
//! `{"credential":"default","scopes":["openid","AdobeID"]}` (`scopes` may also be Adobe's comma
//! string). Answers `{"access_token","token_type":"bearer","expires_in","expires_at","scope",
//! "credential"}`, where `expires_in`/`expires_at` count down to the last instant the caller may
//! use the token (its expiry less the safety margin).

use super::body;
use crate::api_error::ApiError;
use crate::auth;
use crate::incoming::Incoming;
use crate::reply::Reply;
use crate::routes::Ctx;
use crate::tokens;
use ims_core::json::Obj;
use ims_core::memo::Bounded;
use ims_core::policy::CachedToken;
use ims_core::token_body::parse_body;
use ims_core::{ScopeError, ScopeSet};
use std::cell::RefCell;
use std::rc::Rc;

/// What a body asks for: a credential, scopes (parsed, not yet checked against the caller).
struct Asked {
    credential: Option<String>,
    scopes: Option<Result<ScopeSet, ScopeError>>,
}

/// Most bodies kept by [`asked`]; past it the memo starts again.
const MAX_BODIES: usize = 256;
/// Longest body kept by [`asked`].
const MAX_KEPT_BODY: usize = 1024;

/// The body's request, from the bodies parsed lately when it is one of them: callers send the
/// same few bodies again and again. A body that does not parse is not kept.
fn asked(bytes: Vec<u8>) -> Result<Rc<Asked>, ApiError> {
    if let Some(kept) = BODIES.with_borrow(|m| m.get(&bytes).cloned()) {
        return Ok(kept);
    }
    let parsed = parse_body(&bytes).map_err(|e| ApiError::InvalidRequest(e.to_string()))?;
    let asked = Rc::new(Asked {
        scopes: parsed.scopes.as_ref().map(|s| s.to_set()),
        credential: parsed.credential,
    });
    if bytes.len() <= MAX_KEPT_BODY {
        BODIES.with_borrow_mut(|m| {
            m.insert(bytes, Rc::clone(&asked));
        });
    }
    Ok(asked)
}

/// Most tokens whose [`Fixed`] parts are kept; past it the memo starts again.
const MAX_FIXED: usize = 256;

thread_local! {
    /// Bodies parsed lately (see [`asked`]).
    static BODIES: RefCell<Bounded<Vec<u8>, Rc<Asked>>> = RefCell::new(Bounded::new(MAX_BODIES));
    /// The fixed parts of the answer of each token served lately, by the token's address (the
    /// entry holds the token, so the address is not reused while it is there).
    static FIXED: RefCell<Bounded<usize, Fixed>> = RefCell::new(Bounded::new(MAX_FIXED));
}

/// What a token's answer has before and after `expires_in`: the same for the token's whole life
/// (its quoted value, its `expires_at`, its scope), so quoted and formatted once, not per hit.
struct Fixed {
    token: Rc<CachedToken>,
    credential: String,
    head: String,
    tail: String,
}

impl std::fmt::Debug for Fixed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fixed([redacted])")
    }
}

impl Fixed {
    fn of(grant: &tokens::Grant) -> Self {
        // Keys in serde_json's (sorted) order, as this body was written before.
        let token = grant.token.access_token.secret();
        let room = token.len() + grant.token.scope.len() + grant.credential.len() + 128;
        let whole = Obj::with_capacity(room)
            .str("access_token", token)
            .str("credential", &grant.credential)
            .str(
                "expires_at",
                &ims_core::time::rfc3339(grant.token.usable_until_ms()),
            )
            .u64("expires_in", 0)
            .str("scope", &grant.token.scope)
            .str("token_type", "bearer")
            .end();
        // Every quote inside a value is escaped, so this is the member itself.
        const MARK: &str = "\"expires_in\":";
        let at = whole.find(MARK).map_or(whole.len(), |i| i + MARK.len());
        let tail = whole.get(at + 1..).unwrap_or_default().to_owned();
        let mut head = whole;
        head.truncate(at);
        Self {
            token: Rc::clone(&grant.token),
            credential: grant.credential.clone(),
            head,
            tail,
        }
    }
}

/// The JSON answer for `grant`.
fn answer(grant: &tokens::Grant) -> String {
    FIXED.with_borrow_mut(|memo| {
        let id = Rc::as_ptr(&grant.token) as usize;
        let kept = memo.get(&id).is_some_and(|f| {
            Rc::ptr_eq(&f.token, &grant.token) && f.credential == grant.credential
        });
        if !kept {
            memo.insert(id, Fixed::of(grant));
        }
        let fixed = memo.get(&id).expect("kept just now");
        let seconds = grant.expires_in_s.to_string();
        let mut body = String::with_capacity(fixed.head.len() + seconds.len() + fixed.tail.len());
        body.push_str(&fixed.head);
        body.push_str(&seconds);
        body.push_str(&fixed.tail);
        body
    })
}

/// Handles `POST /v1/token`.
pub async fn issue(req: Incoming, c: &mut Ctx) -> Result<Reply, ApiError> {
    // A body over the limit is refused first, whoever sent it: it was read no further.
    let bytes = body::take(&mut c.body)?;
    let caller = auth::authenticate(&c.env, auth::bearer_key(&req))?;
    c.log.caller = Some(caller.id.clone());
    c.caller = Some(caller.clone());
    let media_type = body::media_type(&req);
    if !bytes.is_empty() && media_type.as_deref() != Some("application/json") {
        return Err(ApiError::UnsupportedMediaType("application/json"));
    }
    let asked = asked(bytes)?;
    let scopes = asked.scopes.clone();
    let grant = tokens::grant(c, &caller, asked.credential.as_deref(), scopes).await?;
    let body = answer(&grant);
    Ok(Reply::json(200, body).no_store())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ims_core::AccessToken;

    fn grant(token: &str, credential: &str, expires_in_s: u64) -> tokens::Grant {
        tokens::Grant {
            token: Rc::new(CachedToken {
                access_token: AccessToken::new(token),
                scope: "AdobeID,openid".into(),
                sent_at_ms: 1_700_000_000_000,
                expires_at_ms: 1_700_086_400_000,
            }),
            credential: credential.into(),
            expires_in_s,
        }
    }

    fn written_whole(g: &tokens::Grant) -> String {
        Obj::new()
            .str("access_token", g.token.access_token.secret())
            .str("credential", &g.credential)
            .str(
                "expires_at",
                &ims_core::time::rfc3339(g.token.usable_until_ms()),
            )
            .u64("expires_in", g.expires_in_s)
            .str("scope", &g.token.scope)
            .str("token_type", "bearer")
            .end()
    }

    #[test]
    fn a_body_sent_again_is_answered_from_the_memo_and_a_bad_one_is_never_kept() {
        let body = br#"{"credential":"default","scopes":["openid","AdobeID"]}"#.to_vec();
        let first = asked(body.clone()).expect("parses");
        assert_eq!(first.credential.as_deref(), Some("default"));
        assert_eq!(first.scopes, Some(ScopeSet::from_comma("AdobeID,openid")));
        let again = asked(body).expect("parses");
        assert!(Rc::ptr_eq(&first, &again), "parsed once");
        let bad = br#"{"scopes":7}"#.to_vec();
        assert!(asked(bad.clone()).is_err());
        assert!(BODIES.with_borrow(|m| m.get(&bad).is_none()));
        assert!(asked(bad).is_err(), "still refused");
    }

    #[test]
    fn the_answer_is_the_whole_body_with_the_current_expires_in() {
        // A token whose text looks like the member the fixed parts are cut at.
        let mut g = grant(r#"a"expires_in":0,"b\c"#, "default", 86_000);
        assert_eq!(answer(&g), written_whole(&g));
        // Served again later: the kept parts, the new count.
        g.expires_in_s = 7;
        assert_eq!(answer(&g), written_whole(&g));
        // The same token for another credential name is not answered with the first one's parts.
        let mut other = grant("t", "default", 5);
        other.token = Rc::clone(&g.token);
        other.credential = "analytics".into();
        assert_eq!(answer(&other), written_whole(&other));
        assert_eq!(format!("{:?}", Fixed::of(&g)), "Fixed([redacted])");
    }
}
