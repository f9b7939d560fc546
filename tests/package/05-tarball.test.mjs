// What the packed tarball ships besides code: the license, the metadata a registry page shows,
// and a README whose install and publish lines name this very tarball.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

import { REPO_ROOT, installPackage, tarball } from "./support.mjs";

const REPO_URL = "https://github.com/ims-broker/ims-broker";
const installed = () => path.join(installPackage(), "node_modules", "ims-broker-core");
const manifest = () => JSON.parse(fs.readFileSync(path.join(installed(), "package.json"), "utf8"));

test("the tarball ships the repository's LICENSE, the license package.json and Cargo.toml declare", () => {
  const files = execFileSync("tar", ["-tzf", tarball()], { encoding: "utf8" }).split("\n");
  assert.ok(files.includes("package/LICENSE"), files.join(" "));
  const shipped = fs.readFileSync(path.join(installed(), "LICENSE"), "utf8");
  assert.equal(shipped, fs.readFileSync(path.join(REPO_ROOT, "LICENSE"), "utf8"));
  assert.match(shipped, /^\s*Apache License\s+Version 2\.0, January 2004/);
  assert.match(shipped, /END OF TERMS AND CONDITIONS/);
  assert.equal(manifest().license, "Apache-2.0");
  assert.match(fs.readFileSync(path.join(REPO_ROOT, "Cargo.toml"), "utf8"), /^license = "Apache-2.0"$/m);
});

test("repository, homepage and bugs point at the project", () => {
  const m = manifest();
  assert.deepEqual(m.repository, { type: "git", url: `git+${REPO_URL}.git`, directory: "packages/ims-broker-core" });
  assert.equal(m.homepage, `${REPO_URL}/tree/main/packages/ims-broker-core#readme`);
  assert.deepEqual(m.bugs, { url: `${REPO_URL}/issues` });
});

test("the README's install and publish lines name this tarball", () => {
  const { version } = manifest();
  const readme = fs.readFileSync(path.join(installed(), "README.md"), "utf8");
  const rel = `./dist/ims-broker-core-${version}.tgz`;
  assert.equal(path.resolve(REPO_ROOT, rel), tarball(), "the path is the tarball `make package` wrote");
  assert.ok(readme.includes(`npm install ${rel}`), `README: npm install ${rel}`);
  assert.ok(readme.includes(`npm publish ${rel}`), `README: npm publish ${rel}`);
  // Every tarball path the README mentions carries the current version.
  for (const m of readme.matchAll(/ims-broker-core-([\w.<>-]+)\.tgz/g)) assert.ok(m[1] === version || m[1] === "<version>", m[0]);
});
