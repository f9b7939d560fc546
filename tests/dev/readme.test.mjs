// The README's contents list names every section, in order, with the anchor GitHub gives it.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";

import { ROOT } from "../support/wrangler-dev.mjs";

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes. */
const anchor = (heading) =>
  heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");

test("README's contents list every section, in order, with working anchors", () => {
  const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
  // Level-2 headings outside fenced code blocks.
  let fenced = false;
  const sections = [];
  for (const line of readme.split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    else if (!fenced && line.startsWith("## ") && line !== "## Contents") sections.push(line.slice(3).trim());
  }
  const contents = readme.split("## Contents")[1].split("\n## ")[0];
  const listed = [...contents.matchAll(/^- \[[^\]]+\]\(#([^)]+)\)/gm)].map((m) => m[1]);
  assert.deepEqual(listed, sections.map(anchor));
});

test("no tracked file refers to a work item by number: comments and docs say what and why", async () => {
  const { execFileSync } = await import("node:child_process");
  const files = execFileSync("git", ["ls-files"], { cwd: ROOT, encoding: "utf8" })
    .split("\n")
    .filter((f) => f && !/(^|\/)(package-lock\.json|Cargo\.lock|requirements\.txt)$/.test(f) && !/\.(wasm|png|tgz)$/.test(f));
  // Built from parts so that this file does not match itself.
  const numbered = new RegExp("\\biss" + "ue[ #-]*[0-9]+", "i");
  const found = [];
  for (const f of files) {
    const p = path.join(ROOT, f);
    if (!fs.existsSync(p) || fs.statSync(p).isDirectory()) continue;
    fs.readFileSync(p, "utf8")
      .split("\n")
      .forEach((line, i) => {
        if (numbered.test(line)) found.push(`${f}:${i + 1}: ${line.trim().slice(0, 120)}`);
      });
  }
  assert.deepEqual(found, []);
});
