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
