//! `TokenClient`: the core's [`TokenCache`] driven from JavaScript, and `SecretsClient`, the
//! I/O Management API's secret operations with a token from the same cache.
//!
//! Everything about tokens (cache key, skew, refresh, single-flight, retries, cooldown) is the
//! core's. This module only converts values, runs the background refresh the core asks for,
//! and memoises JS conversions (the JS string of a token; `api.mjs` keeps the parsed entry of
//! each scope spelling).

use crate::error;
use crate::host::{make_token, report_error, warn_once, JsHost};
use crate::json::{num, to_js};
use crate::options::{self, Config};
use crate::secret::Secret;
use ims_core::cache::{CacheOutcome, Failure, Served, Settings, TokenSpec};
use ims_core::http::HttpClient;
use ims_core::ims::TokenEndpoint;
use ims_core::io_api::{self, CredentialRef, MANAGEMENT_SCOPES};
use ims_core::policy::CachedToken;
use ims_core::{AccessToken, ClientSecret, ScopeSet, TokenCache};
use js_sys::Promise;
use serde::Serialize;
use std::cell::RefCell;
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

/// One scope set of one client: its spec and the JS values of its last token.
struct Entry {
    spec: TokenSpec,
    /// The scope string handed out (comma list for Adobe, space list for RFC 6749).
    scope: JsValue,
    /// The last token converted to JS, so a cache hit does not re-encode the token string.
    last: RefCell<Option<(Rc<CachedToken>, JsValue)>>,
}

struct Client {
    cache: TokenCache,
    host: JsHost,
    settings: Settings,
    credential: String,
    client_id: String,
    secret: ClientSecret,
    token_url: String,
    endpoint: TokenEndpoint,
    default: Rc<Entry>,
    wait_until: Option<js_sys::Function>,
    sources: [JsValue; 4],
    /// The cache keys of this client's scope sets, for `invalidate()` with no scopes.
    keys: RefCell<HashSet<String>>,
    /// Keys dropped by `invalidate`: the next request of each mints, so that a shared store
    /// does not hand the dropped token back (the mint then overwrites it there).
    invalidated: RefCell<HashSet<String>>,
}

/// Past this many remembered keys, those without a token in memory are forgotten.
const MAX_KEYS: usize = 4096;

type JsResult = Result<JsValue, JsValue>;
type BoxFuture = Pin<Box<dyn Future<Output = JsResult>>>;

/// Polls a future once: a cache hit is answered without a trip through the microtask queue;
/// anything that has to wait continues as a promise.
fn run(mut future: BoxFuture) -> Promise {
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(Ok(value)) => Promise::resolve(&value),
        Poll::Ready(Err(error)) => Promise::reject(&error),
        Poll::Pending => future_to_promise(future),
    }
}

impl Client {
    fn entry_for(&self, scopes: ScopeSet) -> Entry {
        let scope = match self.endpoint {
            TokenEndpoint::Adobe => scopes.to_comma(),
            TokenEndpoint::Rfc6749 { .. } => scopes.to_space(),
        };
        let spec = TokenSpec::new(
            &self.credential,
            &self.client_id,
            vec![self.secret.clone()],
            scopes,
            &self.token_url,
        )
        .with_endpoint(self.endpoint);
        let mut keys = self.keys.borrow_mut();
        if keys.len() >= MAX_KEYS {
            keys.retain(|k| self.cache.peek(k).is_some());
        }
        keys.insert(spec.key.clone());
        Entry {
            spec,
            scope: scope.into(),
            last: RefCell::new(None),
        }
    }

    /// The entry of a `getToken(scopes)` argument (parsed each time: `api.mjs` remembers the
    /// entries of the spellings it has seen, see `_scopeEntry`).
    fn entry(&self, scopes: &JsValue) -> Result<Rc<Entry>, JsValue> {
        if scopes.is_undefined() || scopes.is_null() {
            return Ok(self.default.clone());
        }
        let set = options::scopes(scopes, self.endpoint)?;
        Ok(if set.is_empty() {
            self.default.clone()
        } else {
            Rc::new(self.entry_for(set))
        })
    }

    fn to_js(&self, entry: &Entry, served: &Served) -> JsValue {
        let token = &served.token;
        let mut last = entry.last.borrow_mut();
        let access = match last.as_ref() {
            Some((t, js)) if Rc::ptr_eq(t, token) => js.clone(),
            _ => {
                let js = JsValue::from_str(token.access_token.secret());
                *last = Some((token.clone(), js.clone()));
                js
            }
        };
        let now = crate::host::ms(js_sys::Date::now());
        let source = &self.sources[match served.outcome {
            CacheOutcome::Memory => 0,
            CacheOutcome::Kv => 1,
            CacheOutcome::Miss => 2,
            CacheOutcome::Stale => 3,
        }];
        make_token(
            &access,
            token.caller_expires_in_s(now) as f64,
            token.usable_until_ms() as f64,
            &entry.scope,
            source,
        )
    }

    /// The core's answer for `spec`: its cache, or, for a forced refresh or an invalidated
    /// key, a new token through the single flight (a cooldown still applies).
    async fn serve(&self, spec: &TokenSpec, force: bool) -> Result<Served, Failure> {
        let force = force || {
            let mut invalidated = self.invalidated.borrow_mut();
            !invalidated.is_empty() && invalidated.remove(&spec.key)
        };
        if force {
            self.cache.forget(&spec.key);
            self.cache.mint_for(&self.host, &self.settings, spec).await
        } else {
            self.cache.get(&self.host, &self.settings, spec).await
        }
    }

    /// Drops the token of each key from memory; the next request of each mints.
    fn invalidate(&self, keys: Vec<String>) {
        let mut invalidated = self.invalidated.borrow_mut();
        for key in keys {
            self.cache.forget(&key);
            invalidated.insert(key);
        }
    }

    async fn get(
        self: Rc<Self>,
        entry: Rc<Entry>,
        wait_until: Option<js_sys::Function>,
        force: bool,
    ) -> JsResult {
        match self.serve(&entry.spec, force).await {
            Ok(served) => {
                if served.refresh_due {
                    let wait_until = wait_until.or_else(|| self.wait_until.clone());
                    self.clone()
                        .refresh_in_background(entry.clone(), wait_until);
                }
                Ok(self.to_js(&entry, &served))
            }
            Err(failure) => Err(error::to_js(&failure.error)),
        }
    }

    /// Runs the one background refresh the core handed to this request, through `waitUntil`
    /// when the caller gave one (workerd), else on the runtime's task queue.
    fn refresh_in_background(
        self: Rc<Self>,
        entry: Rc<Entry>,
        wait_until: Option<js_sys::Function>,
    ) {
        let job = async move {
            if let Err(failure) = self
                .cache
                .refresh(&self.host, &self.settings, &entry.spec)
                .await
            {
                let e = error::to_js(&failure.error);
                report_error(&self.host.on_error, &e, "refresh");
            }
            Ok(JsValue::UNDEFINED)
        };
        let promise = future_to_promise(Box::pin(job) as BoxFuture);
        if let Some(f) = wait_until {
            let _ = f.call1(&JsValue::UNDEFINED, &promise);
        }
    }

    async fn management_token(&self, entry: &Entry) -> Result<AccessToken, JsValue> {
        let served = self
            .serve(&entry.spec, false)
            .await
            .map_err(|f| error::to_js(&f.error))?;
        Ok(served.token.access_token.clone())
    }
}

/// A client of one token endpoint: `getToken(scopes?)` with the broker's caching rules.
#[wasm_bindgen]
pub struct TokenClient {
    inner: Rc<Client>,
}

/// One scope set of one [`TokenClient`], parsed: what `_scopeEntry` hands to JS.
#[wasm_bindgen]
pub struct ScopeEntry {
    client: std::rc::Weak<Client>,
    entry: Rc<Entry>,
}

/// `getToken`'s options: `waitUntil` (workerd's `ctx.waitUntil`) when it is a function, and
/// whether `forceRefresh` is truthy.
fn call_options(options: &JsValue) -> (Option<js_sys::Function>, bool) {
    if !options.is_object() {
        return (None, false);
    }
    let get = |name: &str| js_sys::Reflect::get(options, &JsValue::from_str(name)).ok();
    let wait_until = get("waitUntil").and_then(|f| f.dyn_into::<js_sys::Function>().ok());
    let force = get("forceRefresh").is_some_and(|f| f.is_truthy());
    (wait_until, force)
}

#[wasm_bindgen]
impl TokenClient {
    /// `new TokenClient({ tokenUrl?, clientId, clientSecret, scopes?, fetch?, store?, protocol?,
    /// clientAuth?, credential?, timeoutMs?, waitUntil?, onError? })`.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<TokenClient, JsValue> {
        let c = Config::read(&options)?;
        let mut settings = Settings::default();
        if let Some(t) = c.timeout_ms {
            settings.timeout_ms = t;
        }
        let mut client = Client {
            cache: TokenCache::new(),
            host: JsHost {
                fetch: c.fetch,
                store: c.store,
                // Without an onError, such failures are logged (once per kind), never silent.
                on_error: if c.on_error.is_undefined() {
                    warn_once()
                } else {
                    c.on_error
                },
            },
            settings,
            credential: c.credential,
            client_id: c.client_id,
            secret: c.secret,
            token_url: c.token_url,
            endpoint: c.endpoint,
            default: Rc::new(Entry {
                spec: TokenSpec::new("", "", Vec::new(), ScopeSet::default(), ""),
                scope: JsValue::UNDEFINED,
                last: RefCell::new(None),
            }),
            wait_until: c.wait_until,
            sources: ["memory", "store", "miss", "stale"].map(JsValue::from_str),
            keys: RefCell::new(HashSet::new()),
            invalidated: RefCell::new(HashSet::new()),
        };
        client.default = Rc::new(client.entry_for(c.scopes));
        Ok(TokenClient {
            inner: Rc::new(client),
        })
    }

    /// A usable token for `scopes` (default: the client's scopes): from memory, the store, or
    /// the token endpoint. Resolves to `{ accessToken, tokenType, expiresIn, expiresAt, scope,
    /// source }`; rejects with an `ImsError`. `options.waitUntil` (workerd's `ctx.waitUntil`)
    /// receives the background refresh this call may start; `options.forceRefresh` skips the
    /// cached token (memory and store) and mints a new one.
    #[wasm_bindgen(js_name = getToken)]
    pub fn get_token(&self, scopes: JsValue, options: JsValue) -> Promise {
        let entry = match self.inner.entry(&scopes) {
            Ok(e) => e,
            Err(e) => return Promise::reject(&e),
        };
        let (wait_until, force) = call_options(&options);
        run(Box::pin(self.inner.clone().get(entry, wait_until, force)))
    }

    /// Drops the cached token of `scopes`, or of every scope set of this client when `scopes`
    /// is undefined or null: the next `getToken` of each calls the token endpoint, without
    /// reading the store (and overwrites the store's copy). For a token a resource server
    /// refused.
    pub fn invalidate(&self, scopes: JsValue) -> Result<(), JsValue> {
        let keys = if scopes.is_undefined() || scopes.is_null() {
            self.inner.keys.borrow().iter().cloned().collect()
        } else {
            vec![self.inner.entry(&scopes)?.spec.key.clone()]
        };
        self.inner.invalidate(keys);
        Ok(())
    }

    /// The parsed entry of a `getToken(scopes)` argument, for the package's JS layer to
    /// remember per spelling (`api.mjs`), so that a repeated spelling crosses into WebAssembly as
    /// a handle instead of a string or list. Not part of the typed API.
    #[wasm_bindgen(js_name = _scopeEntry)]
    pub fn scope_entry(&self, scopes: JsValue) -> Result<ScopeEntry, JsValue> {
        Ok(ScopeEntry {
            client: Rc::downgrade(&self.inner),
            entry: self.inner.entry(&scopes)?,
        })
    }

    /// `getToken` for an entry from `_scopeEntry` of this client. Not part of the typed API.
    #[wasm_bindgen(js_name = _getTokenFor)]
    pub fn get_token_for(&self, entry: &ScopeEntry, options: JsValue) -> Promise {
        if !std::ptr::eq(entry.client.as_ptr(), Rc::as_ptr(&self.inner)) {
            return Promise::reject(&error::invalid("a scope entry of another client"));
        }
        let (wait_until, force) = call_options(&options);
        run(Box::pin(self.inner.clone().get(
            entry.entry.clone(),
            wait_until,
            force,
        )))
    }

    /// The cache key (also the store key) of `scopes` (default: the client's scopes).
    #[wasm_bindgen(js_name = cacheKey)]
    pub fn cache_key(&self, scopes: JsValue) -> Result<String, JsValue> {
        Ok(self.inner.entry(&scopes)?.spec.key.clone())
    }

    /// The client's canonical default scopes, as handed out in `scope`.
    #[wasm_bindgen(getter)]
    pub fn scope(&self) -> JsValue {
        self.inner.default.scope.clone()
    }

    /// The I/O Management API's client-secret operations for one Developer Console credential
    /// of this client (`{ orgId, credentialId, baseUrl? }`), using a token of this client with
    /// the management scopes.
    pub fn secrets(&self, target: JsValue) -> Result<SecretsClient, JsValue> {
        if self.inner.endpoint != TokenEndpoint::Adobe {
            return Err(error::invalid(
                "secrets() needs an Adobe client (protocol \"adobe\")",
            ));
        }
        let read = |name: &str| -> Result<Option<String>, JsValue> {
            let v = js_sys::Reflect::get(&target, &JsValue::from_str(name))
                .map_err(|_| error::invalid("secrets() takes { orgId, credentialId, baseUrl? }"))?;
            if v.is_undefined() || v.is_null() {
                return Ok(None);
            }
            v.as_string()
                .filter(|s| !s.is_empty())
                .map(Some)
                .ok_or_else(|| error::invalid(format!("{name} must be a non-empty string")))
        };
        if !target.is_object() {
            return Err(error::invalid(
                "secrets() takes { orgId, credentialId, baseUrl? }",
            ));
        }
        let base_url =
            read("baseUrl")?.unwrap_or_else(|| io_api::DEFAULT_IO_API_BASE_URL.to_owned());
        // The management token goes to this URL: https, or plain http to a loopback host only.
        ims_core::upstream_url::check("baseUrl", &base_url)
            .map_err(|e| error::invalid(e.to_string()))?;
        let target = CredentialRef {
            base_url,
            org_id: read("orgId")?.ok_or_else(|| error::invalid("orgId is required"))?,
            credential_id: read("credentialId")?
                .ok_or_else(|| error::invalid("credentialId is required"))?,
            client_id: self.inner.client_id.clone(),
        };
        let scopes = ScopeSet::from_names(MANAGEMENT_SCOPES).map_err(|e| error::to_js(&e))?;
        Ok(SecretsClient {
            entry: Rc::new(self.inner.entry_for(scopes)),
            client: self.inner.clone(),
            target: Rc::new(target),
        })
    }

    /// What `JSON.stringify` shows: the client's public settings, never its secret.
    #[wasm_bindgen(js_name = toJSON)]
    pub fn to_json(&self) -> JsValue {
        describe(&self.inner)
    }

    /// `[TokenClient <clientId>]`.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_js_string(&self) -> String {
        format!("[TokenClient {}]", self.inner.client_id)
    }
}

fn describe(c: &Client) -> JsValue {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Described<'a> {
        client_id: &'a str,
        token_url: &'a str,
        protocol: &'a str,
        credential: &'a str,
        /// The default scope string, as handed out.
        #[serde(with = "serde_wasm_bindgen::preserve")]
        scope: JsValue,
        client_secret: &'a str,
    }
    to_js(&Described {
        client_id: &c.client_id,
        token_url: &c.token_url,
        protocol: match c.endpoint {
            TokenEndpoint::Adobe => "adobe",
            TokenEndpoint::Rfc6749 { .. } => "oauth2",
        },
        credential: &c.credential,
        scope: c.default.scope.clone(),
        client_secret: "[redacted]",
    })
}

/// A listed secret as `{ uuid, createdAt, lastUsedAt }` (`lastUsedAt` null when never used).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Listed {
    uuid: String,
    created_at: f64,
    last_used_at: Option<f64>,
}

impl From<io_api::SecretInfo> for Listed {
    fn from(s: io_api::SecretInfo) -> Self {
        Self {
            uuid: s.uuid,
            created_at: num(s.created_at_ms),
            last_used_at: s.last_used_at_ms.map(num),
        }
    }
}

/// A secret just added: `{ uuid, clientSecret: Secret, createdAt }`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Added {
    uuid: String,
    /// The `Secret` object itself, passed through as it is.
    #[serde(with = "serde_wasm_bindgen::preserve")]
    client_secret: JsValue,
    created_at: f64,
}

/// One credential's client secrets at Adobe (I/O Management API): list, add, delete.
#[wasm_bindgen]
pub struct SecretsClient {
    client: Rc<Client>,
    entry: Rc<Entry>,
    target: Rc<CredentialRef>,
}

/// Builds one management request.
type Build = fn(&CredentialRef, &AccessToken, &str) -> ims_core::http::HttpRequest;
/// Parses its answer into the JS result.
type Parse = fn(&ims_core::http::HttpResponse) -> Result<JsValue, io_api::IoApiError>;

impl SecretsClient {
    fn call(&self, build: Build, arg: String, parse: Parse) -> Promise {
        let (client, entry, target) =
            (self.client.clone(), self.entry.clone(), self.target.clone());
        future_to_promise(Box::pin(async move {
            let token = client.management_token(&entry).await?;
            let request = build(&target, &token, &arg);
            let response = client
                .host
                .send(&request, client.settings.timeout_ms)
                .await
                .map_err(|e| error::to_js(&io_api::IoApiError::Transport(e.to_string())))?;
            parse(&response).map_err(|e| error::to_js(&e))
        }) as BoxFuture)
    }
}

#[wasm_bindgen]
impl SecretsClient {
    /// The credential's secrets: `[{ uuid, createdAt, lastUsedAt }]` (never values).
    pub fn list(&self) -> Promise {
        self.call(
            |c, t, _| io_api::list_request(c, t),
            String::new(),
            |r| {
                let list = io_api::parse_list(r)?;
                Ok(to_js(
                    &list.into_iter().map(Listed::from).collect::<Vec<_>>(),
                ))
            },
        )
    }

    /// Adds a secret: `{ uuid, clientSecret: Secret, createdAt }`. The value is in this answer
    /// only; keep it (sealed) before anything else.
    pub fn add(&self) -> Promise {
        self.call(
            |c, t, _| io_api::add_request(c, t),
            String::new(),
            |r| {
                let n = io_api::parse_add(r)?;
                Ok(to_js(&Added {
                    uuid: n.uuid,
                    client_secret: Secret::from_core(n.client_secret).into(),
                    created_at: num(n.created_at_ms),
                }))
            },
        )
    }

    /// Deletes the secret `uuid` (one already gone counts as deleted).
    pub fn delete(&self, uuid: String) -> Promise {
        self.call(io_api::delete_request, uuid, |r| {
            io_api::parse_delete(r).map(|()| JsValue::UNDEFINED)
        })
    }
}
