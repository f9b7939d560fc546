// A credential's client secrets at Adobe and their rotation: the secrets list, the rotate button
// (admins only) and the rotation's progress, step by step.
//
// Each credential with secret management has a panel here, by name; the credentials view
// (credentials.js) asks for it to be drawn in its card (fillSecrets) and forgets it with the card.

import { ApiError, api, checkRevoked, credPath, describe, generation, isCurrent } from "./api.js";
import { badge, h, notice, replace, timeEl } from "./dom.js";
import { parseTime } from "./format.js";
import { loadMetrics } from "./metrics.js";
import { canChange } from "./session.js";

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

/** Credential name -> its panel: DOM handles, the rotation last drawn, whether one is running. */
const panels = new Map();

function panel(name) {
  let p = panels.get(name);
  if (!p) {
    p = {
      name,
      rotating: false,
      rotation: null,
      logOpen: false,
      mode: null,
      secrets: h("div", { class: "secrets" }),
      rotateButton: h("button", { type: "button", class: "btn btn-primary rotate" }, "Rotate secret"),
      rotationEl: h("div", { class: "rotation", "aria-live": "polite" }),
    };
    p.rotateButton.addEventListener("click", () => askToRotate(p));
    panels.set(name, p);
  }
  return p;
}

export function forgetPanel(name) {
  panels.delete(name);
}

export function resetRotation() {
  panels.clear();
  if (dialog?.open) dialog.close("");
}

/** Draws the "Client secrets at Adobe" section of a credential's card into `wrap`. */
export function fillSecrets(wrap, cred, headingId) {
  const p = panel(cred.name);
  const heading = h("h4", { id: headingId }, "Client secrets at Adobe");
  if (cred.manages_secrets) {
    // Built once per mode (admin or read-only), so the refreshes keep the secrets and rotation
    // in place; rebuilt when the key's role changed.
    const mode = canChange() ? "admin" : "read-only";
    if (p.mode !== mode || !wrap.contains(p.secrets)) {
      p.mode = mode;
      replace(wrap, heading, p.secrets, rotateRow(p), p.rotationEl);
    }
  } else {
    p.mode = null;
    replace(
      wrap,
      heading,
      notice(
        "info",
        "Secret management is off for this credential: it has no Developer Console org id and credential id (ORG_ID / CREDENTIAL_ID, or org_id / credential_id in CREDENTIALS), so the broker can neither list nor rotate its secrets.",
      ),
    );
  }
}

/** The rotate button and what it does, for an admin; for a viewer, why there is none. */
function rotateRow(p) {
  if (!canChange()) {
    return h("p", { class: "hint rotate-row" }, "Rotating the secret needs an admin key; this session is read-only.");
  }
  return h(
    "div",
    { class: "rotate-row" },
    p.rotateButton,
    h("span", { class: "hint" }, "Adds a new secret, tests it, switches to it, then deletes the old one after the grace period."),
  );
}

/** The secrets, and the last rotation unless one is being followed already. */
export function loadSecretsAndRotation(name, gen) {
  const p = panel(name);
  return Promise.all([loadSecrets(p, gen), p.rotating ? null : loadRotation(p, gen)]);
}

// ------------------------------------------------------------------------------------------
// Secrets

async function loadSecrets(p, gen) {
  let body;
  try {
    body = (await api(credPath(p.name, "secrets"))).body;
  } catch (err) {
    if (!isCurrent(gen) || checkRevoked(err)) return;
    const text =
      err instanceof ApiError && err.code === "misconfigured"
        ? `The broker cannot manage this credential's secrets: ${err.description}`
        : `Could not list the secrets at Adobe. ${describe(err)}`;
    replace(p.secrets, notice("error", text));
    return;
  }
  if (!isCurrent(gen)) return;
  renderSecrets(p, body);
}

function renderSecrets(p, body) {
  const list = body.secrets ?? [];
  const source =
    body.active_source === "kv"
      ? "a rotated secret kept in KV (sealed with STORE_KEY)"
      : "the Worker secret set at deploy time (not rotated yet)";
  const activeLine = body.active_uuid
    ? h("p", { class: "small" }, "The broker uses ", h("code", { class: "uuid" }, body.active_uuid), `, from ${source}.`)
    : h("p", { class: "small" }, `The broker uses ${source}; Adobe has not reported it as used yet, so it is not matched to a uuid.`);
  if (list.length === 0) {
    replace(p.secrets, activeLine, notice("warn", "Adobe lists no secret for this credential."));
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
    p.secrets,
    activeLine,
    h(
      "table",
      { class: "table stack" },
      h("caption", { class: "visually-hidden" }, `Client secrets of ${p.name} at Adobe`),
      h("thead", null, h("tr", null, ["UUID", "Created", "Last used", "Status"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", null, rows),
    ),
  );
}

// ------------------------------------------------------------------------------------------
// Rotation

async function loadRotation(p, gen) {
  try {
    const { body } = await api(credPath(p.name, "rotation"));
    if (!isCurrent(gen) || p.rotating) return;
    renderRotation(p, body);
  } catch (err) {
    if (!isCurrent(gen) || checkRevoked(err) || p.rotating) return;
    if (err instanceof ApiError && err.code === "no_rotation") {
      p.rotation = null;
      replace(p.rotationEl, h("p", { class: "muted small" }, "No rotation yet for this credential."));
      setRotateLabel(p);
    } else {
      replace(p.rotationEl, notice("error", `Could not read the rotation. ${describe(err)}`));
    }
  }
}

function waitingForRetire(r) {
  const after = parseTime(r.retire_after);
  return r.in_progress && r.step === "retire" && after !== null && after > Date.now();
}

function setRotateLabel(p) {
  const r = p.rotation;
  if (p.rotating) p.rotateButton.textContent = "Rotating…";
  else if (r && r.in_progress) p.rotateButton.textContent = "Resume rotation";
  else p.rotateButton.textContent = "Rotate secret";
}

/** Draws a rotation: its steps (done / current / pending), its state in words, any error. */
function renderRotation(p, r, { busy = false, note = null } = {}) {
  p.rotation = r;
  setRotateLabel(p);
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
    p.rotationEl,
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
            { class: "rotation-log", open: p.logOpen, ontoggle: (ev) => (p.logOpen = ev.currentTarget.open) },
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

// ------------------------------------------------------------------------------------------
// Asking first: a rotation changes things at Adobe (a new secret now, the old one deleted later)

let dialog = null; // the confirmation dialog, built on first use

/**
 * A modal dialog that says what rotating does at Adobe and names the credential; resolves true
 * only when "Rotate secret" (or "Resume rotation") is pressed. Cancel, Escape or a sign-out
 * resolve false. The focus starts on Cancel, and goes back to the rotate button afterwards.
 */
function confirmRotation(p) {
  if (!dialog) {
    dialog = h(
      "dialog",
      { class: "confirm", id: "rotate-confirm", "aria-labelledby": "rotate-confirm-title", "aria-describedby": "rotate-confirm-text" },
      h("h2", { id: "rotate-confirm-title" }),
      h("p", { id: "rotate-confirm-text" }),
      h(
        "div",
        { class: "confirm-buttons" },
        h("button", { type: "button", class: "btn confirm-cancel", onclick: () => dialog.close("") }, "Cancel"),
        h("button", { type: "button", class: "btn btn-primary confirm-ok", onclick: () => dialog.close("rotate") }),
      ),
    );
    document.body.append(dialog);
  }
  const resume = Boolean(p.rotation?.in_progress);
  const name = h("strong", { class: "cred-name" }, p.name);
  replace(dialog.querySelector("h2"), resume ? "Resume the rotation of " : "Rotate the secret of ", name.cloneNode(true), "?");
  replace(
    dialog.querySelector("p"),
    resume ? "The rotation goes on where it stopped. " : "",
    "Rotating creates a new client secret for credential ",
    name,
    " at Adobe, tests it and switches the broker to it, then deletes the previous secret at Adobe after the grace period.",
  );
  dialog.querySelector(".confirm-ok").textContent = resume ? "Resume rotation" : "Rotate secret";
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        if (p.rotateButton.isConnected) p.rotateButton.focus();
        resolve(dialog.returnValue === "rotate");
      },
      { once: true },
    );
    dialog.showModal();
    dialog.querySelector(".confirm-cancel").focus();
  });
}

/** The rotate button: asks first, and rotates only once the admin confirmed. */
async function askToRotate(p) {
  if (p.rotating || !canChange() || dialog?.open) return;
  const gen = generation();
  if (!(await confirmRotation(p))) return;
  if (isCurrent(gen) && panels.get(p.name) === p) await rotate(p);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The rotate button: POST …/secrets/rotate runs as many steps as it can in one request, so while
 * it runs the rotation's record is polled every second and each step is drawn as it is written;
 * afterwards polling goes on while the rotation still moves (e.g. another call's run is at work),
 * and stops once it is finished, waits for the grace period, or stopped on an error.
 */
async function rotate(p) {
  if (p.rotating || !canChange()) return; // a viewer has no button; the broker would refuse it too
  const gen = generation();
  const name = p.name;
  const before = p.rotation;
  const oldId = before && !before.in_progress ? before.id : null; // a finished earlier rotation
  p.rotating = true;
  p.rotateButton.setAttribute("aria-disabled", "true"); // not `disabled`: keeps the focus
  p.rotateButton.setAttribute("aria-busy", "true");
  setRotateLabel(p);
  replace(p.rotationEl, h("p", { class: "rotation-status" }, "Starting the rotation…"));

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
      if (outcome || !isCurrent(gen)) break;
      try {
        const { body } = await api(credPath(name, "rotation"));
        if (!isCurrent(gen) || outcome) break;
        if (body.id !== oldId) {
          seen(body);
          renderRotation(p, body);
        }
      } catch (err) {
        if (checkRevoked(err)) return;
        // 404 no_rotation: the POST has not written its first step yet.
      }
    }
    await post;
    if (!isCurrent(gen)) return;
    if (outcome.err) {
      if (checkRevoked(outcome.err)) return;
      if (before) renderRotation(p, before);
      else replace(p.rotationEl);
      p.rotationEl.prepend(notice("error", `The rotation could not run. ${describe(outcome.err)}`));
      p.rotation = before;
      return;
    }
    let r = outcome.res.body;
    let busy = Boolean(r.busy);
    seen(r);
    renderRotation(p, r, { busy });
    // Afterwards: follow it while it still moves.
    while (
      isCurrent(gen) &&
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
      if (!isCurrent(gen)) return;
      seen(r);
      renderRotation(p, r, { busy });
    }
  } finally {
    if (isCurrent(gen)) {
      p.rotating = false;
      p.rotateButton.removeAttribute("aria-disabled");
      p.rotateButton.removeAttribute("aria-busy");
      setRotateLabel(p);
    }
  }
  if (isCurrent(gen)) {
    await Promise.all([loadSecrets(p, gen), loadMetrics(gen)]);
  }
}
