//! Strings the cache-hit path sends to JS on every request, made JS strings once per isolate
//! with wasm-bindgen's `intern`. Without it each send decodes the UTF-8 bytes into a new JS
//! string (and a view of the Wasm memory), garbage for the collector, which is the largest single
//! cost of a hit (see BENCHMARKS.md). Needs wasm-bindgen's `enable-interning` feature, with which
//! every string sent to JS is first looked up among the interned ones.

/// Header names the hit path reads, and the names and values of the headers it sets.
const HOT: &[&str] = &[
    "authorization",
    "content-type",
    "content-length",
    "cf-ray",
    "origin",
    "application/json",
    "cache-control",
    "no-store",
];

/// Interns [`HOT`]. Called once, when the module starts.
pub fn hot_strings() {
    for s in HOT {
        wasm_bindgen::intern(s);
    }
}
