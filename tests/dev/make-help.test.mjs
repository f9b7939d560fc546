// `make help` (the default goal) lists every target a user can run, from the root Makefile and
// from mk/*.mk, so that none is found only by reading the makefiles.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";

import { ROOT } from "../support/wrangler-dev.mjs";

test("make help names every target of the Makefile and of mk/*.mk", () => {
  const files = ["Makefile", ...fs.readdirSync(path.join(ROOT, "mk")).filter((f) => f.endsWith(".mk")).map((f) => path.join("mk", f))];
  const targets = new Set();
  for (const file of files) {
    for (const line of fs.readFileSync(path.join(ROOT, file), "utf8").split("\n")) {
      // Rules named by a plain word (not .PHONY, not a file path or a variable).
      const m = line.match(/^([a-z][a-z0-9-]*):(?!=)/);
      if (m) targets.add(m[1]);
    }
  }
  assert.ok(targets.size >= 20, `targets found: ${[...targets].join(", ")}`);
  const help = spawnSync("make", ["--no-print-directory", "-C", ROOT], { encoding: "utf8" });
  assert.equal(help.status, 0, help.stderr);
  const listed = new Set([...help.stdout.matchAll(/^\s+make ([a-z][a-z0-9-]*)/gm)].map((m) => m[1]));
  const missing = [...targets].filter((t) => t !== "help" && !listed.has(t));
  assert.deepEqual(missing, [], `targets missing from make help:\n${help.stdout}`);
});
