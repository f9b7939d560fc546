// `make dev`, one of the README's two commands, run as a user runs it, twice: on free ports, it must
// start the fake Adobe and the Worker under `wrangler dev` (which builds the Worker through the
// [build] command), print a demo caller key and a curl command that gets a token, and stop both
// processes on Ctrl-C (SIGINT to its process group), leaving nothing listening; a second run
// after a rotation in the first (a secret sealed in the local KV) must get tokens too.
// Run: `make dev-test` (part of `make test`). It rewrites the git-ignored .dev.vars as `make dev`
// does, which refuses to replace a .dev.vars it did not write (the last test): move your own
// aside before running it.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";

import { ROOT, freePort } from "../support/wrangler-dev.mjs";

const ARTIFACTS = path.join(ROOT, "tests", "artifacts");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `promise`'s value, or null after `ms` (the timer does not keep the process alive). */
function within(promise, ms) {
  let timer;
  const late = new Promise((r) => {
    timer = setTimeout(() => r(null), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Resolves once `read()` matches `re`, or rejects when the process ends or time runs out. */
async function waitForOutput(read, child, re, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const m = read().match(re);
    if (m) return m;
    if (child.exitCode !== null) throw new Error(`make dev exited with ${child.exitCode}:\n${read().slice(-2000)}`);
    await sleep(200);
  }
  throw new Error(`make dev did not print ${re} within ${ms / 1000} s:\n${read().slice(-2000)}`);
}

async function answers(url) {
  try {
    await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return true;
  } catch {
    return false;
  }
}

/** Starts `make dev` on free ports; resolves once it printed its banner. */
async function startDev(t, label) {
  const fakePort = await freePort();
  const devPort = await freePort();
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const log = fs.createWriteStream(path.join(ARTIFACTS, `make-dev-${label}.log`));
  let output = "";
  const child = spawn("make", ["--no-print-directory", "dev"], {
    cwd: ROOT,
    detached: true, // its own process group: SIGINT reaches make, dev.sh, the fake and wrangler, like Ctrl-C
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, FAKE_PORT: String(fakePort), DEV_PORT: String(devPort), NO_COLOR: "1", FORCE_COLOR: "0" },
  });
  for (const s of [child.stdout, child.stderr]) {
    s.on("data", (d) => {
      output += d;
      log.write(d);
    });
  }
  const exited = new Promise((r) => child.once("exit", (code, signal) => r({ code, signal })));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    log.end();
  });
  const read = () => output;
  const base = `http://127.0.0.1:${devPort}`;
  await waitForOutput(read, child, new RegExp(`ims-broker is running at ${base}`), 480_000);
  const [, key] = await waitForOutput(read, child, /Demo caller key[^\n]*\n\s*(ibk_[A-Za-z0-9_-]+)/, 5_000);
  const [, curlUrl, curlKey] = await waitForOutput(
    read,
    child,
    /curl -s -X POST (http:\/\/127\.0\.0\.1:\d+\/v1\/token) -H "Authorization: Bearer (ibk_[A-Za-z0-9_-]+)"/,
    5_000,
  );
  assert.equal(curlUrl, `${base}/v1/token`);
  assert.equal(curlKey, key, "the curl command carries the printed demo key");
  /** Ctrl-C: resolves once everything stopped and nothing listens any more. */
  const stop = async () => {
    process.kill(-child.pid, "SIGINT");
    assert.ok(await within(exited, 30_000), "make dev stopped within 30 s of Ctrl-C");
    await waitForOutput(read, { exitCode: null }, /dev: stopped/, 5_000);
    assert.equal(await answers(`${base}/healthz`), false, "the Worker no longer answers");
    assert.equal(await answers(`http://127.0.0.1:${fakePort}/__fake/stats`), false, "the fake no longer answers");
  };
  return { base, fakePort, key, curlUrl, read, stop };
}

/** What the printed curl does. */
async function curlToken(dev) {
  const res = await fetch(dev.curlUrl, { method: "POST", headers: { authorization: `Bearer ${dev.key}` } });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify({ error: body.error, error_description: body.error_description }));
  return body;
}

test("make dev: the printed curl gets a token, Ctrl-C stops everything; a second run after a rotation works too", { timeout: 900_000 }, async (t) => {
  const dev = await startDev(t, "1");
  const body = await curlToken(dev);
  assert.equal(body.token_type, "bearer");
  assert.equal(body.credential, "default");
  assert.equal(body.scope, "AdobeID,openid");
  assert.ok(typeof body.access_token === "string" && body.access_token.length > 20);
  // A second request is served from the cache: the fake counted one token call.
  assert.equal((await curlToken(dev)).access_token, body.access_token);
  const stats = await (await fetch(`http://127.0.0.1:${dev.fakePort}/__fake/stats`)).json();
  assert.equal(stats.token_calls, 1, "one IMS call for two requests");
  const refused = await fetch(dev.curlUrl, { method: "POST", headers: { authorization: "Bearer ibk_wrong" } });
  assert.equal(refused.status, 401);
  // The demo key is an admin key: a rotation runs (it waits at retire for ROTATION_GRACE_S) and
  // leaves a sealed secret in the local KV.
  const rot = await fetch(`${dev.base}/v1/credentials/default/secrets/rotate`, {
    method: "POST",
    headers: { authorization: `Bearer ${dev.key}` },
  });
  assert.ok([200, 202].includes(rot.status), `rotate answered ${rot.status}`);
  await dev.stop();
  // The key is printed for the user, but never by the Worker's own log lines.
  const workerLines = dev.read().split("\n").filter((l) => l.includes('"msg":'));
  assert.ok(workerLines.length > 0, "the Worker's log lines are shown");
  assert.ok(!workerLines.some((l) => l.includes(dev.key) || l.includes(body.access_token)), "no key or token in the Worker's log lines");

  // A new run (new fake, new STORE_KEY) must not trip over the first run's state.
  const second = await startDev(t, "2");
  const token = await curlToken(second);
  assert.notEqual(token.access_token, body.access_token, "a token of the new fake");
  await second.stop();
});

test("make dev leaves a .dev.vars it did not write as it is, and says how to go on", async () => {
  const file = path.join(ROOT, ".dev.vars");
  const saved = fs.existsSync(file) ? fs.readFileSync(file) : null;
  const mine = "# my own local settings\nCLIENT_ID='my-real-client'\nLOG_REQUESTS='all'\n";
  fs.writeFileSync(file, mine);
  try {
    const child = spawn("make", ["--no-print-directory", "dev"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const code = await within(new Promise((r) => child.on("exit", r)), 120_000);
    assert.notEqual(code, null, "make dev stopped by itself");
    assert.notEqual(code, 0, output);
    assert.match(output, /\.dev\.vars exists and was not written by make dev/);
    assert.match(output, /mv \.dev\.vars/);
    assert.equal(fs.readFileSync(file, "utf8"), mine, "the user's .dev.vars is unchanged");
  } finally {
    if (saved === null) fs.rmSync(file, { force: true });
    else fs.writeFileSync(file, saved);
  }
});
