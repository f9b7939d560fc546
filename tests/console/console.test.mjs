// The operator console (www/) in a real headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core; never a downloaded browser) against the Worker under `wrangler dev` with the
// fake Adobe (see server.mjs). Run: `make console-test` (installs chromium when missing), or
//   IMS_REPO_ROOT=$PWD . scripts/env.sh && scripts/build-worker.sh && cargo build -p fake-adobe \
//     && node --test tests/console/
// Screenshots go to tests/artifacts/screenshots/ (git-ignored).
//
// Checks:
//  - `/` and its assets (Workers static assets of www/, wrangler.toml [assets]) come with the CSP,
//    X-Content-Type-Options, Referrer-Policy, X-Frame-Options and Cache-Control of www/_headers,
//    and www/ has no inline script/style that the CSP would block; the API refuses a foreign Origin;
//  - sign-in with the admin key (keyboard only): the key is in sessionStorage, not in the URL,
//    not in a cookie, not in the page;
//  - a token requested from Node with a caller key shows up as a token entry (scope, a bar that
//    counts down), and no token value is anywhere in the page;
//  - the rotate button first asks, in a dialog naming the credential, saying that a secret is
//    created at Adobe and the previous one deleted; Cancel or Escape sends nothing;
//  - once confirmed, the rotate button runs a rotation to "done", drawing its steps, and the secrets list then
//    shows the new active secret; events and the counters chart show up;
//  - the admin's session says "admin" and has no read-only notice; once the secrets were listed
//    (which mints the broker's token for the I/O Management API), that token's entry is marked as
//    the broker's own ("use": "broker"), the callers' entries are not;
//  - a viewer key ("role": "viewer") signs in and sees the credentials, the token entries (the
//    broker's own marked), the secrets, the rotation and the events, with a read-only notice and
//    no rotate button (the broker refuses it a rotation anyway);
//  - the chart names the isolate that counted (GET /v1/metrics `isolate`), and a switch to another
//    isolate (each counts from its own start) is no spike and no drop;
//  - the chart's samples of the last hour survive a reload of the tab (sessionStorage, only
//    times, counters and isolate ids; older ones dropped; removed on sign-out);
//  - a "store_key" event (the STORE_KEY re-seal sweep, no credential) is drawn with a "store key"
//    badge as "broker-wide", and the credential filter offers and applies "Broker-wide";
//  - the "Trusted issuers" panel (GET /v1/identity) lists the configured issuer (issuer URL,
//    audience, algorithms, max_ttl_s, keys by discovery) and the federated caller with its bound
//    claims (claim: alternatives), credentials, scopes and role; with no issuer it says so;
//  - sign-out, then a plain caller key is refused in words (the console needs an admin or viewer
//    key) and an unknown key too ("Unknown key"), and neither is kept;
//  - light/dark and a 375 px viewport: screenshots, and no horizontal scrolling;
//  - throughout: no page error, no CSP violation, no console error other than the browser's
//    own "Failed to load resource" line for the API answers the scenario expects (404
//    no_rotation before the first rotation, 401/403 for the refused keys).

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";

import { chromium } from "playwright-core";

import { ARTIFACTS, FEDERATED_CALLER, ROOT, TRUSTED_ISSUERS, startStack } from "./server.mjs";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
const SHOTS = path.join(ARTIFACTS, "screenshots");
const EXPECTED_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

let stack;
let browser;
let context; // the main, light, desktop context
let page;
const problems = []; // console errors, page errors, CSP violations (all pages)
const timings = {};
let tokenValue;
let tokenScope;

/**
 * Watches a page for anything the console must never cause. `allowed(msg)` may excuse the
 * browser's own "Failed to load resource" lines for answers the scenario expects.
 */
function watch(p, label) {
  p.on("pageerror", (err) => problems.push(`${label}: page error: ${err.message}`));
  p.on("console", (msg) => {
    const text = msg.text();
    const url = msg.location()?.url ?? "";
    if (/Content[- ]Security[- ]Policy|Refused to/i.test(text)) {
      problems.push(`${label}: CSP: ${text}`);
      return;
    }
    if (msg.type() !== "error" && msg.type() !== "warning") return;
    const load = text.match(/Failed to load resource: the server responded with a status of (\d+)/);
    if (load) {
      const status = Number(load[1]);
      if (status === 404 && /\/v1\/credentials\/[^/]+\/rotation$/.test(url)) return; // no_rotation
      if ((status === 401 || status === 403) && /\/v1\/credentials$/.test(url) && p.expectRefusal) return;
    }
    problems.push(`${label}: console ${msg.type()}: ${text} (${url})`);
  });
}

async function newPage(ctx, label) {
  const p = await ctx.newPage();
  watch(p, label);
  return p;
}

/** Records CSP violations the page itself sees (in addition to the console lines). */
async function cspRecorder(ctx) {
  await ctx.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) => {
      window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`);
    });
  });
}

async function assertNoCspViolations(p, label) {
  const v = await p.evaluate(() => window.__cspViolations ?? []);
  assert.deepEqual(v, [], `${label}: CSP violations: ${v.join("; ")}`);
}

async function signIn(p, key) {
  await p.goto(stack.base + "/");
  const input = p.getByLabel("Caller key");
  await input.waitFor();
  await input.fill(key);
  await p.getByRole("button", { name: "Sign in" }).click();
}

async function shot(p, name) {
  const file = path.join(SHOTS, name);
  await p.screenshot({ path: file, fullPage: true });
  return file;
}

/** How long the fake takes to answer a token request while the rotation runs. */
const ROTATION_TEST_DELAY_MS = 2_500;

/** Changes the fake Adobe's behaviour (its control API). */
async function fakeConfig(config) {
  const res = await fetch(`${stack.fakeUrl}/__fake/config`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(config),
  });
  assert.equal(res.status, 200, `fake config: ${await res.text()}`);
}

/** Asks the broker for a token, as a service would. */
async function requestToken(key, scopes) {
  const res = await fetch(`${stack.base}/v1/token`, {
    method: "POST",
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: JSON.stringify({ scopes }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, `POST /v1/token: ${JSON.stringify(body)}`);
  return body;
}

before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/ensure-chromium.sh (make console-test does)`);
  let t = Date.now();
  stack = await startStack();
  timings.stackMs = Date.now() - t;
  t = Date.now();
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  timings.browserMs = Date.now() - t;
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: "light" });
  await cspRecorder(context);
  page = await newPage(context, "main");
});

after(async () => {
  await browser?.close();
  await stack?.stop();
  if (process.env.CONSOLE_TEST_TIMINGS !== "0") {
    console.log(`# console test timings: ${JSON.stringify({ ...timings, ...stack?.timings })}`);
  }
});

describe("operator console", () => {
  test("/ is served with a strict CSP and security headers; www/ has nothing inline", async () => {
    const res = await fetch(`${stack.base}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^text\/html/);
    assert.equal(res.headers.get("content-security-policy"), EXPECTED_CSP);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.equal(res.headers.get("referrer-policy"), "no-referrer");
    assert.equal(res.headers.get("x-frame-options"), "DENY");
    assert.equal(res.headers.get("cache-control"), "no-cache");
    const html = await res.text();
    assert.equal(html, fs.readFileSync(path.join(ROOT, "www", "index.html"), "utf8"), "/ is www/index.html as is (a static asset)");
    // The modules of the console: app.js, the entry, and every module it imports (www/*.js).
    const modules = fs.readdirSync(path.join(ROOT, "www")).filter((f) => f.endsWith(".js"));
    assert.ok(modules.includes("app.js") && modules.length > 1, `modules: ${modules}`);
    for (const [asset, type] of [
      ...modules.map((f) => [`/${f}`, /^text\/javascript/]),
      ["/app.css", /^text\/css/],
    ]) {
      const r = await fetch(`${stack.base}${asset}`);
      assert.equal(r.status, 200, asset);
      assert.match(r.headers.get("content-type"), type, asset);
      assert.equal(r.headers.get("x-content-type-options"), "nosniff", asset);
      assert.equal(r.headers.get("content-security-policy"), EXPECTED_CSP, asset);
      assert.equal(await r.text(), fs.readFileSync(path.join(ROOT, "www", asset.slice(1)), "utf8"), `${asset} as in www/`);
    }
    // Nothing the CSP would refuse, nothing from elsewhere.
    const scripts = [...html.matchAll(/<script\b[^>]*>/gi)].map((m) => m[0]);
    assert.deepEqual(scripts, ['<script type="module" src="/app.js">'], "only the app.js module, loaded natively");
    assert.doesNotMatch(html, /<script\b[^>]*>[^<\s]/i, "no inline script");
    assert.doesNotMatch(html, /\sstyle\s*=|<style\b/i, "no inline style");
    assert.doesNotMatch(html, /\son[a-z]+\s*=/i, "no inline event handler");
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//i, "nothing from another origin");
    for (const file of modules) {
      const js = fs.readFileSync(path.join(ROOT, "www", file), "utf8");
      assert.doesNotMatch(js, /\.innerHTML\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function\(/, `no HTML strings or eval in ${file}`);
      assert.doesNotMatch(js, /setAttribute\(\s*["']style["']/, `no style attributes from ${file}`);
      assert.doesNotMatch(js, /fetch\(\s*["'`]https?:/, `${file} only fetches its own origin`);
      // Modules import each other by same-origin relative paths only (script-src 'self').
      for (const [, spec] of js.matchAll(/^import\b[^"']*["']([^"']+)["']/gm)) {
        assert.match(spec, /^\.\/[a-z-]+\.js$/, `${file} imports ${spec}`);
        assert.ok(modules.includes(spec.slice(2)), `${file} imports ${spec}, a file of www/`);
      }
    }
  });

  test("the API refuses a foreign Origin and accepts the console's own", async () => {
    const headers = { Authorization: `Bearer ${stack.adminKey}` };
    const foreign = await fetch(`${stack.base}/v1/credentials`, { headers: { ...headers, Origin: "https://evil.example" } });
    assert.equal(foreign.status, 403);
    assert.equal((await foreign.json()).error, "cross_origin_forbidden");
    const own = await fetch(`${stack.base}/v1/credentials`, { headers: { ...headers, Origin: stack.base } });
    assert.equal(own.status, 200);
  });

  test("sign in with the admin key, by keyboard; the key stays in sessionStorage only", async () => {
    await page.goto(stack.base + "/");
    const input = page.getByLabel("Caller key");
    await input.waitFor();
    // The key field has the focus on arrival; type and press Enter.
    assert.equal(await page.evaluate(() => document.activeElement?.id), "key-input");
    await page.keyboard.type(stack.adminKey);
    await page.keyboard.press("Enter");
    await page.locator('article.card[data-credential="default"]').waitFor();
    await page.getByRole("heading", { name: "Credentials", exact: true }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem("ims-broker.console.admin-key")), stack.adminKey);
    assert.ok(!page.url().includes(stack.adminKey), "key not in the URL");
    assert.deepEqual(await context.cookies(), [], "no cookie");
    assert.ok(!(await page.content()).includes(stack.adminKey), "key not in the page");
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    // The header says who is signed in, as what; an admin gets no read-only notice.
    assert.match(await page.locator("#session-state").textContent(), /Signed in as console-admin\s*admin/);
    assert.equal(await page.locator("#role-notice").isVisible(), false, "no read-only notice for an admin");
    // A reload keeps the session (same tab), without asking again.
    await page.reload();
    await page.locator('article.card[data-credential="default"]').waitFor();
    assert.equal(await page.locator("#signin").isVisible(), false);
    // Secret management is on for "default": its secrets are listed, one active, and the admin
    // has the rotate button.
    await page.locator('article.card[data-credential="default"] tr.secret-active').waitFor();
    await page.locator('article.card[data-credential="default"]').getByRole("button", { name: /Rotate secret|Resume rotation/ }).waitFor();
    // Focus is visible: Shift+Tab from the main area reaches "Sign out" with an outline.
    await page.evaluate(() => document.getElementById("refresh").focus());
    await page.keyboard.press("Shift+Tab");
    const focused = await page.evaluate(() => {
      const el = document.activeElement;
      const cs = getComputedStyle(el);
      return { id: el.id, tag: el.tagName, outline: cs.outlineStyle, width: cs.outlineWidth };
    });
    assert.equal(focused.tag, "BUTTON");
    assert.notEqual(focused.outline, "none", `focus outline on ${focused.id}`);
  });

  test("a token requested by a service appears as an entry with a live countdown, never its value", async () => {
    const card = page.locator('article.card[data-credential="default"]');
    const t = Date.now();
    const token = await requestToken(stack.userKey, ["openid"]);
    tokenValue = token.access_token;
    tokenScope = token.scope;
    assert.ok(tokenValue && tokenScope);
    await page.getByRole("button", { name: "Refresh now" }).click();
    const entry = card.locator(`li.token[data-scope="${tokenScope}"]`);
    await entry.waitFor({ timeout: 15_000 });
    timings.tokenEntryVisibleMs = Date.now() - t;
    // Scope shown, a bar, times.
    for (const name of tokenScope.split(",")) {
      assert.ok(await entry.locator("ul.scopes code", { hasText: name }).count(), `scope ${name} shown`);
    }
    const bar = entry.getByRole("progressbar");
    await bar.waitFor();
    const first = Number(await bar.getAttribute("aria-valuenow"));
    const max = Number(await bar.getAttribute("aria-valuemax"));
    assert.ok(first > 0 && first <= max, `time left ${first} of ${max}`);
    const width1 = await entry.locator(".bar-fill").evaluate((el) => el.getBoundingClientRect().width);
    assert.ok(width1 > 0, "the bar is drawn");
    assert.match(await entry.locator(".bar-label").textContent(), /left$/);
    assert.match(await entry.textContent(), /Refreshed/);
    // Counts down on its own, second by second.
    await page.waitForTimeout(2_200);
    const second = Number(await bar.getAttribute("aria-valuenow"));
    assert.ok(second < first && first - second <= 4, `counts down: ${first} -> ${second}`);
    // The entry's last hit is known (this isolate answered the token request).
    assert.match(await entry.textContent(), /Last hit/);
    // No token value anywhere in the page, nor the keys.
    const html = await page.content();
    assert.ok(!html.includes(tokenValue), "no token value in the page");
    assert.ok(!html.includes(stack.userKey), "no caller key in the page");
    const storage = await page.evaluate(() => JSON.stringify({ ...sessionStorage, ...localStorage }));
    assert.ok(!storage.includes(tokenValue), "no token value in storage");
    // The refresh shows up as an event, with its scope.
    await page.locator('#events tr.event[data-kind="refresh"]').first().waitFor({ timeout: 15_000 });
    await shot(page, "overview-light-desktop.png");
  });

  test("rotate asks first, naming the credential and what happens at Adobe; cancelling sends nothing", async () => {
    const card = page.locator('article.card[data-credential="default"]');
    const posts = [];
    const onRequest = (req) => {
      if (req.method() === "POST" && /\/secrets\/rotate$/.test(req.url())) posts.push(req.url());
    };
    page.on("request", onRequest);
    try {
      const button = card.getByRole("button", { name: /Rotate secret|Resume rotation/ });
      const rotationBefore = await card.locator(".rotation").textContent();
      const dialog = page.getByRole("dialog");
      // Cancel with the button: the dialog names the credential and says what rotating does.
      await button.click();
      await dialog.waitFor();
      assert.match(await dialog.getAttribute("aria-labelledby"), /\S/);
      assert.equal((await dialog.locator("h2").textContent()).trim(), "Rotate the secret of default?");
      const text = await dialog.locator("p").textContent();
      assert.match(text, /creates a new client secret for credential default at Adobe/);
      assert.match(text, /deletes the previous secret at Adobe/);
      assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Cancel", "the focus starts on Cancel");
      await shot(page, "rotate-confirm.png");
      await dialog.getByRole("button", { name: "Cancel" }).click();
      await dialog.waitFor({ state: "hidden" });
      assert.ok(await page.evaluate(() => document.activeElement?.classList.contains("rotate")), "the focus is back on the rotate button");
      // Cancel with Escape.
      await page.keyboard.press("Enter");
      await dialog.waitFor();
      await page.keyboard.press("Escape");
      await dialog.waitFor({ state: "hidden" });
      // Nothing was sent, and nothing started.
      await page.waitForTimeout(500);
      assert.deepEqual(posts, [], "no POST …/secrets/rotate after a cancel");
      assert.equal(await card.locator(".rotation").textContent(), rotationBefore, "the rotation shown is unchanged");
      assert.equal(await button.getAttribute("aria-busy"), null);
    } finally {
      page.off("request", onRequest);
    }
  });

  test("the rotate button runs a rotation to done, showing its steps", async () => {
    const card = page.locator('article.card[data-credential="default"]');
    const before = await card.locator("tr.secret").evaluateAll((rows) => rows.map((r) => r.dataset.uuid));
    assert.ok(before.length >= 1, "a secret is listed before rotating");
    // Record every (step, state) the page draws while it runs.
    await page.evaluate(() => {
      window.__stepsSeen = [];
      const root = document.querySelector('article.card[data-credential="default"] .rotation');
      const note = () => {
        const box = root.querySelector(".rotation-box");
        if (!box) return;
        const states = [...box.querySelectorAll("li.step")].map((li) => `${li.dataset.step}:${li.dataset.state}`).join(" ");
        const last = window.__stepsSeen[window.__stepsSeen.length - 1];
        if (states !== last) window.__stepsSeen.push(states);
      };
      new MutationObserver(note).observe(root, { childList: true, subtree: true });
    });
    // Slow the fake's token answers down, so the "test" step (a token minted with the new
    // secret) takes a few seconds and the steps can be seen advancing.
    await fakeConfig({ delay_ms: ROTATION_TEST_DELAY_MS });
    const t = Date.now();
    const button = card.getByRole("button", { name: /Rotate secret|Resume rotation/ });
    // By keyboard: focus the button, press Enter, confirm (Tab from Cancel to "Rotate secret",
    // Enter); the focus is back on the rotate button and stays on it throughout.
    await button.focus();
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog", { name: "Rotate the secret of default?" });
    await dialog.waitFor();
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Rotate secret");
    await page.keyboard.press("Enter");
    await dialog.waitFor({ state: "hidden" });
    const done = card.locator('.rotation-box[data-step="done"][data-in-progress="false"]');
    await done.waitFor({ timeout: 90_000 });
    timings.rotationMs = Date.now() - t;
    await fakeConfig({ delay_ms: 0 });
    assert.ok(
      await page.evaluate(() => document.activeElement?.classList.contains("rotate")),
      "the keyboard focus is still on the rotate button",
    );
    const steps = await done.locator("li.step").evaluateAll((lis) => lis.map((li) => [li.dataset.step, li.dataset.state]));
    assert.deepEqual(steps, [
      ["create", "done"],
      ["test", "done"],
      ["promote", "done"],
      ["retire", "done"],
      ["done", "done"],
    ]);
    assert.match(await done.locator(".rotation-status").textContent(), /Finished/);
    assert.equal(await done.locator(".notice-error").count(), 0, "no error shown");
    // The rotation's log lists what it did.
    await done.locator("details.rotation-log summary").click();
    assert.ok((await done.locator("details.rotation-log li").count()) >= 3, "rotation log entries");
    // The button is usable again, and the secrets list shows a new active secret.
    await card.getByRole("button", { name: "Rotate secret" }).waitFor();
    assert.equal(await card.getByRole("button", { name: "Rotate secret" }).getAttribute("aria-disabled"), null);
    await page.waitForFunction(
      (old) => {
        const row = document.querySelector('article.card[data-credential="default"] tr.secret-active');
        return row && !old.includes(row.dataset.uuid);
      },
      before,
      { timeout: 15_000 },
    );
    const after = await card.locator("tr.secret").evaluateAll((rows) => rows.map((r) => r.dataset.uuid));
    for (const uuid of before) assert.ok(!after.includes(uuid), `old secret ${uuid} retired (grace 0)`);
    const seen = await page.evaluate(() => window.__stepsSeen);
    timings.rotationStepsSeen = seen.length;
    assert.ok(seen.length >= 1 && seen[seen.length - 1].endsWith("done:done"), `steps drawn: ${seen.join(" | ")}`);
    // While the slow step ran, the page showed it as the current one, the earlier ones done.
    assert.ok(
      seen.some((states) => states.startsWith("create:done test:current")),
      `the "test" step was shown in progress: ${seen.join(" | ")}`,
    );
    // Rotation events and the counters.
    await page.getByRole("button", { name: "Refresh now" }).click();
    await page.locator('#events tr.event[data-kind="rotation"]').first().waitFor({ timeout: 15_000 });
    await page.locator("#chart svg .series.dot").first().waitFor({ state: "attached", timeout: 15_000 });
    assert.match(await page.locator("#chart .legend").textContent(), /Requests: \d+ this minute/);
    // Near the chart: the isolate whose counters these are (the one GET /v1/metrics names).
    const { isolate } = await (await fetch(`${stack.base}/v1/metrics`, { headers: { Authorization: `Bearer ${stack.adminKey}` } })).json();
    assert.ok(typeof isolate === "string" && isolate, "GET /v1/metrics names its isolate");
    assert.equal(await page.locator("#chart .chart-isolate").getAttribute("data-isolate"), isolate);
    assert.equal(await page.locator("#chart .chart-isolate code.isolate-id").textContent(), isolate);
    assert.match(await page.locator("#counters").textContent(), /Requests by route and status/);
    await card.scrollIntoViewIfNeeded();
    await shot(page, "rotation-done.png");
    await assertNoCspViolations(page, "main");
  });

  test("the broker's own token (secret management) is marked as such, the callers' are not", async () => {
    // The secrets lists above minted the broker's token for the I/O Management API: the API
    // lists it next to the callers' entries, as "use": "broker".
    const res = await fetch(`${stack.base}/v1/credentials/default/tokens`, { headers: { Authorization: `Bearer ${stack.adminKey}` } });
    assert.equal(res.status, 200);
    const uses = (await res.json()).entries.map((e) => e.use);
    assert.ok(uses.includes("broker") && uses.includes("callers"), `entries' use: ${uses}`);
    const card = page.locator('article.card[data-credential="default"]');
    await page.getByRole("button", { name: "Refresh now" }).click();
    const own = card.locator('li.token[data-use="broker"]');
    await own.first().waitFor({ timeout: 15_000 });
    assert.equal(await own.count(), uses.filter((u) => u === "broker").length, "every broker entry drawn as the broker's own");
    assert.match(await own.first().locator(".token-owner").textContent(), /broker's own: secret management/);
    assert.match(await own.first().getByRole("progressbar").getAttribute("aria-label"), /the broker's own token/);
    // The caller's entry is an ordinary one.
    const callers = card.locator(`li.token[data-use="callers"][data-scope="${tokenScope}"]`);
    await callers.waitFor();
    assert.equal(await callers.locator(".token-owner").count(), 0);
    assert.doesNotMatch(await callers.textContent(), /broker's own/);
    // The callers' entries first, the broker's own after them.
    const order = await card.locator("li.token").evaluateAll((lis) => lis.map((li) => li.dataset.use));
    assert.deepEqual(order, [...order.filter((u) => u === "callers"), ...order.filter((u) => u === "broker")]);
    await shot(page, "token-broker-own.png");
  });

  test("a viewer key sees everything, read-only: a notice, no rotate button", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: "light" });
    await cspRecorder(ctx);
    const p = await newPage(ctx, "viewer");
    await signIn(p, stack.viewerKey);
    const card = p.locator('article.card[data-credential="default"]');
    await card.waitFor();
    assert.equal(await p.evaluate(() => sessionStorage.getItem("ims-broker.console.admin-key")), stack.viewerKey);
    // Says so: in the header, and in a status notice above the data.
    const readOnly = p.getByRole("status").filter({ hasText: "Read-only session (viewer key)" });
    await readOnly.waitFor();
    assert.match(await readOnly.textContent(), /rotating a secret needs an admin key/);
    assert.match(await p.locator("#session-state").textContent(), /Signed in as console-viewer\s*viewer: read-only/);
    // Sees the token entries (the caller's, and the broker's own marked), the secrets, the
    // finished rotation, the events and the counters.
    await card.locator(`li.token[data-use="callers"][data-scope="${tokenScope}"]`).waitFor();
    await card.locator('li.token[data-use="broker"] .token-owner').first().waitFor();
    await card.locator("tr.secret-active").waitFor();
    await card.locator('.rotation-box[data-step="done"][data-in-progress="false"]').waitFor();
    await p.locator('#events tr.event[data-kind="rotation"]').first().waitFor({ timeout: 15_000 });
    await p.locator('#events tr.event[data-kind="refresh"]').first().waitFor();
    assert.match(await p.locator("#counters").textContent(), /Requests by route and status/);
    // No rotate button, nor any other that changes something: only "Refresh now" and "Sign out".
    assert.equal(await p.getByRole("button", { name: /Rotate|Resume/ }).count(), 0, "no rotate button");
    const buttons = await p.locator("button:visible").allTextContents();
    assert.deepEqual(buttons.map((t) => t.trim()).sort(), ["Refresh now", "Sign out"]);
    assert.match(await card.locator(".rotate-row").textContent(), /needs an admin key; this session is read-only/);
    // Refreshing keeps it so.
    await p.getByRole("button", { name: "Refresh now" }).click();
    await card.locator("tr.secret-active").waitFor();
    assert.equal(await p.getByRole("button", { name: /Rotate|Resume/ }).count(), 0, "still no rotate button");
    assert.ok(!(await p.content()).includes(stack.viewerKey), "key not in the page");
    assert.ok(!(await p.content()).includes(tokenValue), "no token value in the page");
    // The button is not hidden for looks only: the broker refuses a viewer's rotation.
    const rotate = await fetch(`${stack.base}/v1/credentials/default/secrets/rotate`, {
      method: "POST",
      headers: { Authorization: `Bearer ${stack.viewerKey}` },
    });
    assert.equal(rotate.status, 403);
    assert.equal((await rotate.json()).error, "forbidden");
    await shot(p, "overview-viewer.png");
    await assertNoCspViolations(p, "viewer");
    await ctx.close();
  });

  test("a store_key event (no credential) has its badge, and the credential filter takes it", async () => {
    const p = await newPage(context, "store-key");
    const detail = "sweep: 2 sealed again under STORE_KEY, 0 still need STORE_KEY_PREVIOUS";
    // The store-key sweep runs from the Cron Trigger only, with STORE_KEY_PREVIOUS set: add one of
    // its events (as /v1/metrics lists them) to the broker's real answers.
    await p.route("**/v1/metrics", async (route) => {
      const res = await route.fetch();
      const body = await res.json();
      body.events = [{ at_ms: Date.now(), kind: "store_key", credential: "", detail }, ...(body.events ?? [])];
      await route.fulfill({ response: res, json: body });
    });
    await signIn(p, stack.adminKey);
    const row = p.locator('#events tr.event[data-kind="store_key"]');
    await row.waitFor();
    assert.equal((await row.locator(".badge").textContent()).trim(), "store key");
    assert.equal((await row.locator('td[data-label="Credential"]').textContent()).trim(), "broker-wide");
    assert.equal((await row.locator('td[data-label="What"]').textContent()).trim(), detail);
    // The filter: all, the credential, and broker-wide events; no blank choice.
    const filter = p.getByLabel("Show events of");
    const labels = await filter.locator("option").allTextContents();
    assert.deepEqual(labels, ["All credentials", "default", "Broker-wide (no credential)"]);
    const kinds = () => p.locator("#events tr.event").evaluateAll((rows) => [...new Set(rows.map((r) => r.dataset.kind))].sort());
    await filter.selectOption({ label: "Broker-wide (no credential)" });
    await p.waitForFunction(() => [...document.querySelectorAll("#events tr.event")].every((r) => r.dataset.kind === "store_key"));
    assert.deepEqual(await kinds(), ["store_key"]);
    await filter.selectOption({ label: "default" });
    await p.waitForFunction(() => !document.querySelector('#events tr.event[data-kind="store_key"]'));
    assert.ok((await kinds()).includes("rotation"), "the credential's events");
    await filter.selectOption({ label: "All credentials" });
    await row.waitFor();
    assert.ok((await kinds()).includes("rotation"));
    await shot(p, "events-store-key.png");
    await assertNoCspViolations(p, "store-key");
    await p.close();
  });

  test("the Trusted issuers panel lists the issuer and each federated caller's bound claims", async () => {
    const p = await newPage(context, "identity");
    await signIn(p, stack.adminKey);
    const panel = p.locator("#identity");
    // The issuer: name, issuer URL, audience, algorithms, max_ttl_s, keys by discovery.
    const issuer = panel.locator('tr.issuer[data-issuer="github"]');
    await issuer.waitFor();
    const cell = async (row, label) => (await row.locator(`td[data-label="${label}"]`).textContent()).trim();
    assert.equal(await cell(issuer, "Issuer"), TRUSTED_ISSUERS.github.issuer);
    assert.equal(await cell(issuer, "Audiences"), "ims-broker");
    assert.equal(await cell(issuer, "Algorithms"), "RS256, ES256");
    assert.match(await cell(issuer, "Max lifetime"), /^3,600 s \(1 h 00 min\)$/);
    assert.match(await cell(issuer, "Keys"), /^discovery/);
    // The federated caller: its issuer, every bound claim with its alternatives, credentials,
    // scopes and role.
    const caller = panel.locator(`tr.federated[data-caller="${FEDERATED_CALLER.id}"]`);
    await caller.waitFor();
    assert.equal(await cell(caller, "Issuer"), "github");
    const claims = await caller.locator("li.claim").evaluateAll((lis) =>
      lis.map((li) => [li.dataset.claim, [...li.querySelectorAll("code.claim-value")].map((c) => c.textContent)]),
    );
    assert.deepEqual(claims, [
      ["ref", ["refs/heads/main", "refs/tags/v*"]],
      ["repository", ["acme/site"]],
    ]);
    assert.equal(await caller.locator('li.claim[data-claim="ref"]').textContent(), "ref: refs/heads/main or refs/tags/v*");
    assert.equal(await cell(caller, "Credentials"), "default");
    assert.deepEqual((await caller.locator('td[data-label="Scopes"] code').allTextContents()).sort(), ["AdobeID", "openid"]);
    assert.equal(await cell(caller, "Role"), "caller");
    // Key callers are not listed, and no key is anywhere in the page.
    assert.equal(await panel.locator("tr.federated").count(), 1, "only the federated caller");
    const html = await p.content();
    for (const key of [stack.adminKey, stack.userKey, stack.viewerKey]) assert.ok(!html.includes(key), "no caller key in the page");
    await panel.scrollIntoViewIfNeeded();
    await shot(p, "trusted-issuers.png");
    await assertNoCspViolations(p, "identity");
    await p.close();
  });

  test("the Trusted issuers panel says so when no issuer is configured", async () => {
    const p = await newPage(context, "identity-empty");
    // A broker without TRUSTED_ISSUERS answers empty lists.
    await p.route("**/v1/identity", (route) => route.fulfill({ status: 200, json: { issuers: [], callers: [] } }));
    await signIn(p, stack.adminKey);
    const empty = p.locator("#identity .notice-info");
    await empty.waitFor();
    assert.match(await empty.textContent(), /No trusted issuer is configured \(TRUSTED_ISSUERS is empty\)/);
    assert.equal(await p.locator("#identity table").count(), 0, "no table");
    await assertNoCspViolations(p, "identity-empty");
    await p.close();
  });

  test("the chart says which isolate counted, and computes no rate across a switch of isolate", async () => {
    const p = await newPage(context, "isolates");
    // GET /v1/metrics answers as if other isolates answered in turn, each counting from its own
    // start: a switch must not be read as a counter reset (a spike) nor as a drop.
    let answer = null;
    const metrics = (isolate, since, requests) => ({
      isolate,
      counters: { since_ms: since, requests: { "GET /v1/metrics 200": requests }, cache: {}, ims_calls: {}, rotations: {}, upstream_latency_buckets: [], upstream_latency_sum_ms: 0 },
      events: [],
    });
    await p.route("**/v1/metrics", (route) => route.fulfill({ status: 200, json: answer }));
    const t0 = Date.now() - 600_000;
    answer = metrics("iso-a", t0, 10);
    await signIn(p, stack.adminKey);
    const line = p.locator("#chart .chart-isolate");
    await line.waitFor();
    await p.locator("#updated").filter({ hasText: /^Updated/ }).waitFor();
    /** One more sample: "Refresh now", then wait until its refresh is over. */
    const sample = async (next) => {
      answer = next;
      await p.getByRole("button", { name: "Refresh now" }).click();
      await p.waitForFunction(() => !document.getElementById("refresh").hasAttribute("aria-disabled"));
    };
    assert.equal(await line.getAttribute("data-isolate"), "iso-a");
    assert.match(await line.textContent(), /^Counted by isolate iso-a since /);
    await sample(metrics("iso-a", t0, 20));
    await sample(metrics("iso-b", t0 + 1000, 5_000)); // another isolate, far more requests
    await sample(metrics("iso-b", t0 + 1000, 5_010));
    await sample(metrics("iso-c", t0 + 2000, 3)); // another one, fewer
    assert.equal(await line.getAttribute("data-isolate"), "iso-c");
    assert.match(await line.textContent(), /^Counted by isolate iso-c since .*this hour's samples come from 3 isolates/);
    assert.equal(await line.locator("code").textContent(), "iso-c");
    // 10 + 10 requests counted, nothing across the switches: the scale stays at most 20/min.
    const top = await p.locator("#chart .chart-y span").first().textContent();
    assert.ok(Number(top.replace(/\D/g, "")) <= 20, `chart scale ${top}: no spike across an isolate switch`);
    const ys = await p.locator('#chart svg .dot[data-series="requests"]').evaluateAll((dots) => dots.map((d) => Number(d.getAttribute("y1"))));
    assert.ok(ys.length >= 1 && ys.every((v) => v >= 0 && v <= 150), `no value below zero or off the chart: ${ys}`);
    await assertNoCspViolations(p, "isolates");
    await p.close();
  });

  test("the chart keeps the tab's last hour across reloads (counters, times, isolate ids only), with a gap at each isolate switch", async () => {
    const p = await newPage(context, "chart-storage");
    // This tab sampled earlier: five minutes of samples, three counted by one isolate and two by
    // another (far higher: it counted more since its start), and samples too old to keep.
    const minute = Math.floor(Date.now() / 60_000);
    const base = (minute - 6) * 60_000 + 5_000;
    const counts = (requests) => ({ requests, hits: 0, ims: 0, errors: 0 });
    const seeded = [
      { t: Date.now() - 2 * 3_600_000, isolate: "iso-old", since: 1, ...counts(1) },
      { t: Date.now() - 3_660_000, isolate: "iso-old", since: 1, ...counts(2) },
      ...Array.from({ length: 10 }, (_, k) =>
        k < 6
          ? { t: base + k * 30_000, isolate: "iso-a", since: base - 60_000, ...counts(10 * (k + 1)) }
          : { t: base + k * 30_000, isolate: "iso-b", since: base + 170_000, ...counts(1_000 + 10 * (k - 6)) },
      ),
    ];
    await p.goto(stack.base + "/");
    await p.evaluate((list) => sessionStorage.setItem("ims-broker.console.samples", JSON.stringify(list)), seeded);
    await signIn(p, stack.adminKey);
    await p.locator("#chart .chart-isolate").waitFor();
    /** The requests line: points per stretch of line. */
    const stretches = () =>
      p.locator('#chart svg polyline[data-series="requests"]').evaluateAll((lines) => lines.map((l) => l.getAttribute("points").split(" ").length));
    // iso-a's three minutes, a gap, iso-b's two; the broker's own isolate starts another stretch.
    await p.waitForFunction(() => document.querySelectorAll('#chart svg polyline[data-series="requests"]').length >= 2);
    assert.deepEqual((await stretches()).slice(0, 2), [3, 2], "a line per isolate, none across the switch");
    const top = await p.locator("#chart .chart-y span").first().textContent();
    assert.ok(Number(top.replace(/\D/g, "")) < 100, `chart scale ${top}: no spike at a switch`);
    // Storage: the hour's samples only, each only times, counters and an isolate id.
    const storedSamples = async () => JSON.parse(await p.evaluate(() => sessionStorage.getItem("ims-broker.console.samples")));
    let kept = await storedSamples();
    assert.ok(kept.length >= 11, `the seeded hour and the new sample are kept: ${kept.length}`);
    assert.ok(kept.every((smp) => smp.t >= Date.now() - 3_600_000), "samples older than an hour are dropped");
    assert.ok(!kept.some((smp) => smp.isolate === "iso-old"));
    for (const smp of kept) {
      assert.deepEqual(Object.keys(smp).sort(), ["errors", "hits", "ims", "isolate", "requests", "since", "t"]);
    }
    // The key is kept under its own name only; no token anywhere.
    const raw = await p.evaluate(() => sessionStorage.getItem("ims-broker.console.samples"));
    assert.ok(!raw.includes(stack.adminKey) && !raw.includes(tokenValue), "no key or token among the samples");
    assert.ok(!(await p.evaluate(() => JSON.stringify({ ...sessionStorage }))).includes(tokenValue), "no token in storage");
    // A reload keeps them, and adds its own.
    const before = kept.map((smp) => smp.t);
    await p.reload();
    await p.locator("#chart .chart-isolate").waitFor();
    await p.waitForFunction((n) => JSON.parse(sessionStorage.getItem("ims-broker.console.samples") ?? "[]").length > n, before.length);
    kept = await storedSamples();
    assert.deepEqual(kept.slice(0, before.length).map((smp) => smp.t), before, "the samples of before the reload");
    assert.deepEqual((await stretches()).slice(0, 2), [3, 2]);
    await p.locator("#chart").screenshot({ path: path.join(SHOTS, "chart-isolates.png") });
    await assertNoCspViolations(p, "chart-storage");
    await p.close();
  });

  test("sign-out, then a plain caller key is refused in words and an unknown key too", async () => {
    // Sign out with the keyboard.
    await page.getByRole("button", { name: "Sign out" }).focus();
    await page.keyboard.press("Enter");
    await page.getByLabel("Caller key").waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0, "sessionStorage emptied");
    assert.equal(await page.locator("#dashboard").isVisible(), false);
    page.expectRefusal = true;
    await page.getByLabel("Caller key").fill(stack.userKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    const alert = page.locator("#signin-message");
    await alert.filter({ hasText: /neither an admin nor a viewer key/ }).waitFor();
    const refusal = await alert.textContent();
    assert.match(refusal, /needs an admin key \(created with ADMIN=1\) or a read-only viewer key \("role": "viewer"/);
    assert.doesNotMatch(refusal, /not an admin key/);
    assert.equal(await alert.getAttribute("role"), "alert");
    assert.equal(await page.evaluate(() => sessionStorage.length), 0, "a refused key is not kept");
    assert.equal(await page.locator("#dashboard").isVisible(), false);
    await shot(page, "refusal-plain-key.png");
    // A key the broker does not know.
    await page.getByLabel("Caller key").fill("ibk_not-a-key-the-broker-knows");
    await page.getByRole("button", { name: "Sign in" }).click();
    await alert.filter({ hasText: /Unknown key/ }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    await shot(page, "refusal-unknown-key.png");
    page.expectRefusal = false;
    await assertNoCspViolations(page, "main");
  });

  test("readable in light and dark, on a desktop and on a 375 px screen", async () => {
    for (const colorScheme of ["light", "dark"]) {
      for (const [label, viewport] of [
        ["desktop", { width: 1280, height: 900 }],
        ["narrow", { width: 375, height: 812 }],
      ]) {
        if (colorScheme === "light" && label === "desktop") continue; // overview-light-desktop.png above
        const ctx = await browser.newContext({ viewport, colorScheme, isMobile: label === "narrow", hasTouch: label === "narrow", deviceScaleFactor: label === "narrow" ? 2 : 1 });
        await cspRecorder(ctx);
        const p = await newPage(ctx, `${colorScheme}-${label}`);
        await signIn(p, stack.adminKey);
        const card = p.locator('article.card[data-credential="default"]');
        await card.locator(`li.token[data-scope="${tokenScope}"]`).waitFor();
        await card.locator(".rotation-box").waitFor();
        await card.locator("tr.secret-active").waitFor();
        await p.locator("#events tr.event").first().waitFor();
        const dark = await p.evaluate(() => matchMedia("(prefers-color-scheme: dark)").matches);
        assert.equal(dark, colorScheme === "dark");
        const bg = await p.evaluate(() => getComputedStyle(document.body).backgroundColor);
        const [r, g, b] = bg.match(/\d+/g).map(Number);
        const luminance = (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
        assert.ok(colorScheme === "dark" ? luminance < 0.3 : luminance > 0.7, `${colorScheme} background ${bg}`);
        const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 0, `${colorScheme}/${label}: no horizontal scrolling (${overflow}px too wide)`);
        assert.ok(!(await p.content()).includes(tokenValue), "no token value in the page");
        await shot(p, `overview-${colorScheme}-${label}.png`);
        await assertNoCspViolations(p, `${colorScheme}-${label}`);
        await ctx.close();
      }
    }
  });

  test("no page error, console error or CSP violation anywhere", () => {
    assert.deepEqual(problems, []);
  });
});
