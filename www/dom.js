// DOM building blocks. Under the CSP of www/_headers (no inline script or style):
//  - every element is built with the DOM API and every text goes in with textContent or a text
//    node (never innerHTML), which also keeps anything the API returns from being taken as markup;
//  - dynamic sizes are set through the CSSOM (`el.style.width`), never a `style` attribute.

import { fmtRelative, fmtTime, parseTime } from "./format.js";

export const $ = (id) => document.getElementById(id);

/**
 * Builds an element: h("p", {class: "x", "aria-live": "polite"}, "text", child, …).
 * Attribute values go through setAttribute, text through text nodes; `style` is refused.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** The same for SVG elements (the chart). */
export function s(tag, attrs, ...children) {
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

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** A <time> element: local time, with the exact ISO instant in datetime and title. */
export function timeEl(value, { relative = false } = {}) {
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

export function scopeList(scope) {
  const names = String(scope ?? "")
    .split(/[,\s]+/)
    .filter(Boolean);
  if (names.length === 0) return h("span", { class: "muted" }, "(no scope)");
  return h("ul", { class: "scopes", "aria-label": "Scopes" }, names.map((n) => h("li", null, h("code", null, n))));
}

export function badge(text, kind) {
  return h("span", { class: `badge badge-${kind}` }, text);
}

export function dl(rows, cls = "facts") {
  return h(
    "dl",
    { class: cls },
    rows.filter(Boolean).map(([term, ...def]) => h("div", null, h("dt", null, term), h("dd", null, def))),
  );
}

export function notice(kind, ...children) {
  return h("p", { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : null }, children);
}
