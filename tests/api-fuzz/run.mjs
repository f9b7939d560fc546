// The API fuzz run (scripts/api-fuzz.sh → make api-fuzz): starts the fake Adobe and the Worker
// under `wrangler dev` (stack.mjs), runs schemathesis against the /openapi.json the Worker serves
// with an admin caller key, then checks that no secret, caller key or token reached a log.
// Exits non-zero when schemathesis reports a failure or a log leaks. docs/api-fuzzing.md.
//
// Environment (scripts/api-fuzz.sh sets the first one):
//   SCHEMATHESIS        the schemathesis executable (from the pinned venv)
//   API_FUZZ_EXAMPLES   test cases per operation and phase (--max-examples), default 50
//   API_FUZZ_SEED       seed (--seed), default 1; empty = a random seed (printed by schemathesis)
//   API_FUZZ_WORKERS    concurrent schemathesis workers, default 1 (more trip a CPython 3.11.7
//                      ast.parse bug in hypothesis under threads: "AST constructor recursion depth mismatch")
//   API_FUZZ_ARGS       extra schemathesis arguments, space-separated (e.g. "--phases fuzzing")
//
// Written to tests/artifacts/api-fuzz/: schemathesis.txt (its output, tokens redacted),
// wrangler.log, fake-adobe.log, summary.json.

import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";

import { OUT, ROOT, startStack } from "./stack.mjs";

const HERE = path.join(ROOT, "tests", "api-fuzz");
const SCHEMATHESIS = process.env.SCHEMATHESIS || path.join(ROOT, ".tools", "schemathesis-venv", "bin", "schemathesis");
const EXAMPLES = process.env.API_FUZZ_EXAMPLES || "50";
const SEED = process.env.API_FUZZ_SEED ?? "1";
const WORKERS = process.env.API_FUZZ_WORKERS || "1";
const EXTRA = (process.env.API_FUZZ_ARGS || "").split(/\s+/).filter(Boolean);

for (const [name, value] of [["API_FUZZ_EXAMPLES", EXAMPLES], ["API_FUZZ_WORKERS", WORKERS]]) {
  if (!/^[1-9][0-9]*$/.test(value)) throw new Error(`${name} must be a positive whole number (got ${JSON.stringify(value)})`);
}
if (SEED !== "" && !/^[0-9]+$/.test(SEED)) throw new Error(`API_FUZZ_SEED must be a whole number or empty (got ${JSON.stringify(SEED)})`);
if (!fs.existsSync(SCHEMATHESIS)) throw new Error(`${SCHEMATHESIS} is missing: run scripts/api-fuzz.sh (make api-fuzz), which installs it`);

// Access tokens are JWTs ("eyJ…"); schemathesis prints response bodies of failing cases.
const JWT = /eyJ[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*){0,2}/g;

function redactor(values) {
  const known = values.filter((v) => v && v.length >= 8);
  return (line) => {
    let out = line.replace(JWT, "[redacted token]");
    for (const v of known) out = out.split(v).join("[redacted]");
    return out;
  };
}

/** Runs schemathesis; its output goes, redacted, to the terminal and to `transcript`. */
function runSchemathesis(args, env, cwd, redact, transcript) {
  return new Promise((resolve, reject) => {
    const child = spawn(SCHEMATHESIS, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    const out = fs.createWriteStream(transcript);
    const pump = (stream, sink) => {
      const rl = readline.createInterface({ input: stream, crlfDelay: Infinity });
      rl.on("line", (line) => {
        const clean = redact(line);
        sink.write(clean + "\n");
        out.write(clean + "\n");
      });
      return new Promise((r) => rl.once("close", r));
    };
    const done = Promise.all([pump(child.stdout, process.stdout), pump(child.stderr, process.stderr)]);
    child.once("error", reject);
    child.once("exit", async (code, signal) => {
      await done;
      out.end();
      resolve({ code, signal });
    });
  });
}

/** Every place a value from `secrets` occurs in `files` (file name and value kind, never the value). */
function leaks(files, secrets) {
  const found = [];
  for (const file of files) {
    if (!fs.existsSync(file)) continue;
    const text = fs.readFileSync(file, "utf8");
    for (const [kind, values] of Object.entries(secrets)) {
      const n = values.filter((v) => v && text.includes(v)).length;
      if (n > 0) found.push(`${path.relative(ROOT, file)}: ${n} ${kind}`);
    }
  }
  return found;
}

function parseSummary(text) {
  const num = (re) => {
    const m = re.exec(text);
    return m ? Number(m[1]) : null;
  };
  return {
    operations: num(/Tested:\s+(\d+)/),
    operationsSelected: num(/Selected:\s+(\d+)\//),
    testCases: num(/(\d+) generated/),
    seed: /^Seed:\s+(\d+)/m.exec(text)?.[1] ?? null, // may exceed 2^53: kept as text
  };
}

const t0 = Date.now();
fs.mkdirSync(OUT, { recursive: true });
const stack = await startStack();
const tStack = Date.now();
const work = fs.mkdtempSync(path.join(os.tmpdir(), "ims-api-fuzz-st-"));
// Ctrl-C (or a CI timeout): wrangler runs in its own process group, so stop it here.
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.once(sig, () => {
    stack.stop().finally(() => {
      fs.rmSync(work, { recursive: true, force: true });
      process.exit(130);
    });
  });
}
let exitCode = 1;
try {
  console.log(`api-fuzz: fake Adobe ${stack.timings.fakeMs} ms, wrangler dev ${stack.timings.wranglerMs} ms; Worker at ${stack.base}`);
  const args = [
    "--config-file", path.join(HERE, "schemathesis.toml"),
    "run", `${stack.base}/openapi.json`,
    "--max-examples", EXAMPLES,
    "--workers", WORKERS,
    "--request-timeout", "30",
    "--no-color",
    ...(SEED === "" ? [] : ["--seed", SEED]),
    ...EXTRA,
  ];
  console.log(`api-fuzz: schemathesis ${args.slice(2).join(" ")}`);
  const env = {
    ...process.env,
    API_FUZZ_CALLER_ID: stack.admin.id,
    API_FUZZ_CALLER_KEY: stack.admin.key,
    SCHEMATHESIS_HOOKS: path.join(HERE, "hooks.py"),
    NO_COLOR: "1",
    COLUMNS: "100",
    PYTHONDONTWRITEBYTECODE: "1",
  };
  const transcript = path.join(OUT, "schemathesis.txt");
  const redact = redactor(stack.secrets);
  const tRun = Date.now();
  const { code, signal } = await runSchemathesis(args, env, work, redact, transcript);
  const runMs = Date.now() - tRun;

  // Secrets: the ones the Worker was given, every secret the fake held (rotations add some),
  // every token it issued.
  const fakeState = await (await fetch(`${stack.fakeUrl}/__fake/secrets`)).json();
  await stack.stop();
  const found = leaks([path.join(OUT, "wrangler.log"), path.join(OUT, "fake-adobe.log"), transcript], {
    "configured secrets or keys": stack.secrets,
    "client secrets of the fake": fakeState.secrets ?? [],
    "issued tokens": fakeState.all_issued_tokens ?? [],
  });

  const summary = {
    ...parseSummary(fs.readFileSync(transcript, "utf8")),
    examplesPerOperation: Number(EXAMPLES),
    workers: Number(WORKERS),
    schemathesisExit: code,
    stackStartMs: tStack - t0,
    schemathesisMs: runMs,
    totalMs: Date.now() - t0,
    tokensIssuedByFake: (fakeState.all_issued_tokens ?? []).length,
    secretsSeenByFake: (fakeState.secrets ?? []).length,
    leaks: found,
  };
  fs.writeFileSync(path.join(OUT, "summary.json"), JSON.stringify(summary, null, 2) + "\n");
  console.log(
    `api-fuzz: ${summary.operations ?? "?"} operations, ${summary.testCases ?? "?"} test cases ` +
      `(max ${EXAMPLES} per operation and phase, seed ${summary.seed ?? SEED}) in ${(runMs / 1000).toFixed(1)} s; ` +
      `whole run ${(summary.totalMs / 1000).toFixed(1)} s; the fake issued ${summary.tokensIssuedByFake} tokens`,
  );
  if (found.length) {
    console.error(`api-fuzz: secrets or tokens in logs:\n  ${found.join("\n  ")}`);
  }
  if (code !== 0) console.error(`api-fuzz: schemathesis failed (exit ${code ?? signal}); output in ${path.relative(ROOT, transcript)}`);
  exitCode = code === 0 && found.length === 0 ? 0 : 1;
} finally {
  await stack.stop();
  fs.rmSync(work, { recursive: true, force: true });
}
process.exit(exitCode);
