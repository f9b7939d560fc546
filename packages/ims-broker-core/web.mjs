// Deno, browsers and bundlers: the .wasm is fetched next to this file (file: URL in Deno,
// an asset URL under a bundler) and compiled before the module finishes loading.
import init, { defaults, _useErrorClass } from "./wasm/ims_broker_core.js";
import { ImsError } from "./api.mjs";

const url = new URL("./wasm/ims_broker_core_bg.wasm", import.meta.url);
const bytes = await (await fetch(url)).arrayBuffer();
await init({ module_or_path: await WebAssembly.compile(bytes) });
_useErrorClass(ImsError);

export * from "./api.mjs";
export const { tokenUrl: DEFAULT_TOKEN_URL, ioApiBaseUrl: DEFAULT_IO_API_BASE_URL } = defaults();
export const MANAGEMENT_SCOPES = Object.freeze(defaults().managementScopes);
