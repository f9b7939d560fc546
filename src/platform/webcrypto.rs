//! Signature verification with the runtime's WebCrypto (`crypto.subtle`): the broker never
//! verifies a signature with code of its own.
//!
//! The key is imported from its JWK as the issuer published it
//! ([`importKey("jwk", …)`](https://developer.mozilla.org/en-US/docs/Web/API/SubtleCrypto/importKey)),
//! for verifying only, with the parameters of the token's algorithm
//! ([RFC 7518 §3.3 and §3.4](https://www.rfc-editor.org/rfc/rfc7518#section-3.3)).

use ims_core::workload_identity::Algorithm;
use serde_json::{Map, Value};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CryptoKey, SubtleCrypto, WorkerGlobalScope};
use worker::js_sys::{Array, Object, JSON};
use worker::wasm_bindgen_futures::JsFuture;

/// Why a signature could not be checked (not: why it is wrong; that is `Ok(false)`).
#[derive(Debug, thiserror::Error)]
#[error("WebCrypto: {0}")]
pub struct CryptoError(String);

fn js_error(e: JsValue) -> CryptoError {
    CryptoError(
        e.dyn_ref::<worker::js_sys::Error>()
            .map(|e| String::from(e.message()))
            .unwrap_or_else(|| "failed".into()),
    )
}

fn subtle() -> Result<SubtleCrypto, CryptoError> {
    let scope: WorkerGlobalScope = worker::js_sys::global().unchecked_into();
    Ok(scope.crypto().map_err(js_error)?.subtle())
}

fn object(json: &str) -> Result<Object, CryptoError> {
    JSON::parse(json)
        .map_err(js_error)?
        .dyn_into()
        .map_err(|_| CryptoError("not an object".into()))
}

/// The `importKey` and `verify` parameters of `alg`.
fn parameters(alg: Algorithm) -> (&'static str, &'static str) {
    match alg {
        Algorithm::Rs256 => (
            r#"{"name":"RSASSA-PKCS1-v1_5","hash":"SHA-256"}"#,
            r#"{"name":"RSASSA-PKCS1-v1_5"}"#,
        ),
        Algorithm::Es256 => (
            r#"{"name":"ECDSA","namedCurve":"P-256"}"#,
            r#"{"name":"ECDSA","hash":"SHA-256"}"#,
        ),
    }
}

/// Imports the public key `jwk` to verify signatures of `alg`.
pub async fn import(alg: Algorithm, jwk: &Map<String, Value>) -> Result<CryptoKey, CryptoError> {
    let text = serde_json::to_string(jwk).map_err(|e| CryptoError(e.to_string()))?;
    let usages = Array::of1(&JsValue::from_str("verify"));
    let promise = subtle()?
        .import_key_with_object(
            "jwk",
            &object(&text)?,
            &object(parameters(alg).0)?,
            false,
            &usages,
        )
        .map_err(js_error)?;
    JsFuture::from(promise)
        .await
        .map_err(js_error)?
        .dyn_into()
        .map_err(|_| CryptoError("importKey gave no key".into()))
}

/// True when `signature` is `key`'s signature of `data` with `alg`.
pub async fn verify(
    alg: Algorithm,
    key: &CryptoKey,
    signature: &[u8],
    data: &[u8],
) -> Result<bool, CryptoError> {
    let promise = subtle()?
        .verify_with_object_and_u8_array_and_u8_array(
            &object(parameters(alg).1)?,
            key,
            signature,
            data,
        )
        .map_err(js_error)?;
    Ok(JsFuture::from(promise).await.map_err(js_error)?.is_truthy())
}
