// ims-broker operator console: a plain ES module, no framework, no build step.
//
// Served as a Workers static asset from the Worker's own origin (wrangler.toml [assets]), under
// the strict Content-Security-Policy of www/_headers: no inline script or style, same-origin
// fetches only. So:
//  - every element is built with the DOM API and every text goes in with textContent (never
//    innerHTML), which also keeps anything the API returns from being taken as markup;
//  - dynamic sizes (the countdown bars) are set through the CSSOM (`el.style.width`), which the
//    CSP allows, never through a `style` attribute;
//  - the chart is inline SVG built here, coloured by classes from app.css.
//
// The caller key (an admin's, or a read-only viewer's) lives in sessionStorage only (this tab,
// gone when it closes) and goes out only as `Authorization: Bearer` on same-origin fetches: never
// in a URL, never in a cookie. The API never returns a token value or a secret value, and this
// page never asks for one.
//
// A viewer key reads everything an admin reads but changes nothing: the broker refuses its
// changes (403), and this page shows it no control that would change something (no rotate
// button), and says the session is read-only.
//
// The "Trusted issuers" panel shows what stands in for caller keys (GET /v1/identity): the
// issuers of TRUSTED_ISSUERS and the federated callers of CALLER_KEYS with their bound claims.
// That answer holds no token, key or digest, and no token is ever asked for or shown here.

// The storage name predates viewer keys; kept, so that an open tab stays signed in across a deploy.
const KEY_STORAGE = "ims-broker.console.admin-key";
const TICK_MS = 1_000; // countdown bars, "updated … ago"
const SAMPLE_MS = 10_000; // token entries + metrics sample
const HOUR_MS = 3_600_000; // chart window
const POLL_MS = 1_000; // rotation progress
const POLL_LIMIT_MS = 180_000; // stop following a rotation that stopped moving after this long
const STEPS = ["create", "test", "promote", "retire", "done"];
const STEP_TEXT = {
  create: "add a new secret at Adobe",
  test: "mint a token with the new secret",
  promote: "the broker switches to the new secret",
  retire: "delete the previous secret at Adobe",
  done: "rotation finished",
};
// Event filter value for events of no credential (the store-key sweep): not a credential name,
// since those are [a-z0-9_-] only.
const NO_CREDENTIAL = "(broker)";
const CACHE_TEXT = {
  memory: "served from this isolate's memory",
  kv: "served from KV (the shared cache)",
  miss: "not cached: minted at IMS",
  stale: "served stale while refreshing",
};

/** Everything the page knows; reset on sign-out. */
const state = {
  key: null,
  caller: null, // {id, role} as the broker reports it; role "admin" or "viewer"
  sessionDrawn: null, // the caller renderSession last drew
  cards: new Map(), // credential name -> card (DOM handles + data)
  bars: [], // live countdown bars
  samples: [], // metrics samples over the last hour
  events: [],
  eventFilter: "",
  lastUpdate: 0,
  timers: [],
  generation: 0, // bumps on sign-out, so late answers of a previous session are dropped
};

const $ = (id) => document.getElementById(id);

// ------------------------------------------------------------------------------------------
// DOM helpers

/**
 * Builds an element: h("p", {class: "x", "aria-live": "polite"}, "text", child, …).
 * Attribute values go through setAttribute, text through text nodes; `style` is refused.
 */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "style") throw new Error("inline styles are not allowed by the CSP");
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "hidden" && value === true) {
      el.hidden = true;
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

// ------------------------------------------------------------------------------------------
// Formatting

const pad = (n) => String(n).padStart(2, "0");

function parseTime(value) {
  if (value === null || value === undefined || value === "") return null;
  if (typeof value === "number") return value;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

/** Local time: "14:03:07" today, "2026-11-22 14:03" on another day. */
function fmtTime(ms) {
  const d = new Date(ms);
  const now = new Date();
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (d.toDateString() === now.toDateString()) return time;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time.slice(0, 5)}`;
}

/** "3 h 05 min", "4 min 09 s", "12 s". */
function fmtDuration(seconds) {
  const total = Math.max(0, Math.round(seconds));
  const d = Math.floor(total / 86_400);
  const hr = Math.floor((total % 86_400) / 3_600);
  const min = Math.floor((total % 3_600) / 60);
  const sec = total % 60;
  if (d > 0) return `${d} d ${hr} h`;
  if (hr > 0) return `${hr} h ${pad(min)} min`;
  if (min > 0) return `${min} min ${pad(sec)} s`;
  return `${sec} s`;
}

function fmtRelative(ms, now = Date.now()) {
  const diff = (ms - now) / 1000;
  if (Math.abs(diff) < 1) return "just now";
  return diff > 0 ? `in ${fmtDuration(diff)}` : `${fmtDuration(-diff)} ago`;
}

/** A <time> element: local time, with the exact ISO instant in datetime and title. */
function timeEl(value, { relative = false } = {}) {
  const ms = parseTime(value);
  if (ms === null) return h("span", { class: "muted" }, "—");
  const iso = new Date(ms).toISOString();
  return h(
    "time",
    { datetime: iso, title: iso },
    fmtTime(ms),
    relative ? h("span", { class: "muted" }, ` (${fmtRelative(ms)})`) : null,
  );
}

function fmtNumber(n) {
  return Number(n ?? 0).toLocaleString("en-US");
}

function scopeList(scope) {
  const names = String(scope ?? "")
    .split(/[,\s]+/)
    .filter(Boolean);
  if (names.length === 0) return h("span", { class: "muted" }, "(no scope)");
  return h("ul", { class: "scopes", "aria-label": "Scopes" }, names.map((n) => h("li", null, h("code", null, n))));
}

function badge(text, kind) {
  return h("span", { class: `badge badge-${kind}` }, text);
}

function dl(rows, cls = "facts") {
  return h(
    "dl",
    { class: cls },
    rows.filter(Boolean).map(([term, ...def]) => h("div", null, h("dt", null, term), h("dd", null, def))),
  );
}

function notice(kind, ...children) {
  return h("p", { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : null }, children);
}

// ------------------------------------------------------------------------------------------
// The API

class ApiError extends Error {
  constructor(status, code, description, debugId) {
    super(description || code);
    this.status = status;
    this.code = code;
    this.description = description;
    this.debugId = debugId;
  }
}

/** Same-origin call with the caller key. Resolves {status, body} for 2xx; throws ApiError. */
async function api(path, { method = "GET", key = state.key } = {}) {
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: { Authorization: `Bearer ${key}`, Accept: "application/json" },
      cache: "no-store",
      credentials: "omit",
      redirect: "error",
    });
  } catch (err) {
    throw new ApiError(0, "network", `the broker could not be reached (${err.message})`);
  }
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) {
    throw new ApiError(
      res.status,
      body?.error ?? `http_${res.status}`,
      body?.error_description ?? (text.slice(0, 200) || res.statusText),
      body?.debug_id ?? res.headers.get("x-debug-id"),
    );
  }
  return { status: res.status, body };
}

/** An API error in words, for people. */
function describe(err) {
  if (!(err instanceof ApiError)) return String(err?.message ?? err);
  if (err.code === "network") return `The broker could not be reached: ${err.description}.`;
  let text = err.description ? `${err.description}` : `error ${err.code}`;
  text = text.charAt(0).toUpperCase() + text.slice(1);
  if (!/[.!?]$/.test(text)) text += ".";
  const extra = [`HTTP ${err.status} ${err.code}`];
  if (err.debugId) extra.push(`x-debug-id ${err.debugId}`);
  return `${text} (${extra.join(", ")})`;
}

const credPath = (name, rest) => `/v1/credentials/${encodeURIComponent(name)}/${rest}`;

// ------------------------------------------------------------------------------------------
// Sign-in / sign-out

function showSignin(message = "", kind = "error") {
  stopTimers();
  $("dashboard").hidden = true;
  $("session").hidden = true;
  $("signin").hidden = false;
  const msg = $("signin-message");
  msg.textContent = message;
  msg.className = `signin-message ${message ? `signin-${kind}` : ""}`;
  const input = $("key-input");
  input.value = "";
  input.setAttribute("aria-invalid", message && kind === "error" ? "true" : "false");
  input.focus();
}

/** Checks the key against the broker (GET /v1/credentials) and opens the dashboard. */
async function signIn(key, { restoring = false } = {}) {
  const button = $("signin-button");
  button.disabled = true;
  button.textContent = "Signing in…";
  let first;
  try {
    first = await api("/v1/credentials", { key });
  } catch (err) {
    sessionStorage.removeItem(KEY_STORAGE);
    showSignin(refusal(err, restoring));
    return;
  } finally {
    button.disabled = false;
    button.textContent = "Sign in";
  }
  sessionStorage.setItem(KEY_STORAGE, key);
  state.key = key;
  $("signin").hidden = true;
  $("session").hidden = false;
  $("dashboard").hidden = false;
  setCaller(first.body); // after showing the dashboard, so its live region is announced
  $("key-input").value = "";
  $("main").focus();
  renderCredentials(first.body.credentials ?? []);
  await refreshAll({ credentialsBody: first.body });
  startTimers();
}

function refusal(err, restoring) {
  if (err instanceof ApiError && err.status === 401) {
    return restoring
      ? "Signed out: the broker no longer accepts the stored key (unknown key)."
      : "Unknown key: the broker does not know this caller key. Check it was pasted whole and that it is still in CALLER_KEYS.";
  }
  if (err instanceof ApiError && err.status === 403 && err.code === "forbidden") {
    return 'Refused: this key is neither an admin nor a viewer key. The broker knows it, but it may only request tokens; the console needs an admin key (created with ADMIN=1) or a read-only viewer key ("role": "viewer" in its CALLER_KEYS entry).';
  }
  if (err instanceof ApiError && err.code === "cross_origin_forbidden") {
    return "Refused: the broker does not accept calls from this page's origin. Open the console from the broker's own address.";
  }
  return `Could not sign in. ${describe(err)}`;
}

function signOut(message = "Signed out. The key was removed from this tab.", kind = "info") {
  state.generation += 1;
  state.key = null;
  state.caller = null;
  state.sessionDrawn = null;
  replace($("role-notice"));
  sessionStorage.removeItem(KEY_STORAGE);
  state.cards.clear();
  state.bars = [];
  state.samples = [];
  state.events = [];
  state.eventFilter = "";
  state.filterEl = null;
  state.eventsTable = null;
  for (const id of ["credentials", "identity", "chart", "counters", "events", "metrics-since"]) replace($(id));
  $("global-message").hidden = true;
  showSignin(message, kind);
}

// ------------------------------------------------------------------------------------------
// Who is signed in: admin or viewer

/**
 * Takes the caller from a GET /v1/credentials answer. A broker without roles answers no
 * `caller`, and let only admins in: so no `caller` means an admin.
 */
function setCaller(body) {
  const caller = body?.caller ?? { id: null, role: "admin" };
  state.caller = { id: caller.id ?? null, role: caller.role === "admin" ? "admin" : "viewer" };
  renderSession();
}

/** True when this session may change something (rotate); only admins may. */
function canChange() {
  return state.caller?.role === "admin";
}

/**
 * The header's "signed in as" line and, for a viewer, the read-only notice above the data. Drawn
 * only when the caller changed: the notice is a live region (#role-notice, role=status, empty and
 * so not displayed for an admin), and its text arriving is what a screen reader announces.
 */
function renderSession() {
  const { id, role } = state.caller;
  const sig = `${id}|${role}`;
  if (state.sessionDrawn === sig) return;
  state.sessionDrawn = sig;
  const who = id ? ["Signed in as ", h("strong", null, id), " "] : ["Signed in "];
  replace($("session-state"), who, role === "admin" ? badge("admin", "ok") : badge("viewer: read-only", "warn"));
  replace(
    $("role-notice"),
    role === "admin"
      ? null
      : [
          h("strong", null, "Read-only session (viewer key). "),
          "You see everything an admin sees, but nothing here changes anything: rotating a secret needs an admin key.",
        ],
  );
}

/** A 401 in the middle of a session: the key was revoked. */
function checkRevoked(err) {
  if (err instanceof ApiError && err.status === 401 && state.key) {
    signOut("Signed out: the broker no longer accepts this key (unknown key).", "error");
    return true;
  }
  return false;
}

// ------------------------------------------------------------------------------------------
// Refreshing

function startTimers() {
  stopTimers();
  state.timers.push(setInterval(tick, TICK_MS));
  state.timers.push(setInterval(() => periodic(), SAMPLE_MS));
}

function stopTimers() {
  for (const t of state.timers) clearInterval(t);
  state.timers = [];
}

/** Every 10 s: token entries and a metrics sample (secrets only on demand: they call Adobe). */
async function periodic() {
  const gen = state.generation;
  await Promise.all([...[...state.cards.values()].map((card) => loadTokens(card, gen)), loadMetrics(gen)]);
  if (gen === state.generation) markUpdated();
}

/** Everything, including each credential's secrets and last rotation. */
async function refreshAll({ credentialsBody = null } = {}) {
  const gen = state.generation;
  const button = $("refresh");
  if (state.refreshing) return;
  state.refreshing = true;
  // aria-disabled rather than disabled: a disabled button would drop the keyboard focus.
  button.setAttribute("aria-disabled", "true");
  try {
    if (!credentialsBody) {
      try {
        credentialsBody = (await api("/v1/credentials")).body;
      } catch (err) {
        if (checkRevoked(err)) return;
        showGlobal(`Could not list the credentials. ${describe(err)}`);
      }
      if (gen !== state.generation) return;
      if (credentialsBody) {
        setCaller(credentialsBody); // the key's role may have changed in CALLER_KEYS
        renderCredentials(credentialsBody.credentials ?? []);
      }
    }
    hideGlobal();
    const jobs = [loadMetrics(gen), loadIdentity(gen)];
    for (const card of state.cards.values()) {
      jobs.push(loadTokens(card, gen));
      if (card.cred.manages_secrets) {
        jobs.push(loadSecrets(card, gen));
        if (!card.rotating) jobs.push(loadRotation(card, gen));
      }
    }
    await Promise.all(jobs);
    if (gen === state.generation) markUpdated();
  } finally {
    state.refreshing = false;
    button.removeAttribute("aria-disabled");
  }
}

function markUpdated() {
  state.lastUpdate = Date.now();
  renderUpdated();
}

function renderUpdated() {
  if (!state.lastUpdate) return;
  $("updated").textContent = `Updated ${fmtTime(state.lastUpdate)} (${fmtRelative(state.lastUpdate)}); token entries and counters refresh every ${SAMPLE_MS / 1000} s.`;
}

function showGlobal(text) {
  const el = $("global-message");
  el.textContent = text;
  el.hidden = false;
}

function hideGlobal() {
  $("global-message").hidden = true;
}

function tick() {
  updateBars();
  renderUpdated();
}

// ------------------------------------------------------------------------------------------
// Credentials

function renderCredentials(list) {
  const root = $("credentials");
  const seen = new Set();
  if (list.length === 0) {
    replace(root, notice("info", "No credential is configured (set CLIENT_ID / CLIENT_SECRET or CREDENTIALS)."));
    state.cards.clear();
    return;
  }
  if (state.cards.size === 0) root.replaceChildren();
  for (const cred of list) {
    seen.add(cred.name);
    let card = state.cards.get(cred.name);
    if (!card) {
      card = buildCard(cred);
      state.cards.set(cred.name, card);
    }
    card.cred = cred;
    fillCardHead(card);
    root.append(card.el); // keeps the API's order
  }
  for (const [name, card] of state.cards) {
    if (!seen.has(name)) {
      card.el.remove();
      state.cards.delete(name);
    }
  }
  renderEvents();
}

let cardCounter = 0;
function buildCard(cred) {
  const n = ++cardCounter;
  const card = {
    cred,
    rotating: false,
    rotation: null,
    head: h("div", { class: "card-head" }),
    problem: h("div"),
    tokens: h("div", { class: "tokens", "aria-live": "off" }),
    secretsWrap: h("section", { class: "sub", "aria-labelledby": `secrets-${n}` }),
    secrets: h("div", { class: "secrets" }),
    rotateButton: h("button", { type: "button", class: "btn btn-primary rotate" }, "Rotate secret"),
    rotationEl: h("div", { class: "rotation", "aria-live": "polite" }),
    offset: 0,
  };
  card.rotateButton.addEventListener("click", () => rotate(card));
  card.el = h(
    "article",
    { class: "card", "data-credential": cred.name, "aria-labelledby": `cred-${n}` },
    card.head,
    card.problem,
    h(
      "section",
      { class: "sub", "aria-labelledby": `tokens-${n}` },
      h("h4", { id: `tokens-${n}` }, "Cached tokens"),
      card.tokens,
    ),
    card.secretsWrap,
  );
  card.headingId = `cred-${n}`;
  card.secretsHeadingId = `secrets-${n}`;
  return card;
}

function fillCardHead(card) {
  const { cred } = card;
  replace(
    card.head,
    h("h3", { id: card.headingId }, h("span", { class: "muted" }, "credential "), h("span", { class: "cred-name" }, cred.name)),
    dl([
      ["Client id", cred.client_id ? h("code", null, cred.client_id) : h("span", { class: "muted" }, "—")],
      ["Default scopes", cred.scopes ? scopeList(cred.scopes) : h("span", { class: "muted" }, "—")],
    ]),
  );
  replace(card.problem, cred.error ? notice("error", problemText(cred.error)) : null);
  const heading = h("h4", { id: card.secretsHeadingId }, "Client secrets at Adobe");
  if (cred.manages_secrets) {
    // Built once per mode (admin or read-only), so the refreshes keep the secrets and rotation
    // in place; rebuilt when the key's role changed.
    const mode = canChange() ? "admin" : "read-only";
    if (card.secretsMode !== mode || !card.secretsWrap.contains(card.secrets)) {
      card.secretsMode = mode;
      replace(card.secretsWrap, heading, card.secrets, rotateRow(card), card.rotationEl);
    }
  } else {
    card.secretsMode = null;
    replace(
      card.secretsWrap,
      heading,
      notice(
        "info",
        "Secret management is off for this credential: it has no Developer Console org id and credential id (ORG_ID / CREDENTIAL_ID, or org_id / credential_id in CREDENTIALS), so the broker can neither list nor rotate its secrets.",
      ),
    );
  }
}

/** What is wrong with a credential; a viewer is told only that something is (and by whom). */
function problemText(error) {
  if (canChange()) return `This credential is misconfigured and cannot mint tokens: ${error}`;
  return "This credential is misconfigured and cannot mint tokens. Which setting is wrong is shown to admin keys only.";
}

/** The rotate button and what it does, for an admin; for a viewer, why there is none. */
function rotateRow(card) {
  if (!canChange()) {
    return h("p", { class: "hint rotate-row" }, "Rotating the secret needs an admin key; this session is read-only.");
  }
  return h(
    "div",
    { class: "rotate-row" },
    card.rotateButton,
    h("span", { class: "hint" }, "Adds a new secret, tests it, switches to it, then deletes the old one after the grace period."),
  );
}

// ------------------------------------------------------------------------------------------
// Token entries

async function loadTokens(card, gen) {
  let body;
  try {
    body = (await api(credPath(card.cred.name, "tokens"))).body;
  } catch (err) {
    if (gen !== state.generation || checkRevoked(err)) return;
    replace(card.tokens, notice("error", `Could not read the cached tokens. ${describe(err)}`));
    return;
  }
  if (gen !== state.generation) return;
  card.offset = Number(body.now_ms ?? Date.now()) - Date.now();
  renderTokens(card, body.entries ?? []);
}

function renderTokens(card, entries) {
  state.bars = state.bars.filter((b) => b.card !== card);
  if (entries.length === 0) {
    replace(card.tokens, h("p", { class: "muted" }, "No cached token yet: the first token request for this credential mints one."));
    return;
  }
  // The callers' entries by scope, then the broker's own.
  const sorted = [...entries].sort(
    (a, b) => Number(isBrokers(a)) - Number(isBrokers(b)) || String(a.scope).localeCompare(String(b.scope)),
  );
  replace(card.tokens, h("ul", { class: "token-list" }, sorted.map((e) => tokenItem(card, e))));
  updateBars();
}

/**
 * True for the broker's own token: the one it mints for Adobe's I/O Management API (listing and
 * rotating secrets), in the same cache as the callers' tokens but never handed to a caller.
 */
const isBrokers = (e) => e.use === "broker";

function brokerNote() {
  return h(
    "p",
    { class: "token-owner" },
    badge("broker's own: secret management", "info"),
    " ",
    h("span", { class: "muted small" }, "the broker's token for Adobe's I/O Management API; no caller gets it"),
  );
}

function tokenItem(card, e) {
  const own = isBrokers(e);
  const fill = h("div", { class: "bar-fill" });
  const bar = h(
    "div",
    {
      class: "bar",
      role: "progressbar",
      "aria-label": `Time left for ${own ? "the broker's own token (secret management)" : "the token"} with scope ${e.scope}`,
      "aria-valuemin": "0",
      "aria-valuemax": String(Math.max(1, Math.round((e.usable_until_ms - e.refreshed_at_ms) / 1000))),
    },
    fill,
  );
  const label = h("span", { class: "bar-label" });
  const freshness = h("span", { class: "freshness" });
  state.bars.push({
    card,
    bar,
    fill,
    label,
    freshness,
    start: Number(e.refreshed_at_ms),
    end: Number(e.usable_until_ms),
    refreshAt: parseTime(e.refresh_at),
    serverFreshness: e.freshness,
  });
  const hit = e.last_hit
    ? [badge(e.last_hit, `hit-${e.last_hit}`), " ", CACHE_TEXT[e.last_hit] ? h("span", { class: "muted" }, CACHE_TEXT[e.last_hit]) : null, e.last_hit_at ? [" at ", timeEl(e.last_hit_at)] : null]
    : h("span", { class: "muted" }, "no hit seen by this isolate yet");
  return h(
    "li",
    { class: own ? "token token-broker" : "token", "data-scope": e.scope, "data-use": own ? "broker" : "callers" },
    own ? brokerNote() : null,
    h("div", { class: "token-top" }, scopeList(e.scope), freshness),
    h("div", { class: "bar-row" }, bar, label),
    dl([
      ["Refreshed", timeEl(e.refreshed_at, { relative: true })],
      ["Refresh due", timeEl(e.refresh_at)],
      ["Handed out until", timeEl(e.usable_until)],
      ["Expires at Adobe", timeEl(e.expires_at)],
      ["Lifetime", fmtDuration(e.lifetime_s)],
      ["Last hit", hit],
    ]),
  );
}

/** Moves every countdown bar to "now" (the server's clock, via the offset of its now_ms). */
function updateBars() {
  for (const b of state.bars) {
    const now = Date.now() + b.card.offset;
    const total = Math.max(1, b.end - b.start);
    const left = Math.max(0, b.end - now);
    const fraction = Math.min(1, left / total);
    b.fill.style.width = `${(fraction * 100).toFixed(2)}%`;
    const level = left === 0 ? "out" : fraction < 0.1 ? "low" : fraction < 0.3 ? "mid" : "ok";
    b.bar.className = `bar bar-${level}`;
    b.bar.setAttribute("aria-valuenow", String(Math.round(left / 1000)));
    const text = left === 0 ? "no longer handed out" : `${fmtDuration(left / 1000)} left`;
    b.bar.setAttribute("aria-valuetext", text);
    b.label.textContent = text;
    let fresh = b.serverFreshness;
    if (left === 0) fresh = "unusable";
    else if (b.refreshAt !== null && now >= b.refreshAt && fresh === "fresh") fresh = "stale";
    const words = { fresh: "fresh", stale: "stale: refreshed on next use", unusable: "unusable" }[fresh] ?? fresh;
    b.freshness.replaceChildren(badge(words, fresh === "fresh" ? "ok" : fresh === "stale" ? "warn" : "error"));
  }
}

// ------------------------------------------------------------------------------------------
// Secrets

async function loadSecrets(card, gen) {
  let body;
  try {
    body = (await api(credPath(card.cred.name, "secrets"))).body;
  } catch (err) {
    if (gen !== state.generation || checkRevoked(err)) return;
    const text =
      err instanceof ApiError && err.code === "misconfigured"
        ? `The broker cannot manage this credential's secrets: ${err.description}`
        : `Could not list the secrets at Adobe. ${describe(err)}`;
    replace(card.secrets, notice("error", text));
    return;
  }
  if (gen !== state.generation) return;
  renderSecrets(card, body);
}

function renderSecrets(card, body) {
  const list = body.secrets ?? [];
  const source =
    body.active_source === "kv"
      ? "a rotated secret kept in KV (sealed with STORE_KEY)"
      : "the Worker secret set at deploy time (not rotated yet)";
  const activeLine = body.active_uuid
    ? h("p", { class: "small" }, "The broker uses ", h("code", { class: "uuid" }, body.active_uuid), `, from ${source}.`)
    : h("p", { class: "small" }, `The broker uses ${source}; Adobe has not reported it as used yet, so it is not matched to a uuid.`);
  if (list.length === 0) {
    replace(card.secrets, activeLine, notice("warn", "Adobe lists no secret for this credential."));
    return;
  }
  const rows = list.map((sec) => {
    let status;
    const why = (text) => h("span", { class: "muted small" }, ` ${text}`);
    if (sec.active) status = [badge("active", "ok"), why("in use by the broker")];
    else if (sec.role === "pending") status = [badge("new", "info"), why("being rotated in")];
    else if (sec.role === "previous") status = [badge("previous", "warn"), why("deleted after the grace period")];
    else status = [badge("unused", "muted"), why("not used by the broker")];
    return h(
      "tr",
      { class: sec.active ? "secret secret-active" : "secret", "data-uuid": sec.uuid },
      h("td", { "data-label": "UUID" }, h("code", { class: "uuid" }, sec.uuid)),
      h("td", { "data-label": "Created" }, timeEl(sec.created_at, { relative: true })),
      h("td", { "data-label": "Last used" }, sec.last_used_at ? timeEl(sec.last_used_at, { relative: true }) : h("span", { class: "muted" }, "never")),
      h("td", { "data-label": "Status" }, status),
    );
  });
  replace(
    card.secrets,
    activeLine,
    h(
      "table",
      { class: "table stack" },
      h("caption", { class: "visually-hidden" }, `Client secrets of ${card.cred.name} at Adobe`),
      h("thead", null, h("tr", null, ["UUID", "Created", "Last used", "Status"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", null, rows),
    ),
  );
}

// ------------------------------------------------------------------------------------------
// Rotation

async function loadRotation(card, gen) {
  try {
    const { body } = await api(credPath(card.cred.name, "rotation"));
    if (gen !== state.generation || card.rotating) return;
    renderRotation(card, body);
  } catch (err) {
    if (gen !== state.generation || checkRevoked(err) || card.rotating) return;
    if (err instanceof ApiError && err.code === "no_rotation") {
      card.rotation = null;
      replace(card.rotationEl, h("p", { class: "muted small" }, "No rotation yet for this credential."));
      setRotateLabel(card);
    } else {
      replace(card.rotationEl, notice("error", `Could not read the rotation. ${describe(err)}`));
    }
  }
}

function waitingForRetire(r) {
  const after = parseTime(r.retire_after);
  return r.in_progress && r.step === "retire" && after !== null && after > Date.now();
}

function setRotateLabel(card) {
  const r = card.rotation;
  if (card.rotating) card.rotateButton.textContent = "Rotating…";
  else if (r && r.in_progress) card.rotateButton.textContent = "Resume rotation";
  else card.rotateButton.textContent = "Rotate secret";
}

/** Draws a rotation: its steps (done / current / pending), its state in words, any error. */
function renderRotation(card, r, { busy = false, note = null } = {}) {
  card.rotation = r;
  setRotateLabel(card);
  const current = STEPS.indexOf(r.step);
  const stuck = r.in_progress && r.last_error;
  const steps = STEPS.map((step, i) => {
    let st;
    if (r.step === "done" || i < current) st = "done";
    else if (i === current) st = stuck && r.last_error.step === step ? "error" : "current";
    else st = "pending";
    const words = { done: "done", current: "in progress", error: "failed", pending: "pending" }[st];
    const mark = { done: "✓", current: "●", error: "!", pending: "○" }[st];
    return h(
      "li",
      { class: `step step-${st}`, "data-step": step, "data-state": st, "aria-current": st === "current" || st === "error" ? "step" : null },
      h("span", { class: "step-mark", "aria-hidden": "true" }, mark),
      h("span", { class: "step-name" }, step),
      h("span", { class: "step-state" }, words),
      h("span", { class: "step-desc" }, STEP_TEXT[step]),
    );
  });

  let status;
  if (!r.in_progress) {
    status = ["Finished ", timeEl(r.finished_at ?? r.updated_at, { relative: true }), "."];
  } else if (waitingForRetire(r)) {
    status = [
      "Waiting for the grace period: the previous secret is deleted after ",
      timeEl(r.retire_after, { relative: true }),
      " (by the next rotate call or the scheduled run).",
    ];
  } else if (stuck) {
    const again = canChange() ? "press “Resume rotation” to try again" : "an admin key can resume it";
    status = [`Stopped at step ${r.last_error.step}; ${again}.`];
  } else {
    status = [`In progress: step ${r.step} (${STEP_TEXT[r.step] ?? r.step}).`];
  }

  const events = r.events ?? [];
  replace(
    card.rotationEl,
    h(
      "div",
      { class: "rotation-box", "data-rotation-id": r.id, "data-step": r.step, "data-in-progress": String(Boolean(r.in_progress)) },
      h("p", { class: "rotation-status" }, h("strong", null, "Rotation "), h("code", null, String(r.id ?? "").slice(0, 12)), " — ", status),
      busy ? notice("info", "Another rotation run holds the lock for this credential; following its progress.") : null,
      note ? notice("info", note) : null,
      h("ol", { class: "steps", "aria-label": "Rotation steps" }, steps),
      r.last_error
        ? notice(
            "error",
            h("strong", null, `Error at step ${r.last_error.step}`),
            " (",
            timeEl(r.last_error.at),
            `): ${r.last_error.message}`,
          )
        : null,
      h(
        "p",
        { class: "small muted" },
        "Started ",
        timeEl(r.started_at),
        ", last change ",
        timeEl(r.updated_at, { relative: true }),
        ".",
      ),
      events.length
        ? h(
            "details",
            { class: "rotation-log", open: card.logOpen, ontoggle: (ev) => (card.logOpen = ev.currentTarget.open) },
            h("summary", null, `Rotation log (${events.length})`),
            h(
              "ol",
              null,
              events.map((ev) => h("li", null, timeEl(ev.at), " ", h("strong", null, ev.what), ev.uuid ? [" ", h("code", { class: "uuid" }, ev.uuid)] : null)),
            ),
          )
        : null,
    ),
  );
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The rotate button: POST …/secrets/rotate runs as many steps as it can in one request, so while
 * it runs the rotation's record is polled every second and each step is drawn as it is written;
 * afterwards polling goes on while the rotation still moves (e.g. another call's run is at work),
 * and stops once it is finished, waits for the grace period, or stopped on an error.
 */
async function rotate(card) {
  if (card.rotating || !canChange()) return; // a viewer has no button; the broker would refuse it too
  const gen = state.generation;
  const name = card.cred.name;
  const before = card.rotation;
  const oldId = before && !before.in_progress ? before.id : null; // a finished earlier rotation
  card.rotating = true;
  card.rotateButton.setAttribute("aria-disabled", "true"); // not `disabled`: keeps the focus
  card.rotateButton.setAttribute("aria-busy", "true");
  setRotateLabel(card);
  replace(card.rotationEl, h("p", { class: "rotation-status" }, "Starting the rotation…"));

  let outcome = null;
  const post = api(credPath(name, "secrets/rotate"), { method: "POST" }).then(
    (res) => (outcome = { res }),
    (err) => (outcome = { err }),
  );
  const started = Date.now();
  let lastChange = Date.now();
  let lastSeen = "";
  const seen = (r) => {
    const sig = `${r.id}|${r.step}|${r.updated_at}|${r.last_error?.at ?? ""}`;
    if (sig !== lastSeen) {
      lastSeen = sig;
      lastChange = Date.now();
    }
  };
  try {
    // While the POST runs: poll the record.
    while (!outcome) {
      await Promise.race([sleep(POLL_MS), post]);
      if (outcome || gen !== state.generation) break;
      try {
        const { body } = await api(credPath(name, "rotation"));
        if (gen !== state.generation || outcome) break;
        if (body.id !== oldId) {
          seen(body);
          renderRotation(card, body);
        }
      } catch (err) {
        if (checkRevoked(err)) return;
        // 404 no_rotation: the POST has not written its first step yet.
      }
    }
    await post;
    if (gen !== state.generation) return;
    if (outcome.err) {
      if (checkRevoked(outcome.err)) return;
      if (before) renderRotation(card, before);
      else replace(card.rotationEl);
      card.rotationEl.prepend(notice("error", `The rotation could not run. ${describe(outcome.err)}`));
      card.rotation = before;
      return;
    }
    let r = outcome.res.body;
    let busy = Boolean(r.busy);
    seen(r);
    renderRotation(card, r, { busy });
    // Afterwards: follow it while it still moves.
    while (
      gen === state.generation &&
      r.in_progress &&
      !waitingForRetire(r) &&
      (busy || !r.last_error) &&
      Date.now() - started < POLL_LIMIT_MS &&
      Date.now() - lastChange < 30_000
    ) {
      await sleep(POLL_MS);
      try {
        r = (await api(credPath(name, "rotation"))).body;
      } catch (err) {
        if (checkRevoked(err)) return;
        break;
      }
      if (gen !== state.generation) return;
      seen(r);
      renderRotation(card, r, { busy });
    }
  } finally {
    if (gen === state.generation) {
      card.rotating = false;
      card.rotateButton.removeAttribute("aria-disabled");
      card.rotateButton.removeAttribute("aria-busy");
      setRotateLabel(card);
    }
  }
  if (gen === state.generation) {
    await Promise.all([loadSecrets(card, gen), loadMetrics(gen)]);
  }
}

// ------------------------------------------------------------------------------------------
// Trusted issuers and federated callers (GET /v1/identity): read on sign-in and "Refresh now"
// only, since they change only with a deploy.

async function loadIdentity(gen) {
  let body;
  try {
    body = (await api("/v1/identity")).body;
  } catch (err) {
    if (gen !== state.generation || checkRevoked(err)) return;
    replace($("identity"), notice("error", `Could not read the trusted issuers. ${describe(err)}`));
    return;
  }
  if (gen !== state.generation) return;
  renderIdentity(body ?? {});
}

/** `"*"` as words, a list of names as code, an empty list as "none". */
function allowedList(value, what) {
  if (value === "*") return [h("code", null, "*"), h("span", { class: "muted" }, ` every ${what}`)];
  const names = Array.isArray(value) ? value : [];
  if (names.length === 0) return h("span", { class: "muted" }, "none");
  return h("ul", { class: "scopes", "aria-label": what === "scope" ? "Scopes" : "Credentials" }, names.map((n) => h("li", null, h("code", null, n))));
}

/** Bound claims: one line per claim, "claim: alternative or alternative". */
function boundClaims(claims) {
  const entries = Object.entries(claims ?? {});
  return h(
    "ul",
    { class: "claims", "aria-label": "Bound claims" },
    entries.map(([name, alternatives]) => {
      const alts = Array.isArray(alternatives) ? alternatives : [alternatives];
      return h(
        "li",
        { class: "claim", "data-claim": name },
        h("code", { class: "claim-name" }, name),
        ": ",
        alts.map((alt, i) => [i ? h("span", { class: "muted" }, " or ") : null, h("code", { class: "claim-value" }, alt)]),
      );
    }),
  );
}

function renderIdentity(body) {
  const issuers = body.issuers ?? [];
  const callers = body.callers ?? [];
  if (issuers.length === 0) {
    replace(
      $("identity"),
      notice("info", "No trusted issuer is configured (TRUSTED_ISSUERS is empty): every caller signs in with a caller key."),
    );
    return;
  }
  const issuerRows = issuers.map((i) =>
    h(
      "tr",
      { class: "issuer", "data-issuer": i.name },
      h("td", { "data-label": "Name" }, h("strong", null, i.name)),
      h("td", { "data-label": "Issuer" }, h("code", null, i.issuer)),
      h("td", { "data-label": "Audiences" }, (i.audiences ?? []).map((a, n) => [n ? ", " : null, h("code", null, a)])),
      h("td", { "data-label": "Algorithms" }, (i.algorithms ?? []).join(", ")),
      h("td", { "data-label": "Max lifetime", title: `max_ttl_s ${i.max_ttl_s}` }, `${fmtNumber(i.max_ttl_s)} s`, h("span", { class: "muted" }, ` (${fmtDuration(i.max_ttl_s)})`)),
      h(
        "td",
        { "data-label": "Keys" },
        i.jwks_url ? h("code", null, i.jwks_url) : [badge("discovery", "muted"), " ", h("span", { class: "muted small" }, "the jwks_uri of its OpenID configuration")],
      ),
    ),
  );
  const callerRows = callers.map((c) =>
    h(
      "tr",
      { class: "federated", "data-caller": c.id },
      h("td", { "data-label": "Caller" }, h("strong", null, c.id)),
      h("td", { "data-label": "Issuer" }, c.issuer),
      h("td", { "data-label": "Bound claims" }, boundClaims(c.bound_claims)),
      h("td", { "data-label": "Credentials" }, allowedList(c.credentials, "credential")),
      h("td", { "data-label": "Scopes" }, allowedList(c.scopes, "scope")),
      h("td", { "data-label": "Role" }, badge(c.role, c.role === "admin" ? "warn" : c.role === "viewer" ? "info" : "muted")),
    ),
  );
  const table = (caption, heads, rows, cls) =>
    h(
      "table",
      { class: `table stack ${cls}` },
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", null, h("tr", null, heads.map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", null, rows),
    );
  replace(
    $("identity"),
    h("p", { class: "hint" }, "Callers of these issuers present a token their platform issued them instead of a caller key; a token is the caller whose bound claims all match (", h("code", null, "*"), " matches any run of characters)."),
    table("Trusted issuers", ["Name", "Issuer", "Audiences", "Algorithms", "Max lifetime", "Keys"], issuerRows, "issuers-table"),
    h("h3", { class: "identity-sub" }, "Federated callers"),
    callers.length === 0
      ? h("p", { class: "muted" }, "No federated caller yet: a CALLER_KEYS entry with issuer and bound_claims makes one.")
      : table("Federated callers", ["Caller", "Issuer", "Bound claims", "Credentials", "Scopes", "Role"], callerRows, "federated-table"),
  );
}

// ------------------------------------------------------------------------------------------
// Metrics: counters, chart, events

const SERIES = [
  { key: "requests", label: "Requests" },
  { key: "hits", label: "Cache hits (memory + KV)" },
  { key: "ims", label: "IMS calls" },
  { key: "errors", label: "Error answers (4xx/5xx)" },
];

const sum = (obj) => Object.values(obj ?? {}).reduce((a, b) => a + Number(b || 0), 0);

async function loadMetrics(gen) {
  let body;
  try {
    body = (await api("/v1/metrics")).body;
  } catch (err) {
    if (gen !== state.generation || checkRevoked(err)) return;
    replace($("counters"), notice("error", `Could not read the metrics. ${describe(err)}`));
    return;
  }
  if (gen !== state.generation) return;
  const c = body.counters ?? {};
  let errors = 0;
  for (const [k, v] of Object.entries(c.requests ?? {})) {
    const status = Number(k.split(" ").pop());
    if (status >= 400) errors += Number(v || 0);
  }
  const now = Date.now();
  state.samples.push({
    t: now,
    since: c.since_ms,
    requests: sum(c.requests),
    hits: Number(c.cache?.memory ?? 0) + Number(c.cache?.kv ?? 0),
    ims: sum(c.ims_calls),
    errors,
  });
  state.samples = state.samples.filter((smp) => smp.t >= now - HOUR_MS);
  state.events = body.events ?? [];
  renderCounters(c);
  renderChart();
  renderEvents();
}

function renderCounters(c) {
  $("metrics-since").textContent = c.since_ms ? `(this isolate, since ${fmtTime(c.since_ms)})` : "";
  const requests = Object.entries(c.requests ?? {}).sort((a, b) => b[1] - a[1]);
  const buckets = c.upstream_latency_buckets ?? [];
  const calls = buckets.length ? buckets[buckets.length - 1] : sum(c.ims_calls);
  const avg = calls ? Math.round(Number(c.upstream_latency_sum_ms ?? 0) / calls) : null;
  const bounds = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000];
  const bucketText = buckets.length
    ? buckets
        .map((n, i) => {
          const prev = i === 0 ? 0 : buckets[i - 1];
          const count = n - prev;
          if (!count) return null;
          return `${i < bounds.length ? `≤ ${bounds[i]} ms` : `> ${bounds[bounds.length - 1]} ms`}: ${count}`;
        })
        .filter(Boolean)
        .join(", ")
    : "";
  const mapList = (obj, words = {}) => {
    const entries = Object.entries(obj ?? {});
    if (!entries.length) return h("span", { class: "muted" }, "none");
    return h("ul", { class: "inline-list" }, entries.map(([k, v]) => h("li", null, h("span", { class: "muted" }, `${words[k] ?? k}: `), h("strong", null, fmtNumber(v)))));
  };
  replace(
    $("counters"),
    h(
      "div",
      { class: "counter-grid" },
      h(
        "div",
        { class: "counter-box" },
        h("h3", null, "Cache outcomes"),
        mapList(c.cache),
        h("h3", null, "IMS calls"),
        mapList(c.ims_calls),
        h("p", { class: "small" }, avg === null ? "No upstream call yet." : `Upstream latency: average ${avg} ms over ${fmtNumber(calls)} calls${bucketText ? ` (${bucketText})` : ""}.`),
        h("h3", null, "Rotations"),
        mapList(c.rotations),
      ),
      h(
        "div",
        { class: "counter-box" },
        h("h3", null, "Requests by route and status"),
        requests.length
          ? h(
              "table",
              { class: "table compact" },
              h("thead", null, h("tr", null, h("th", { scope: "col" }, "Route"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col", class: "num" }, "Count"))),
              h(
                "tbody",
                null,
                requests.map(([k, v]) => {
                  const i = k.lastIndexOf(" ");
                  const status = k.slice(i + 1);
                  return h(
                    "tr",
                    null,
                    h("td", { "data-label": "Route" }, h("code", null, k.slice(0, i))),
                    h("td", { "data-label": "Status" }, badge(status, Number(status) >= 500 ? "error" : Number(status) >= 400 ? "warn" : "ok")),
                    h("td", { "data-label": "Count", class: "num" }, fmtNumber(v)),
                  );
                }),
              ),
            )
          : h("p", { class: "muted" }, "No request counted yet."),
      ),
    ),
  );
}

/**
 * The samples as per-minute counts over the last hour: 60 one-minute bins, each holding how much
 * every series grew during that minute (a counter going down, or a new since_ms, means a new
 * isolate: its value counts from zero). Bins before the first sample do not exist.
 */
function minuteBins(now = Date.now()) {
  const first = Math.floor((now - HOUR_MS) / 60_000) + 1; // the oldest of the 60 bins
  const bins = new Map();
  const bin = (t) => {
    const m = Math.floor(t / 60_000);
    if (m < first) return null;
    if (!bins.has(m)) bins.set(m, Object.fromEntries(SERIES.map(({ key }) => [key, 0])));
    return bins.get(m);
  };
  if (state.samples.length) bin(state.samples[0].t);
  for (let i = 1; i < state.samples.length; i++) {
    const a = state.samples[i - 1];
    const b = state.samples[i];
    const target = bin(b.t);
    if (!target) continue;
    const reset = a.since !== b.since;
    for (const { key } of SERIES) {
      target[key] += reset || b[key] < a[key] ? b[key] : b[key] - a[key];
    }
  }
  return { first, bins: [...bins.entries()].sort((x, y) => x[0] - y[0]) };
}

function niceMax(v) {
  if (v <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function renderChart() {
  const root = $("chart");
  const { first, bins } = minuteBins();
  const W = 600;
  const H = 150;
  const x = (m) => ((m - first + 0.5) / 60) * W;
  const max = niceMax(Math.max(0, ...bins.flatMap(([, v]) => SERIES.map(({ key }) => v[key]))));
  const y = (v) => H - 4 - (v / max) * (H - 10);
  const latest = bins.length ? bins[bins.length - 1][1] : null;
  const summary = latest
    ? `Counts per minute over the last hour, since this page started sampling. This minute so far: ${SERIES.map(({ key, label }) => `${label} ${latest[key]}`).join(", ")}.`
    : "Counts per minute over the last hour: waiting for the first sample.";
  const nonScaling = { "vector-effect": "non-scaling-stroke" };
  const svg = s(
    "svg",
    { class: "chart-svg", viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img", "aria-label": summary },
    s("title", null, summary),
    [0.5, 1].map((f) => s("line", { class: "grid", x1: 0, x2: W, y1: y(max * f), y2: y(max * f), ...nonScaling })),
    s("line", { class: "axis", x1: 0, x2: W, y1: H - 1, y2: H - 1, ...nonScaling }),
    SERIES.map(({ key }, i) => [
      bins.length > 1
        ? s("polyline", {
            class: `series line series-${i}`,
            "data-series": key,
            fill: "none",
            points: bins.map(([m, v]) => `${x(m).toFixed(1)},${y(v[key]).toFixed(1)}`).join(" "),
            ...nonScaling,
          })
        : null,
      // A dot per minute (a zero-length line with round caps stays round when the SVG stretches).
      bins.map(([m, v]) => {
        const px = x(m).toFixed(1);
        const py = y(v[key]).toFixed(1);
        return s("line", { class: `series dot series-${i}`, "data-series": key, x1: px, x2: px, y1: py, y2: py, ...nonScaling });
      }),
    ]),
  );
  replace(
    root,
    h(
      "div",
      { class: "chart-frame" },
      h("div", { class: "chart-y", "aria-hidden": "true" }, h("span", null, `${fmtNumber(max)}/min`), h("span", null, `${fmtNumber(max / 2)}/min`), h("span", null, "0")),
      h("div", { class: "chart-plot" }, svg, bins.length ? null : h("p", { class: "chart-empty muted" }, "Waiting for the first sample…")),
    ),
    h("div", { class: "chart-x", "aria-hidden": "true" }, h("span", null, "60 min ago"), h("span", null, "30 min ago"), h("span", null, "now")),
    h(
      "ul",
      { class: "legend", "aria-label": "This minute so far" },
      SERIES.map(({ label, key }, i) =>
        h("li", null, h("span", { class: `swatch swatch-${i}`, "aria-hidden": "true" }), label, latest ? h("span", { class: "muted" }, `: ${fmtNumber(latest[key])} this minute`) : null),
      ),
    ),
    h("p", { class: "small muted" }, `Per minute, from this page's samples of the counters every ${SAMPLE_MS / 1000} s (kept for an hour while the page is open).`),
  );
}

/** The credential filter of the events list: built once, so re-drawing keeps its focus. */
function eventFilter() {
  if (state.filterEl && state.filterEl.isConnected) return state.filterEl;
  const select = h("select", { id: "event-filter" });
  select.addEventListener("change", () => {
    state.eventFilter = select.value;
    renderEvents();
  });
  state.filterEl = select;
  state.eventsTable = h("div", { class: "events-table-wrap" });
  replace($("events"), h("div", { class: "filter-row" }, h("label", { for: "event-filter" }, "Show events of"), select), state.eventsTable);
  return select;
}

/**
 * The filter's choices: all, every credential (configured or seen in an event), and the events of
 * no credential (the store-key sweep has an empty one) when there are any.
 */
function filterOptions() {
  const named = state.events.map((e) => e.credential).filter(Boolean);
  const creds = [...new Set([...state.cards.keys(), ...named])].sort();
  const options = [["", "All credentials"], ...creds.map((c) => [c, c])];
  if (state.events.some((e) => !e.credential)) options.push([NO_CREDENTIAL, "Broker-wide (no credential)"]);
  return options;
}

function eventShown(e) {
  if (!state.eventFilter) return true;
  if (state.eventFilter === NO_CREDENTIAL) return !e.credential;
  return e.credential === state.eventFilter;
}

function renderEvents() {
  if (!state.key) return;
  const select = eventFilter();
  const options = filterOptions();
  const values = options.map(([value]) => value);
  const have = [...select.options].map((o) => o.value);
  if (have.join("\n") !== values.join("\n")) {
    replace(select, options.map(([value, text]) => h("option", { value }, text)));
  }
  if (!values.includes(state.eventFilter)) state.eventFilter = "";
  select.value = state.eventFilter;
  const list = state.events.filter(eventShown).slice(0, 100);
  const kindBadge = (k) =>
    ({
      refresh: badge("refresh", "ok"),
      upstream_failure: badge("upstream failure", "error"),
      rotation: badge("rotation", "info"),
      store_key: badge("store key", "info"),
    })[k] ?? badge(k, "muted");
  replace(
    state.eventsTable,
    list.length === 0
      ? h("p", { class: "muted" }, "No event recorded in the last hour.")
      : h(
          "table",
          { class: "table stack events-table" },
          h("caption", { class: "visually-hidden" }, "Recent events, newest first"),
          h("thead", null, h("tr", null, ["Time", "Kind", "Credential", "What", "Upstream", "Scope"].map((t) => h("th", { scope: "col" }, t)))),
          h(
            "tbody",
            null,
            list.map((e) =>
              h(
                "tr",
                { class: `event event-${e.kind}`, "data-kind": e.kind },
                h("td", { "data-label": "Time" }, timeEl(e.at_ms)),
                h("td", { "data-label": "Kind" }, kindBadge(e.kind)),
                h(
                  "td",
                  { "data-label": "Credential" },
                  e.credential || h("span", { class: "muted" }, "broker-wide"),
                ),
                h("td", { "data-label": "What" }, e.detail),
                h(
                  "td",
                  { "data-label": "Upstream", class: e.status || e.debug_id ? null : "empty" },
                  e.status ? [`HTTP ${e.status}`] : null,
                  e.debug_id ? [e.status ? ", " : "", "x-debug-id ", h("code", null, e.debug_id)] : null,
                  !e.status && !e.debug_id ? h("span", { class: "muted" }, "—") : null,
                ),
                h("td", { "data-label": "Scope", class: e.scope ? null : "empty" }, e.scope ? h("code", null, e.scope) : h("span", { class: "muted" }, "—")),
              ),
            ),
          ),
        ),
  );
}

// ------------------------------------------------------------------------------------------
// Start

function init() {
  $("signin-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const key = $("key-input").value.trim();
    if (!key) {
      showSignin("Paste an admin or viewer caller key first.");
      return;
    }
    signIn(key);
  });
  $("sign-out").addEventListener("click", () => signOut());
  $("refresh").addEventListener("click", () => refreshAll());
  const stored = sessionStorage.getItem(KEY_STORAGE);
  if (stored) {
    $("signin").hidden = true;
    signIn(stored, { restoring: true });
  } else {
    showSignin();
  }
}

init();
