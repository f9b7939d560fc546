// The fake Adobe IMS (tests/fake-adobe, a Rust binary) as a child process of Node, with a small
// handle on its control API, for the integration tests (tests/integration/harness.mjs) and the
// benchmarks (bench/lib.mjs). It listens on 127.0.0.1 only.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";

import { atExit } from "./cleanup.mjs";
import { REPO_ROOT } from "./workers.mjs";

/** The fake Adobe IMS binary (`cargo build -p fake-adobe`). */
export const FAKE_ADOBE_BIN = path.join(REPO_ROOT, "target", "debug", "fake-adobe");

/** True once `cargo build -p fake-adobe` has produced target/debug/fake-adobe. */
export function fakeAdobeBuilt() {
  return fs.existsSync(FAKE_ADOBE_BIN);
}

/**
 * @typedef {object} FakeAdobe
 * @property {string} url        Base URL, e.g. "http://127.0.0.1:41234" (no trailing slash).
 * @property {string} tokenUrl   `${url}/ims/token/v3`, the value for IMS_TOKEN_URL.
 * @property {number} pid
 * The control API (tests/fake-adobe/README.md has the exact shapes):
 * @property {() => Promise<any>} stats      GET  /__fake/stats: {token_calls, token_successes,
 *   issued_tokens, calls: [{at_ms, client_id, scope, outcome, fault}], pending_faults}
 * @property {() => Promise<any>} secrets    GET  /__fake/secrets: {secrets: [...every client
 *   secret], all_issued_tokens: [...]}, for "never logged / never leaked" checks
 * @property {() => Promise<any>} reset      POST /__fake/reset (keeps clients)
 * @property {(obj: object) => Promise<any>} config   POST /__fake/config with `obj`, e.g.
 *   `{expires_in: 120, delay_ms: 50}`; answers the effective config
 * @property {() => Promise<any>} getConfig  GET  /__fake/config
 * @property {(list: object[]) => Promise<any>} faults POST /__fake/faults with
 *   `{"faults": list}`, e.g. `[{kind: "status429", retry_after: 1, count: 1}]`
 * @property {(c: {client_id: string, client_secret: string, scopes?: string[]|null}) => Promise<any>} addClient
 *   POST /__fake/clients (adds or replaces a client)
 * @property {() => string[]} logs           stdout/stderr lines of the fake so far (stdout only
 *   without `logFile`)
 * @property {() => Promise<void>} stop      kill the process (idempotent)
 */

/**
 * Spawn target/debug/fake-adobe on a free port (`--port 0`) and wait for its first
 * stdout line `fake-adobe listening on http://127.0.0.1:PORT`.
 *
 * @param {object} [opts]
 * @param {Record<string, string | {secret: string, scopes?: string[]}> | string[] | {id: string, secret: string, scopes?: string[]}[]} [opts.clients]
 *   OAuth clients the fake accepts, any of:
 *     `{ "demo-client": "demo-secret" }`, `{ "c2": { secret: "s2", scopes: ["openid"] } }`,
 *     `["demo-client:demo-secret", "c2:s2:openid,AdobeID"]`, `[{ id, secret, scopes }]`.
 *   Each becomes `--client id:secret[:scope,scope]`; a client without scopes may request
 *   any scope. Secrets cannot contain ":" here (use `addClient` for those).
 *   Default: `{ "demo-client": "demo-secret" }`.
 * @param {string[]} [opts.args]   extra CLI arguments for the fake
 * @param {Record<string,string>} [opts.env] extra environment variables
 * @param {number} [opts.startTimeoutMs=15000]
 * @param {string} [opts.logFile]  file every stdout/stderr line of the fake is appended to, with a
 *   timestamp and the pid. Without it the fake's stderr (one line per request) is not read at
 *   all: a benchmark making thousands of requests a second keeps neither the lines nor the cost.
 * @returns {Promise<FakeAdobe>}
 */
export async function startFakeAdobe({ clients = { "demo-client": "demo-secret" }, args = [], env = {}, startTimeoutMs = 15000, logFile } = {}) {
  if (!fakeAdobeBuilt()) {
    throw new Error(`${FAKE_ADOBE_BIN} not found: run \`cargo build -p fake-adobe\``);
  }
  const clientArgs = normaliseClients(clients).flatMap(({ id, secret, scopes }) => [
    "--client",
    scopes && scopes.length ? `${id}:${secret}:${scopes.join(",")}` : `${id}:${secret}`,
  ]);
  const child = spawn(FAKE_ADOBE_BIN, ["--port", "0", ...clientArgs, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", logFile ? "pipe" : "ignore"],
  });
  const lines = [];
  const record = (stream) => (line) => {
    lines.push(line);
    if (logFile) fs.appendFileSync(logFile, `${new Date().toISOString()} [fake-adobe ${child.pid} ${stream}] ${line}\n`);
  };
  const stdout = readline.createInterface({ input: child.stdout });
  if (logFile) readline.createInterface({ input: child.stderr }).on("line", record("stderr"));

  let exited = false;
  const exitPromise = new Promise((resolve) => child.once("exit", (code, signal) => { exited = true; resolve({ code, signal }); }));

  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`fake-adobe did not print its URL within ${startTimeoutMs} ms; output:\n${lines.join("\n")}`));
    }, startTimeoutMs);
    let first = true;
    stdout.on("line", (line) => {
      record("stdout")(line);
      if (!first) return;
      first = false;
      clearTimeout(timer);
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) resolve(m[1].replace(/\/+$/, ""));
      else {
        child.kill("SIGKILL");
        reject(new Error(`unexpected first line from fake-adobe: ${JSON.stringify(line)}`));
      }
    });
    exitPromise.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`fake-adobe exited early (code ${code}, signal ${signal}); output:\n${lines.join("\n")}`));
    });
  });

  const control = async (method, p, body) => {
    const res = await fetch(url + p, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`fake-adobe ${method} ${p} -> ${res.status}: ${text}`);
    if (text === "") return null;
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  };

  const cancelKillAtExit = atExit(() => { if (!exited) child.kill("SIGKILL"); });
  const stop = async () => {
    cancelKillAtExit();
    if (exited) return;
    child.kill("SIGTERM");
    const t = setTimeout(() => child.kill("SIGKILL"), 3000);
    await exitPromise;
    clearTimeout(t);
  };

  return {
    url,
    tokenUrl: `${url}/ims/token/v3`,
    pid: child.pid,
    stats: () => control("GET", "/__fake/stats"),
    secrets: () => control("GET", "/__fake/secrets"),
    reset: () => control("POST", "/__fake/reset", {}),
    config: (obj) => control("POST", "/__fake/config", obj),
    getConfig: () => control("GET", "/__fake/config"),
    faults: (list) => control("POST", "/__fake/faults", { faults: list }),
    addClient: (c) => control("POST", "/__fake/clients", c),
    logs: () => lines.slice(),
    stop,
  };
}

/** `opts.clients` of `startFakeAdobe` as `[{id, secret, scopes?}]`. */
function normaliseClients(clients) {
  if (Array.isArray(clients)) {
    return clients.map((c) => {
      if (typeof c === "string") {
        const [id, secret, scopes] = c.split(":");
        if (!id || secret === undefined) throw new Error(`client must be "id:secret[:scopes]", got ${JSON.stringify(c)}`);
        return { id, secret, scopes: scopes ? scopes.split(",") : undefined };
      }
      return { id: c.id, secret: c.secret, scopes: c.scopes };
    });
  }
  return Object.entries(clients).map(([id, v]) =>
    typeof v === "string" ? { id, secret: v } : { id, secret: v.secret, scopes: v.scopes },
  );
}
