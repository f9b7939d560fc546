//! The bindings under Node (wasm-bindgen-test-runner): values cross the boundary in the shapes
//! `index.d.ts` promises, errors carry `code`/`debugId`, secrets stay redacted, and a token
//! client drives the core over a JS `fetch`.
//!
//!     CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
//!         cargo test -p ims-wasm --target wasm32-unknown-unknown
#![cfg(target_arch = "wasm32")]
#![allow(missing_docs, clippy::unwrap_used)]

use ims_wasm::client::TokenClient;
use ims_wasm::{helpers, rotation, RotationState, Secret};
use js_sys::{Array, Reflect, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

#[wasm_bindgen(inline_js = r#"
export function fakeFetch(lifetime) {
  const f = async (url, init) => {
    f.calls.push({ url, init: { method: init.method, headers: init.headers,
                                body: new TextDecoder().decode(init.body) } });
    const n = f.calls.length;
    if (f.answers.length) {
      const a = f.answers.shift();
      return new Response(a.body, { status: a.status, headers: a.headers || {} });
    }
    return new Response(JSON.stringify({ access_token: "tok-" + n, token_type: "bearer",
      expires_in: lifetime }), { status: 200, headers: { "x-debug-id": "dbg-" + n } });
  };
  f.calls = [];
  f.answers = [];
  return f;
}
export function calls(f) { return f.calls.length; }
export function lastCall(f) { return f.calls[f.calls.length - 1]; }
export function answer(f, status, body, headers) { f.answers.push({ status, body, headers }); }
export function mapStore() {
  const m = new Map();
  return { m, puts: [], async get(k) { return m.get(k); },
           async put(k, v, ttl) { this.puts.push([k, ttl]); m.set(k, v); } };
}
export function stringify(v) { return JSON.stringify(v); }
export function str(v) { return String(v); }
"#)]
extern "C" {
    fn fakeFetch(lifetime: f64) -> JsValue;
    fn calls(f: &JsValue) -> u32;
    #[wasm_bindgen(js_name = lastCall)]
    fn last_call(f: &JsValue) -> JsValue;
    fn answer(f: &JsValue, status: u16, body: &str, headers: &JsValue);
    #[wasm_bindgen(js_name = mapStore)]
    fn map_store() -> JsValue;
    fn stringify(v: &JsValue) -> String;
    fn str(v: &JsValue) -> String;
}

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &key.into()).unwrap()
}

fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &(*k).into(), v).unwrap();
    }
    o.into()
}

fn client(fetch: &JsValue, extra: &[(&str, JsValue)]) -> TokenClient {
    let mut pairs = vec![
        ("tokenUrl", "https://ims.test/ims/token/v3".into()),
        ("clientId", "cid".into()),
        ("clientSecret", "s3cr3t-value".into()),
        ("scopes", "openid,AdobeID".into()),
        ("fetch", fetch.clone()),
    ];
    pairs.extend(extra.iter().cloned());
    TokenClient::new(obj(&pairs)).unwrap()
}

async fn token(c: &TokenClient, scopes: JsValue) -> Result<JsValue, JsValue> {
    JsFuture::from(c.get_token(scopes, JsValue::UNDEFINED)).await
}

#[wasm_bindgen_test]
fn canonical_scopes_are_sorted_unique_and_both_spellings() {
    let a = helpers::canonical_scopes(" openid,AdobeID,openid".into(), None).unwrap();
    assert_eq!(get(&a, "comma").as_string().unwrap(), "AdobeID,openid");
    assert_eq!(get(&a, "space").as_string().unwrap(), "AdobeID openid");
    let list: Array = get(&a, "list").into();
    assert_eq!(list.length(), 2);
    let b = helpers::canonical_scopes("openid AdobeID".into(), Some(" ".into())).unwrap();
    assert_eq!(get(&b, "comma"), get(&a, "comma"));
    let e = helpers::canonical_scopes("open id".into(), None).unwrap_err();
    assert_eq!(get(&e, "code").as_string().unwrap(), "invalid_scope");
    assert_eq!(get(&e, "name").as_string().unwrap(), "ImsError");
}

#[wasm_bindgen_test]
fn cache_key_ignores_spelling() {
    let arr = Array::of2(&"openid".into(), &" AdobeID".into());
    assert_eq!(
        helpers::cache_key("default", "cid", "AdobeID,openid".into()).unwrap(),
        helpers::cache_key("default", "cid", arr.into()).unwrap()
    );
}

#[wasm_bindgen_test]
fn parse_token_response_errors_carry_code_status_and_debug_id() {
    let resp = obj(&[
        ("status", 400.into()),
        ("headers", obj(&[("X-Debug-Id", "dbg-9".into())])),
        (
            "body",
            r#"{"error":"invalid_client","error_description":"invalid client_secret parameter"}"#
                .into(),
        ),
    ]);
    let e = helpers::parse_token_response(resp, 0.0).unwrap_err();
    assert!(e.is_instance_of::<js_sys::Error>());
    assert_eq!(
        get(&e, "code").as_string().unwrap(),
        "upstream_invalid_client"
    );
    assert_eq!(get(&e, "debugId").as_string().unwrap(), "dbg-9");
    assert_eq!(get(&e, "status").as_f64(), Some(502.0));
    let ok = obj(&[
        ("status", 200.into()),
        (
            "body",
            r#"{"access_token":"abc","token_type":"bearer","expires_in":10}"#.into(),
        ),
    ]);
    let t = helpers::parse_token_response(ok, 1000.0).unwrap();
    assert_eq!(get(&t, "accessToken").as_string().unwrap(), "abc");
    assert_eq!(get(&t, "expiresAt").as_f64(), Some(11_000.0));
}

#[wasm_bindgen_test]
fn decode_claims_reads_string_millis() {
    // {"created_at":"1000","expires_in":"5000"}
    let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJjcmVhdGVkX2F0IjoiMTAwMCIsImV4cGlyZXNfaW4iOiI1MDAwIn0.c2ln";
    let c = helpers::decode_claims(jwt).unwrap();
    assert_eq!(get(&c, "expiresAt").as_f64(), Some(6000.0));
    let e = helpers::decode_claims("opaque").unwrap_err();
    assert_eq!(get(&e, "code").as_string().unwrap(), "invalid_token");
}

#[wasm_bindgen_test]
fn cache_decision_applies_skew_and_23_24() {
    let t = obj(&[("sentAt", 0.into()), ("expiresAt", 86_399_000.into())]);
    let d = helpers::cache_decision(t.clone(), 82_741_541.0).unwrap();
    assert_eq!(get(&d, "freshness").as_string().unwrap(), "stale");
    assert_eq!(get(&d, "skewMs").as_f64(), Some(60_000.0));
    assert_eq!(get(&d, "usableUntil").as_f64(), Some(86_339_000.0));
    let d = helpers::cache_decision(t, 86_339_000.0).unwrap();
    assert_eq!(get(&d, "freshness").as_string().unwrap(), "unusable");
    assert_eq!(get(&d, "storeTtl").as_f64(), Some(65.0));
}

#[wasm_bindgen_test]
fn secrets_never_print_themselves() {
    let s: JsValue = Secret::new("p8e-top".into()).into();
    assert_eq!(str(&s), "[redacted]");
    assert_eq!(stringify(&s), "\"[redacted]\"");
    let f = fakeFetch(86_399.0);
    let c: JsValue = client(&f, &[]).into();
    assert!(!stringify(&c).contains("s3cr3t"));
    assert!(!str(&c).contains("s3cr3t"));
    let bad = TokenClient::new(obj(&[("clientId", "x".into())]))
        .err()
        .unwrap();
    assert_eq!(get(&bad, "code").as_string().unwrap(), "invalid_options");
}

#[wasm_bindgen_test]
async fn token_client_caches_and_shares_one_call() {
    let f = fakeFetch(86_399.0);
    let c = client(&f, &[]);
    let promises: Array = (0..20)
        .map(|_| JsValue::from(c.get_token(JsValue::UNDEFINED, JsValue::UNDEFINED)))
        .collect();
    let all = JsFuture::from(js_sys::Promise::all(&promises))
        .await
        .unwrap();
    let all: Array = all.into();
    assert_eq!(calls(&f), 1);
    for t in all.iter() {
        assert_eq!(get(&t, "accessToken").as_string().unwrap(), "tok-1");
        assert_eq!(get(&t, "scope").as_string().unwrap(), "AdobeID,openid");
    }
    let again = token(&c, Array::of2(&"openid".into(), &"AdobeID".into()).into())
        .await
        .unwrap();
    assert_eq!(get(&again, "source").as_string().unwrap(), "memory");
    assert!(get(&again, "expiresIn").as_f64().unwrap() <= 86_339.0);
    assert_eq!(calls(&f), 1);
    let body = get(&get(&last_call(&f), "init"), "body")
        .as_string()
        .unwrap();
    assert!(body.contains("scope=AdobeID%2Copenid"));
}

#[wasm_bindgen_test]
async fn store_is_written_and_read_by_another_client() {
    let f = fakeFetch(86_399.0);
    let store = map_store();
    let a = client(&f, &[("store", store.clone())]);
    token(&a, JsValue::UNDEFINED).await.unwrap();
    let puts: Array = get(&store, "puts").into();
    let put: Array = puts.get(0).into();
    assert_eq!(
        put.get(0).as_string().unwrap(),
        a.cache_key(JsValue::UNDEFINED).unwrap()
    );
    assert_eq!(put.get(1).as_f64(), Some(86_339.0));
    let b = client(&f, &[("store", store)]);
    let t = token(&b, JsValue::UNDEFINED).await.unwrap();
    assert_eq!(get(&t, "source").as_string().unwrap(), "store");
    assert_eq!(calls(&f), 1);
}

#[wasm_bindgen_test]
async fn final_errors_reject_with_code_and_debug_id() {
    let f = fakeFetch(86_399.0);
    answer(
        &f,
        400,
        r#"{"error":"invalid_client","error_description":"invalid client_secret parameter"}"#,
        &obj(&[("x-debug-id", "dbg-x".into())]),
    );
    let c = client(&f, &[]);
    let e = token(&c, JsValue::UNDEFINED).await.unwrap_err();
    assert_eq!(
        get(&e, "code").as_string().unwrap(),
        "upstream_invalid_client"
    );
    assert_eq!(get(&e, "debugId").as_string().unwrap(), "dbg-x");
    assert!(!get(&e, "message").as_string().unwrap().contains("s3cr3t"));
    assert_eq!(calls(&f), 1);
}

#[wasm_bindgen_test]
async fn oauth2_mode_sends_basic_auth_and_space_scopes() {
    let f = fakeFetch(3600.0);
    let c = client(
        &f,
        &[
            ("protocol", "oauth2".into()),
            ("scopes", "read write".into()),
        ],
    );
    let t = token(&c, JsValue::UNDEFINED).await.unwrap();
    assert_eq!(get(&t, "scope").as_string().unwrap(), "read write");
    let init = get(&last_call(&f), "init");
    let auth = get(&get(&init, "headers"), "authorization")
        .as_string()
        .unwrap();
    assert!(auth.starts_with("Basic "));
    assert_eq!(
        get(&init, "body").as_string().unwrap(),
        "grant_type=client_credentials&scope=read+write"
    );
}

#[wasm_bindgen_test]
fn rotation_state_plans_and_round_trips() {
    let mut s = RotationState::new();
    assert!(s.start("r1".into(), 0.0));
    let adobe: JsValue =
        JSON::parse(r#"[{"uuid":"old","createdAt":1,"lastUsedAt":null}]"#).unwrap();
    let a = s.plan(adobe.clone(), 1.0).unwrap();
    assert_eq!(get(&a, "kind").as_string().unwrap(), "identify");
    s.identified("old".into(), 1.0);
    assert_eq!(
        get(&s.plan(adobe, 2.0).unwrap(), "kind")
            .as_string()
            .unwrap(),
        "add"
    );
    let again = RotationState::from_json(s.to_json()).unwrap();
    assert_eq!(again.active_uuid().as_deref(), Some("old"));
    assert_eq!(again.step().as_deref(), Some("create"));
    let none = RotationState::new()
        .plan(Array::new().into(), 0.0)
        .unwrap_err();
    assert_eq!(get(&none, "code").as_string().unwrap(), "no_rotation");
    let used: JsValue =
        JSON::parse(r#"[{"uuid":"a","lastUsedAt":100},{"uuid":"b","lastUsedAt":50}]"#).unwrap();
    assert_eq!(
        rotation::identify_by_usage(used, 90.0).unwrap().as_deref(),
        Some("a")
    );
}
