// The credentials view: a card per credential (its client id and scopes, what is wrong with it),
// its cached token entries with a live countdown each, and the secrets section (rotation.js).
//
// The countdown bars are sized through the CSSOM (`el.style.width`), which the CSP allows.

import { api, checkRevoked, credPath, describe, isCurrent } from "./api.js";
import { $, badge, dl, h, notice, replace, scopeList, timeEl } from "./dom.js";
import { fmtDuration, parseTime } from "./format.js";
import { fillSecrets, forgetPanel, loadSecretsAndRotation } from "./rotation.js";
import { canChange } from "./session.js";

const CACHE_TEXT = {
  memory: "served from this isolate's memory",
  kv: "served from KV (the shared cache)",
  miss: "not cached: minted at IMS",
  stale: "served stale while refreshing",
};

const cards = new Map(); // credential name -> card (DOM handles + data)
let bars = []; // live countdown bars
let cardCounter = 0;

/** The configured credentials' names, in the API's order. */
export const credentialNames = () => [...cards.keys()];

export function resetCredentials() {
  cards.clear();
  bars = [];
}

export function renderCredentials(list) {
  const root = $("credentials");
  const seen = new Set();
  if (list.length === 0) {
    replace(root, notice("info", "No credential is configured (set CLIENT_ID / CLIENT_SECRET or CREDENTIALS)."));
    for (const name of cards.keys()) forgetPanel(name);
    cards.clear();
    return;
  }
  if (cards.size === 0) root.replaceChildren();
  for (const cred of list) {
    seen.add(cred.name);
    let card = cards.get(cred.name);
    if (!card) {
      card = buildCard(cred);
      cards.set(cred.name, card);
    }
    card.cred = cred;
    fillCardHead(card);
    root.append(card.el); // keeps the API's order
  }
  for (const [name, card] of cards) {
    if (!seen.has(name)) {
      card.el.remove();
      cards.delete(name);
      forgetPanel(name);
    }
  }
}

/** Every card's token entries. */
export function loadAllTokens(gen) {
  return Promise.all([...cards.values()].map((card) => loadTokens(card, gen)));
}

/** Every card's secrets and rotation, where the broker manages them. */
export function loadAllSecrets(gen) {
  return Promise.all(
    [...cards.values()].filter((card) => card.cred.manages_secrets).map((card) => loadSecretsAndRotation(card.cred.name, gen)),
  );
}

function buildCard(cred) {
  const n = ++cardCounter;
  const card = {
    cred,
    head: h("div", { class: "card-head" }),
    problem: h("div"),
    tokens: h("div", { class: "tokens", "aria-live": "off" }),
    secretsWrap: h("section", { class: "sub", "aria-labelledby": `secrets-${n}` }),
    offset: 0,
  };
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
  fillSecrets(card.secretsWrap, cred, card.secretsHeadingId);
}

/** What is wrong with a credential; a viewer is told only that something is (and by whom). */
function problemText(error) {
  if (canChange()) return `This credential is misconfigured and cannot mint tokens: ${error}`;
  return "This credential is misconfigured and cannot mint tokens. Which setting is wrong is shown to admin keys only.";
}

// ------------------------------------------------------------------------------------------
// Token entries

async function loadTokens(card, gen) {
  let body;
  try {
    body = (await api(credPath(card.cred.name, "tokens"))).body;
  } catch (err) {
    if (!isCurrent(gen) || checkRevoked(err)) return;
    replace(card.tokens, notice("error", `Could not read the cached tokens. ${describe(err)}`));
    return;
  }
  if (!isCurrent(gen)) return;
  card.offset = Number(body.now_ms ?? Date.now()) - Date.now();
  renderTokens(card, body.entries ?? []);
}

function renderTokens(card, entries) {
  bars = bars.filter((b) => b.card !== card);
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
  bars.push({
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
export function updateBars() {
  for (const b of bars) {
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
