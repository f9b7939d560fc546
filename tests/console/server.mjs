// Starts what the console test runs against, and stops it again:
//   1. the fake Adobe (target/debug/fake-adobe --port 0) with one client and its Developer
//      Console credential, so tokens can be minted and secrets listed and rotated;
//   2. the Worker under `wrangler dev --local` on a free port, from a temporary copy of
//      wrangler.toml (absolute `main`, no [build] command: the test expects build/ to be built
//      already) next to a temporary .dev.vars with a fresh STORE_KEY, an admin and a
//      non-admin caller key, ORG_ID/CREDENTIAL_ID, IMS_TOKEN_URL / IO_API_BASE_URL at the fake
//      and ROTATION_GRACE_S=0 (so a rotation runs to "done" in one go), and a fresh local KV
//      (--persist-to in the temporary directory).
// Nothing here touches the repository's own .dev.vars or .wrangler/ state.

import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const ARTIFACTS = path.join(ROOT, "tests", "artifacts");
const FAKE_BIN = path.join(ROOT, "target", "debug", "fake-adobe");
const WRANGLER = path.join(ROOT, "node_modules", ".bin", "wrangler");

/** A caller key as scripts/new-caller-key.mjs makes them: "ibk_" + base64url(32 bytes). */
export function newCallerKey() {
  const key = "ibk_" + randomBytes(32).toString("base64url");
  return { key, sha256: createHash("sha256").update(key, "utf8").digest("hex") };
}

/** A free TCP port on 127.0.0.1 (closed again before use; good enough for a test). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function requireFile(file, hint) {
  if (!fs.existsSync(file)) throw new Error(`${path.relative(ROOT, file)} is missing: ${hint}`);
}

/** Spawns the fake Adobe and resolves with its base URL once it says where it listens. */
function startFake(args, logStream) {
  const child = spawn(FAKE_BIN, args, { stdio: ["ignore", "pipe", "pipe"] });
  child.stderr.pipe(logStream, { end: false });
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("fake-adobe did not start within 10 s")), 10_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`fake-adobe exited with ${code}`));
    });
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/[^\s]+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1] });
      }
    });
  });
}

/** The repository's wrangler.toml with `main` made absolute and the [build] table removed. */
function testConfig() {
  let text = fs.readFileSync(path.join(ROOT, "wrangler.toml"), "utf8");
  const mainRe = /^main\s*=\s*"([^"]+)"\s*$/m;
  const main = text.match(mainRe);
  if (!main) throw new Error("wrangler.toml has no `main = \"…\"` line");
  text = text.replace(mainRe, `main = ${JSON.stringify(path.resolve(ROOT, main[1]))}`);
  // Drop the [build] table (up to the next table header): wrangler would otherwise run the
  // Rust build from the temporary directory.
  text = text.replace(/^\[build\][^\n]*\n(?:(?!\[)[^\n]*\n)*/m, "");
  if (/^\[build\]/m.test(text)) throw new Error("could not remove [build] from wrangler.toml");
  return text;
}

/** .dev.vars syntax: NAME='value' (single quotes keep JSON literal). */
function devVars(vars) {
  return (
    Object.entries(vars)
      .map(([k, v]) => {
        if (String(v).includes("'")) throw new Error(`${k} must not contain a single quote`);
        return `${k}='${v}'`;
      })
      .join("\n") + "\n"
  );
}

async function waitHealthy(base, child, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with ${child.exitCode}`);
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await sleep(250);
  }
  throw new Error(`wrangler dev did not answer ${base}/healthz within ${ms / 1000} s`);
}

async function stopChild(child, { group = false, graceMs = 5_000 } = {}) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  const signal = (sig) => {
    try {
      if (group) process.kill(-child.pid, sig);
      else child.kill(sig);
    } catch {
      // already gone
    }
  };
  signal("SIGTERM");
  const done = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!done) {
    signal("SIGKILL");
    await Promise.race([exited, sleep(2_000)]);
  }
}

/**
 * Starts the fake and the Worker. Resolves with
 * {base, fakeUrl, adminKey, userKey, clientId, stop(), timings}.
 */
export async function startStack() {
  requireFile(path.join(ROOT, "build", "index.js"), "run scripts/build-worker.sh (make build) first");
  requireFile(FAKE_BIN, "run `cargo build -p fake-adobe` first");
  requireFile(WRANGLER, "run `make bootstrap` (npm ci) first");
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const t0 = Date.now();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ims-console-test-"));
  const fakeLog = fs.createWriteStream(path.join(ARTIFACTS, "console-fake-adobe.log"));
  const workerLog = fs.createWriteStream(path.join(ARTIFACTS, "console-wrangler.log"));

  const clientId = "console-client";
  const clientSecret = `cs_${randomBytes(12).toString("hex")}`;
  const orgId = "4242";
  const credentialId = "1717";
  const admin = newCallerKey();
  const user = newCallerKey();

  let fake = null;
  let wrangler = null;
  const stop = async () => {
    await stopChild(wrangler, { group: true });
    await stopChild(fake?.child);
    fakeLog.end();
    workerLog.end();
    fs.rmSync(tmp, { recursive: true, force: true });
  };

  try {
    fake = await startFake(
      ["--port", "0", "--client", `${clientId}:${clientSecret}`, "--credential", `${orgId}:${credentialId}:${clientId}`],
      fakeLog,
    );
    const tFake = Date.now();

    const callerKeys = {
      "console-admin": { sha256: admin.sha256, credentials: "*", scopes: "*", admin: true },
      "console-user": { sha256: user.sha256, credentials: ["default"], scopes: "*", admin: false },
    };
    fs.writeFileSync(path.join(tmp, "wrangler.toml"), testConfig());
    fs.writeFileSync(
      path.join(tmp, ".dev.vars"),
      devVars({
        CLIENT_ID: clientId,
        CLIENT_SECRET: clientSecret,
        SCOPES: "openid,AdobeID",
        IMS_TOKEN_URL: `${fake.url}/ims/token/v3`,
        IO_API_BASE_URL: fake.url,
        ORG_ID: orgId,
        CREDENTIAL_ID: credentialId,
        ROTATION_GRACE_S: "0",
        CALLER_KEYS: JSON.stringify(callerKeys),
        STORE_KEY: randomBytes(32).toString("base64"),
      }),
      { mode: 0o600 },
    );

    const port = await freePort();
    const inspectorPort = await freePort();
    const base = `http://127.0.0.1:${port}`;
    wrangler = spawn(
      WRANGLER,
      [
        "dev",
        "--config",
        path.join(tmp, "wrangler.toml"),
        "--local",
        "--ip",
        "127.0.0.1",
        "--port",
        String(port),
        "--inspector-port",
        String(inspectorPort),
        "--persist-to",
        path.join(tmp, "state"),
        "--show-interactive-dev-session=false",
        "--live-reload=false",
      ],
      {
        cwd: tmp,
        detached: true, // own process group, so stop() ends wrangler and its workerd together
        stdio: ["ignore", "pipe", "pipe"],
        env: {
          ...process.env,
          CLOUDFLARE_CF_FETCH_ENABLED: "false",
          WRANGLER_SEND_METRICS: "false",
          NO_COLOR: "1",
          FORCE_COLOR: "0",
        },
      },
    );
    wrangler.stdout.pipe(workerLog, { end: false });
    wrangler.stderr.pipe(workerLog, { end: false });
    await waitHealthy(base, wrangler, 120_000);
    const tWorker = Date.now();
    return {
      base,
      fakeUrl: fake.url,
      adminKey: admin.key,
      userKey: user.key,
      clientId,
      stop,
      timings: { fakeMs: tFake - t0, wranglerMs: tWorker - tFake },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
