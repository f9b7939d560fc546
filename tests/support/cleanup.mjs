// Clean-ups that run when the Node process exits, and temporary directories removed then.
// Shared by the integration-test harness (tests/integration/harness.mjs) and the benchmarks
// (bench/lib.mjs), so that a run that forgets to stop something leaves no child process or
// temporary directory behind.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

// Synchronous only: the "exit" event cannot wait for anything.
const exitCleanups = new Set();
process.on("exit", () => {
  for (const fn of exitCleanups) {
    try {
      fn();
    } catch {
      // best effort
    }
  }
});

/**
 * Run `fn` (synchronous) when the process exits; answers a function that cancels it, for
 * resources stopped earlier on purpose.
 * @param {() => void} fn
 * @returns {() => void}
 */
export function atExit(fn) {
  exitCleanups.add(fn);
  return () => exitCleanups.delete(fn);
}

/**
 * Create a fresh temporary directory (e.g. for Miniflare's persisted state). Removed at process
 * exit unless IMS_KEEP_TMP=1 (to look at it after a failed run).
 * @param {string} [prefix]
 * @returns {string} absolute path
 */
export function tempDir(prefix = "ims-broker-test-") {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  if (process.env.IMS_KEEP_TMP !== "1") atExit(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}
