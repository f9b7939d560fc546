// ims-broker operator console: plain ES modules, no framework, no build step. This entry wires
// them together and runs the refresh cycle; each module owns its own state:
//   api.js          the fetch calls, the caller key and its Authorization header, errors in words
//   session.js      sign-in and sign-out, who is signed in (admin or read-only viewer)
//   credentials.js  a card per credential, its cached token entries with their countdown
//   rotation.js     a credential's secrets at Adobe, the rotate button and the rotation's steps
//   metrics.js      the counters and the recent events (GET /v1/metrics)
//   chart.js        the counters sampled over the last hour, drawn per minute
//   identity.js     the trusted issuers and federated callers (GET /v1/identity)
//   dom.js, format.js  building elements, writing times and numbers
//
// Served as Workers static assets from the Worker's own origin (wrangler.toml [assets]), under
// the strict Content-Security-Policy of www/_headers: scripts from this origin only (these
// modules, loaded with <script type="module">), no inline script or style, same-origin fetches
// only.

import { api, checkRevoked, describe, generation, isCurrent } from "./api.js";
import { SAMPLE_MS, resetChart, restoreChart } from "./chart.js";
import { credentialNames, loadAllSecrets, loadAllTokens, renderCredentials, resetCredentials, updateBars } from "./credentials.js";
import { $, replace } from "./dom.js";
import { fmtRelative, fmtTime } from "./format.js";
import { loadIdentity } from "./identity.js";
import { loadMetrics, resetMetrics, setEventCredentials } from "./metrics.js";
import { resetRotation } from "./rotation.js";
import { initSession, setCaller } from "./session.js";

const TICK_MS = 1_000; // countdown bars, "updated … ago"

let timers = [];
let refreshing = false;
let lastUpdate = 0;

function startTimers() {
  stopTimers();
  timers.push(setInterval(tick, TICK_MS));
  timers.push(setInterval(() => periodic(), SAMPLE_MS));
}

function stopTimers() {
  for (const t of timers) clearInterval(t);
  timers = [];
}

function tick() {
  updateBars();
  renderUpdated();
}

function showCredentials(list) {
  renderCredentials(list);
  setEventCredentials(credentialNames());
}

/** Every 10 s: token entries and a metrics sample (secrets only on demand: they call Adobe). */
async function periodic() {
  const gen = generation();
  await Promise.all([loadAllTokens(gen), loadMetrics(gen)]);
  if (isCurrent(gen)) markUpdated();
}

/** Everything, including each credential's secrets and last rotation. */
async function refreshAll({ credentialsBody = null } = {}) {
  const gen = generation();
  const button = $("refresh");
  if (refreshing) return;
  refreshing = true;
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
      if (!isCurrent(gen)) return;
      if (credentialsBody) {
        setCaller(credentialsBody); // the key's role may have changed in CALLER_KEYS
        showCredentials(credentialsBody.credentials ?? []);
      }
    }
    hideGlobal();
    await Promise.all([loadMetrics(gen), loadIdentity(gen), loadAllTokens(gen), loadAllSecrets(gen)]);
    if (isCurrent(gen)) markUpdated();
  } finally {
    refreshing = false;
    button.removeAttribute("aria-disabled");
  }
}

function markUpdated() {
  lastUpdate = Date.now();
  renderUpdated();
}

function renderUpdated() {
  if (!lastUpdate) return;
  $("updated").textContent = `Updated ${fmtTime(lastUpdate)} (${fmtRelative(lastUpdate)}); token entries and counters refresh every ${SAMPLE_MS / 1000} s.`;
}

function showGlobal(text) {
  const el = $("global-message");
  el.textContent = text;
  el.hidden = false;
}

function hideGlobal() {
  $("global-message").hidden = true;
}

initSession({
  async signedIn(credentialsBody) {
    restoreChart();
    showCredentials(credentialsBody.credentials ?? []);
    await refreshAll({ credentialsBody });
    startTimers();
  },
  stop: stopTimers,
  reset() {
    resetCredentials();
    resetRotation();
    resetMetrics();
    resetChart();
    for (const id of ["credentials", "identity", "chart", "counters", "events", "metrics-since"]) replace($(id));
  },
});
$("refresh").addEventListener("click", () => refreshAll());
