// What the API fuzz run talks to, started the way tests/console/server.mjs starts the console
// test's stack, and stopped again:
//   1. the fake Adobe (target/debug/fake-adobe --port 0) with two clients and their Developer
//      Console credentials, so tokens can be minted and secrets listed, rotated and deleted;
//   2. the Worker under `wrangler dev --local` on a free loopback port, from a temporary copy of
//      wrangler.toml (no [build] table: build/ must be built already; `main` is an absolute path
//      to a copy of build/ taken at start, so a rebuild during the run changes nothing) next to a
//      temporary .dev.vars holding a fresh STORE_KEY (scripts/new-store-key.mjs), an admin caller
//      key (scripts/new-caller-key.mjs), the fake's client secrets, ORG_ID/CREDENTIAL_ID,
//      IMS_TOKEN_URL / IO_API_BASE_URL at the fake and ROTATION_GRACE_S=30, with its own local KV
//      and Durable Object state (--persist-to in the temporary directory).
// Nothing here touches the repository's .dev.vars or .wrangler/ state. Logs go to
// tests/artifacts/api-fuzz/.

import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const OUT = path.join(ROOT, "tests", "artifacts", "api-fuzz");
const FAKE_BIN = path.join(ROOT, "target", "debug", "fake-adobe");
const WRANGLER = path.join(ROOT, "node_modules", ".bin", "wrangler");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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

function requireFile(file, hint) {
  if (!fs.existsSync(file)) throw new Error(`${path.relative(ROOT, file)} is missing: ${hint}`);
}

/** A caller key and its CALLER_KEYS entry, from the project's own generator. */
function newCallerKey(id, args) {
  const out = execFileSync(process.execPath, [path.join(ROOT, "scripts", "new-caller-key.mjs"), id, ...args, "--json"], {
    encoding: "utf8",
  });
  return JSON.parse(out); // {id, key, sha256, entry}
}

function newStoreKey() {
  return execFileSync(process.execPath, [path.join(ROOT, "scripts", "new-store-key.mjs"), "--raw"], { encoding: "utf8" }).trim();
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

/**
 * The repository's wrangler.toml with the [build] table removed and `main` pointing at a copy of
 * the built Worker in `tmp`: wrangler dev reloads (and answers 503 "Your worker restarted
 * mid-request") when its files change, and a rebuild of build/ during a run must not do that.
 */
function testConfig(tmp) {
  let text = fs.readFileSync(path.join(ROOT, "wrangler.toml"), "utf8");
  const mainRe = /^main\s*=\s*"([^"]+)"\s*$/m;
  const main = text.match(mainRe);
  if (!main) throw new Error('wrangler.toml has no `main = "…"` line');
  const built = path.resolve(ROOT, main[1]);
  const copy = path.join(tmp, "worker");
  fs.cpSync(path.dirname(built), copy, { recursive: true });
  text = text.replace(mainRe, `main = ${JSON.stringify(path.join(copy, path.basename(built)))}`);
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
 * {base, fakeUrl, admin: {id, key}, secrets: [every secret value the Worker was given], stop(), timings}.
 */
export async function startStack() {
  requireFile(path.join(ROOT, "build", "index.js"), "run scripts/build-worker.sh (make build) first");
  requireFile(FAKE_BIN, "run `cargo build -p fake-adobe` (make fake-adobe) first");
  requireFile(WRANGLER, "run `make bootstrap` (npm ci) first");
  fs.mkdirSync(OUT, { recursive: true });
  const t0 = Date.now();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ims-api-fuzz-"));
  const fakeLog = fs.createWriteStream(path.join(OUT, "fake-adobe.log"));
  const workerLog = fs.createWriteStream(path.join(OUT, "wrangler.log"));

  // Two credentials, both able to manage secrets: "default" and "extra".
  const clients = {
    default: { id: "fuzz-client", secret: `cs_${randomBytes(12).toString("hex")}`, org: "4242", cred: "1717" },
    extra: { id: "fuzz-extra", secret: `cs_${randomBytes(12).toString("hex")}`, org: "4243", cred: "1718" },
  };
  const admin = newCallerKey("api-fuzz-admin", ["--admin", "--credentials", "*", "--scopes", "*"]);
  const storeKey = newStoreKey();

  let fake = null;
  let wrangler = null;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await stopChild(wrangler, { group: true });
    await stopChild(fake?.child);
    fakeLog.end();
    workerLog.end();
    fs.rmSync(tmp, { recursive: true, force: true });
  };

  try {
    const fakeArgs = ["--port", "0"];
    for (const c of Object.values(clients)) {
      fakeArgs.push("--client", `${c.id}:${c.secret}`, "--credential", `${c.org}:${c.cred}:${c.id}`);
    }
    fake = await startFake(fakeArgs, fakeLog);
    const tFake = Date.now();

    fs.writeFileSync(path.join(tmp, "wrangler.toml"), testConfig(tmp));
    fs.writeFileSync(
      path.join(tmp, ".dev.vars"),
      devVars({
        CLIENT_ID: clients.default.id,
        CLIENT_SECRET: clients.default.secret,
        SCOPES: "openid,AdobeID",
        CREDENTIALS: JSON.stringify({
          extra: {
            client_id: clients.extra.id,
            scopes: "openid,AdobeID,read_organizations",
            org_id: clients.extra.org,
            credential_id: clients.extra.cred,
          },
        }),
        CLIENT_SECRET_EXTRA: clients.extra.secret,
        IMS_TOKEN_URL: `${fake.url}/ims/token/v3`,
        IO_API_BASE_URL: fake.url,
        ORG_ID: clients.default.org,
        CREDENTIAL_ID: clients.default.cred,
        // Long enough that a fuzz run of a few seconds sees a rotation wait at "retire" with two
        // secrets at Adobe (so a DELETE of the previous one can succeed), short enough that a
        // longer run also sees the retire step and new rotations.
        ROTATION_GRACE_S: "30",
        // One log line per request, cache hits included: every line is scanned for leaks.
        LOG_REQUESTS: "all",
        CALLER_KEYS: JSON.stringify({ [admin.id]: admin.entry }),
        STORE_KEY: storeKey,
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
      admin: { id: admin.id, key: admin.key },
      secrets: [admin.key, storeKey, clients.default.secret, clients.extra.secret],
      stop,
      timings: { fakeMs: tFake - t0, wranglerMs: tWorker - tFake },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
