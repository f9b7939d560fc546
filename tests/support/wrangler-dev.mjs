// The fake Adobe and the built Worker under `wrangler dev --local`, for the tests that need the
// real dev server rather than Miniflare's API (the console test in Chromium, the schemathesis
// run). One function starts both and returns how to stop them:
//   1. the fake Adobe (target/debug/fake-adobe --port 0 plus the caller's arguments);
//   2. `wrangler dev --local` on a free loopback port, from a temporary copy of wrangler.toml
//      without its [build] table (build/ must be built already) whose `main` points at a copy of
//      build/ taken at start (wrangler dev reloads, answering 503 "Your worker restarted
//      mid-request", when its files change: a rebuild during a run must change nothing) and whose
//      [assets] directory is a copy of www/ taken at start (the console, /openapi.json, and the
//      _headers/_redirects that wrangler dev's Miniflare reads from it), next to a temporary
//      .dev.vars with the caller's variables, with its own local KV and Durable Object state
//      (--persist-to in the temporary directory).
// Nothing here touches the repository's .dev.vars or .wrangler/ state.

import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
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
 * The repository's wrangler.toml without [build], `main` at a copy of the built Worker in `tmp`,
 * the [assets] directory at a copy of it in `tmp`.
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
  // [assets] directory (the only `directory` key of the file): relative to the config file, so a
  // temporary config needs an absolute one; a copy, like build/.
  const dirRe = /^directory\s*=\s*"([^"]+)"\s*$/m;
  const dir = text.match(dirRe);
  if (!dir) throw new Error('wrangler.toml has no [assets] `directory = "…"` line');
  const assets = path.join(tmp, "assets");
  fs.cpSync(path.resolve(ROOT, dir[1]), assets, { recursive: true });
  text = text.replace(dirRe, `directory = ${JSON.stringify(assets)}`);
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
 * Starts the fake and the Worker.
 * @param {object} o
 * @param {string} o.tmpPrefix   prefix of the temporary directory (in the OS's tmp)
 * @param {string[]} o.fakeArgs  fake-adobe arguments after `--port 0` (clients, credentials)
 * @param {(fakeUrl: string) => Record<string, string>} o.vars  the Worker's vars and secrets
 * @param {{fake: string, worker: string}} o.logs  log files (their folder is created)
 * @returns {Promise<{base: string, fakeUrl: string, stop: () => Promise<void>,
 *   timings: {fakeMs: number, wranglerMs: number}}>}
 */
export async function startWranglerDev({ tmpPrefix, fakeArgs, vars, logs }) {
  requireFile(path.join(ROOT, "build", "index.js"), "run scripts/build-worker.sh (make build) first");
  requireFile(FAKE_BIN, "run `cargo build -p fake-adobe` (make fake-adobe) first");
  requireFile(WRANGLER, "run `make bootstrap` (npm ci) first");
  for (const f of Object.values(logs)) fs.mkdirSync(path.dirname(f), { recursive: true });
  const t0 = Date.now();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), tmpPrefix));
  const fakeLog = fs.createWriteStream(logs.fake);
  const workerLog = fs.createWriteStream(logs.worker);

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
    fake = await startFake(["--port", "0", ...fakeArgs], fakeLog);
    const tFake = Date.now();
    fs.writeFileSync(path.join(tmp, "wrangler.toml"), testConfig(tmp));
    fs.writeFileSync(path.join(tmp, ".dev.vars"), devVars(vars(fake.url)), { mode: 0o600 });

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
    return { base, fakeUrl: fake.url, stop, timings: { fakeMs: tFake - t0, wranglerMs: Date.now() - tFake } };
  } catch (err) {
    await stop();
    throw err;
  }
}
