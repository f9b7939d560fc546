// Node.js and Bun entry: the .wasm is read from this package's folder and compiled
// synchronously, so the import is ready to use with no await.
import { readFileSync } from "node:fs";
import { initSync, defaults, _useErrorClass } from "./wasm/ims_broker_core.js";
import { ImsError } from "./api.mjs";

initSync({ module: readFileSync(new URL("./wasm/ims_broker_core_bg.wasm", import.meta.url)) });
_useErrorClass(ImsError);

export * from "./api.mjs";
export const { tokenUrl: DEFAULT_TOKEN_URL, ioApiBaseUrl: DEFAULT_IO_API_BASE_URL } = defaults();
export const MANAGEMENT_SCOPES = Object.freeze(defaults().managementScopes);
