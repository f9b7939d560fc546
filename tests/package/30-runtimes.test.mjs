// The installed ims-broker-core under every runtime it ships for: the same smoke script under
// Node, Deno and Bun (both installed from npm as packages, see tests/package/package.json) and
// under the oldest supported Node 20 and 22 (npm packages too), where a CommonJS user
// `require()`s it as well; `tsc --strict` and `deno check` of a TypeScript user of the
// hand-written declarations; and a Worker bundled by wrangler running inside workerd
// (Miniflare), with a real KV namespace.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";

import { Log, LogLevel, Miniflare, convertV4MiniflareOptions } from "miniflare";

import { HERE, REPO_ROOT, TOOLS_BIN, installPackage, startFakeAdobe } from "./support.mjs";

const run = promisify(execFile);
const CLIENT = "smoke-client";
const SECRET = "smoke-secret-abc";
let dir;
let fake;

before(async () => {
  dir = installPackage();
  for (const f of ["smoke.mjs", "require-check.cjs", "types-check.ts"]) fs.copyFileSync(path.join(HERE, f), path.join(dir, f));
  fake = await startFakeAdobe({ clients: { [CLIENT]: SECRET } });
});
after(() => fake?.stop());

/** Runs a command in the consumer folder; returns stdout, failing with its output. */
async function sh(cmd, args, env = {}) {
  try {
    const { stdout } = await run(cmd, args, { cwd: dir, env: { ...process.env, ...env }, timeout: 120_000 });
    return stdout;
  } catch (e) {
    assert.fail(`${path.basename(cmd)} ${args.join(" ")} failed (${e.code ?? e.signal}):\n${e.stdout}\n${e.stderr}`);
  }
}

function tool(name) {
  const bin = path.join(TOOLS_BIN, name);
  assert.ok(fs.existsSync(bin), `${bin} missing: run \`make package-tools\` (npm ci in tests/package)`);
  return bin;
}

const smokeArgs = () => ["smoke.mjs", fake.url, CLIENT, SECRET];
const DENO_ENV = { DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1", NO_COLOR: "1", DENO_DIR: path.join(HERE, "node_modules", ".deno-cache") };

test("smoke under Node", async () => {
  const out = await sh(process.execPath, smokeArgs());
  assert.match(out, /smoke node v\S+: 6 passed, 0 failed/);
});

// The package's engines, "^20.19.0 || >=22.12.0": the first releases of each line that
// require() ES modules by default. Pinned in tests/package/package.json as node20 / node22.
const PINNED = JSON.parse(fs.readFileSync(path.join(HERE, "package.json"), "utf8")).devDependencies;
for (const alias of ["node20", "node22"]) {
  const version = PINNED[alias].replace(/^npm:node@/, "");
  test(`smoke and require() under Node ${version} (npm package node@${version})`, async () => {
    const node = path.join(HERE, "node_modules", alias, "bin", "node");
    assert.ok(fs.existsSync(node), `${node} missing: run \`make package-tools\` (npm ci in tests/package)`);
    assert.equal((await sh(node, ["--version"])).trim(), `v${version}`);
    assert.match(await sh(node, smokeArgs()), new RegExp(`smoke node v${version}: 6 passed, 0 failed`));
    assert.match(await sh(node, ["require-check.cjs", fake.url, CLIENT, SECRET]), new RegExp(`require node v${version}: 3 passed, 0 failed`));
  });
}

test("tsc --strict: the hand-written declarations type a TypeScript user", async () => {
  // skipLibCheck off: index.d.ts itself is checked too. No @types/node in the consumer
  // folder: the declarations need only the standard and DOM libraries.
  await sh(process.execPath, [
    path.join(HERE, "node_modules", "typescript", "bin", "tsc"),
    "--strict", "--noEmit", "--skipLibCheck", "false",
    "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022",
    "--lib", "es2022,dom,esnext.disposable",
    "types-check.ts",
  ]);
});

test("smoke under Deno (npm package `deno`)", async () => {
  const out = await sh(tool("deno"), ["run", "--quiet", "--allow-net=127.0.0.1", "--allow-read", ...smokeArgs()], DENO_ENV);
  assert.match(out, /smoke deno \S+: 6 passed, 0 failed/);
});

test("deno check: the hand-written declarations type a TypeScript user", async () => {
  await sh(tool("deno"), ["check", "--quiet", "types-check.ts"], DENO_ENV);
});

test("smoke under Bun (npm package `bun`)", async () => {
  const out = await sh(tool("bun"), smokeArgs(), { BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0", DO_NOT_TRACK: "1" });
  assert.match(out, /smoke bun \S+: 6 passed, 0 failed/);
});

test("inside workerd: a wrangler-bundled Worker with a KV store", async (t) => {
  const work = fs.mkdtempSync(path.join(dir, "worker-"));
  for (const f of fs.readdirSync(path.join(HERE, "workerd"))) fs.copyFileSync(path.join(HERE, "workerd", f), path.join(work, f));
  const wrangler = path.join(REPO_ROOT, "node_modules", ".bin", "wrangler");
  await run(wrangler, ["deploy", "--dry-run", "--outdir", "out"], {
    cwd: work,
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false", WRANGLER_LOG: "error" },
  }).catch((e) => assert.fail(`wrangler bundle failed:\n${e.stdout}\n${e.stderr}`));
  const out = path.join(work, "out");
  const files = fs.readdirSync(out);
  assert.ok(files.some((f) => f.endsWith(".wasm")), `the .wasm is a module of its own: ${files}`);
  const modules = [{ type: "ESModule", path: path.join(out, "worker.js") }];
  for (const f of files) if (f.endsWith(".wasm")) modules.push({ type: "CompiledWasm", path: path.join(out, f) });
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      cf: false,
      telemetry: { enabled: false },
      log: new Log(LogLevel.WARN),
      unsafeRuntimeEnv: { CLOUDFLARE_CF_FETCH_ENABLED: "false" },
      workers: [
        {
          name: "package-smoke",
          modules,
          modulesRoot: out,
          compatibilityDate: "2025-01-01",
          bindings: { TOKEN_URL: fake.tokenUrl, CLIENT_ID: CLIENT, CLIENT_SECRET: SECRET },
          kvNamespaces: { TOKENS: "package-smoke-tokens" },
        },
      ],
    }),
  );
  t.after(() => mf.dispose());
  await fake.reset();
  const get = async (q = "") => {
    const res = await mf.dispatchFetch(`http://worker.test/${q}`);
    return { status: res.status, body: await res.json() };
  };
  const first = await get();
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.equal(first.body.source, "miss");
  assert.equal(first.body.scope, "AdobeID,openid");
  for (let i = 0; i < 10; i++) assert.equal((await get()).body.source, "memory");
  const concurrent = await Promise.all(Array.from({ length: 30 }, () => get("?scopes=openid")));
  assert.ok(concurrent.every((r) => r.status === 200));
  assert.equal(new Set(concurrent.map((r) => r.body.accessToken)).size, 1);
  assert.equal((await fake.stats()).token_calls, 2, "one call per scope set");
  const kv = await mf.getKVNamespace("TOKENS");
  const keys = (await kv.list()).keys.map((k) => k.name).sort();
  assert.deepEqual(keys, [first.body.key, concurrent[0].body.key].sort());
  assert.equal(JSON.parse(await kv.get(first.body.key)).access_token, first.body.accessToken);
  const bad = await get("?scopes=bad%20scope");
  assert.deepEqual([bad.status, bad.body.code], [400, "invalid_scope"], "an ImsError instance inside workerd too");
});
