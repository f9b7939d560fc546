// Cloudflare Workers / workerd (wrangler, Miniflare): the .wasm is imported as a compiled
// WebAssembly.Module, the way wrangler bundles `.wasm` imports (workerd forbids compiling
// code at run time).
import wasmModule from "./wasm/ims_broker_core_bg.wasm";
import { initSync, defaults, _useErrorClass } from "./wasm/ims_broker_core.js";
import { ImsError } from "./api.mjs";

initSync({ module: wasmModule });
_useErrorClass(ImsError);

export * from "./api.mjs";
export const { tokenUrl: DEFAULT_TOKEN_URL, ioApiBaseUrl: DEFAULT_IO_API_BASE_URL } = defaults();
export const MANAGEMENT_SCOPES = Object.freeze(defaults().managementScopes);
