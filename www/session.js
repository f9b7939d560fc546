// Signing in and out, and who is signed in: an admin, or a read-only viewer.
//
// A viewer key reads everything an admin reads but changes nothing: the broker refuses its
// changes (403), and this page shows it no control that would change something (no rotate
// button), and says the session is read-only.

import { ApiError, api, describe, forgetKey, storedKey, useKey, whenRevoked } from "./api.js";
import { $, badge, h, replace } from "./dom.js";

let caller = null; // {id, role} as the broker reports it; role "admin" or "viewer"
let drawn = null; // the caller renderSession last drew
let hooks = { signedIn: async () => {}, stop: () => {}, reset: () => {} };

/**
 * Wires the sign-in form and the sign-out button, and signs in again with the key this tab kept.
 * `signedIn(body)` runs once the dashboard shows (body: the GET /v1/credentials answer), `stop()`
 * whenever the sign-in form shows, `reset()` on sign-out (every view forgets what it showed).
 */
export function initSession(handlers) {
  hooks = { ...hooks, ...handlers };
  whenRevoked(() => signOut("Signed out: the broker no longer accepts this key (unknown key).", "error"));
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
  const stored = storedKey();
  if (stored) {
    $("signin").hidden = true;
    signIn(stored, { restoring: true });
  } else {
    showSignin();
  }
}

function showSignin(message = "", kind = "error") {
  hooks.stop();
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
    forgetKey();
    hooks.reset(); // nothing of a refused key's session stays in this tab
    showSignin(refusal(err, restoring));
    return;
  } finally {
    button.disabled = false;
    button.textContent = "Sign in";
  }
  useKey(key);
  $("signin").hidden = true;
  $("session").hidden = false;
  $("dashboard").hidden = false;
  setCaller(first.body); // after showing the dashboard, so its live region is announced
  $("key-input").value = "";
  $("main").focus();
  await hooks.signedIn(first.body);
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
  forgetKey();
  caller = null;
  drawn = null;
  replace($("role-notice"));
  hooks.reset();
  $("global-message").hidden = true;
  showSignin(message, kind);
}

/**
 * Takes the caller from a GET /v1/credentials answer. A broker without roles answers no
 * `caller`, and let only admins in: so no `caller` means an admin.
 */
export function setCaller(body) {
  const c = body?.caller ?? { id: null, role: "admin" };
  caller = { id: c.id ?? null, role: c.role === "admin" ? "admin" : "viewer" };
  renderSession();
}

/** True when this session may change something (rotate); only admins may. */
export function canChange() {
  return caller?.role === "admin";
}

/**
 * The header's "signed in as" line and, for a viewer, the read-only notice above the data. Drawn
 * only when the caller changed: the notice is a live region (#role-notice, role=status, empty and
 * so not displayed for an admin), and its text arriving is what a screen reader announces.
 */
function renderSession() {
  const { id, role } = caller;
  const sig = `${id}|${role}`;
  if (drawn === sig) return;
  drawn = sig;
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
