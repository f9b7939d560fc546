// Shared helpers of the ims-broker-core package tests (tests/package/*.test.mjs).
//
// The tests never import the package from the source tree: `installPackage()` installs the
// packed tarball (dist/ims-broker-core-*.tgz, from `make package`) into an empty temporary
// folder with plain `npm install`, exactly as a user would, and `importPackage()` loads it
// from there through the package's "exports" (condition "node").
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export { startFakeAdobe, waitFor } from "../integration/harness.mjs";

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, "..", "..");
export const DIST = path.join(REPO_ROOT, "dist");
/** Binaries of the test-only tools (deno, bun), installed from npm by mk/package.mk. */
export const TOOLS_BIN = path.join(HERE, "node_modules", ".bin");

/** The tarball `make package` wrote. */
export function tarball() {
  const files = fs.existsSync(DIST) ? fs.readdirSync(DIST).filter((f) => /^ims-broker-core-.*\.tgz$/.test(f)) : [];
  if (files.length !== 1) {
    throw new Error(`expected exactly one dist/ims-broker-core-*.tgz (run \`make package\`), found ${JSON.stringify(files)}`);
  }
  return path.join(DIST, files[0]);
}

let installed;

/** Installs the tarball into a fresh empty folder (once per process); returns the folder. */
export function installPackage() {
  if (installed) return installed;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ims-broker-core-pkg-"));
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", tarball()], { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
  fs.writeFileSync(path.join(dir, "entry.mjs"), 'export * from "ims-broker-core";\n');
  process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  installed = dir;
  return dir;
}

/** The installed package's module namespace, resolved from the consumer folder. */
export async function importPackage() {
  const dir = installPackage();
  return import(pathToFileURL(path.join(dir, "entry.mjs")).href);
}

/** Runs `fn` and returns the error it throws or rejects with (fails if none). */
export async function rejection(fn) {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error("expected an error");
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
