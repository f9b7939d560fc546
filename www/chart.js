// The counters chart: a sample of the broker's counters every SAMPLE_MS, drawn as counts per
// minute over the last hour, as inline SVG coloured by classes from app.css.

import { $, h, replace, s } from "./dom.js";
import { fmtNumber, fmtTime } from "./format.js";

export const SAMPLE_MS = 10_000; // token entries + metrics sample
const HOUR_MS = 3_600_000; // chart window

const SERIES = [
  { key: "requests", label: "Requests" },
  { key: "hits", label: "Cache hits (memory + KV)" },
  { key: "ims", label: "IMS calls" },
  { key: "errors", label: "Error answers (4xx/5xx)" },
];

let samples = []; // metrics samples over the last hour, oldest first

/**
 * The longest time between two samples that still gives a rate: a longer one (the tab was closed,
 * or its timers throttled for long) is a gap in the lines, not one minute holding it all.
 */
const MAX_GAP_MS = 150_000;

const sum = (obj) => Object.values(obj ?? {}).reduce((a, b) => a + Number(b || 0), 0);

// The samples are kept in this tab (sessionStorage), so that a reload keeps the chart's hour.
// Only what the chart needs goes there: timestamps, counter totals and isolate ids; never a key,
// a token or anything else of an answer.
const SAMPLES_STORAGE = "ims-broker.console.samples";
const COUNTS = ["since", ...SERIES.map(({ key }) => key)];

/** A sample as stored: exactly its fields, each of its type; null for anything else. */
function stored(smp) {
  if (!smp || typeof smp !== "object" || !Number.isFinite(smp.t)) return null;
  if (typeof smp.isolate !== "string" || smp.isolate.length > 128) return null;
  const out = { t: smp.t, isolate: smp.isolate };
  for (const key of COUNTS) {
    if (!Number.isFinite(smp[key]) || smp[key] < 0) return null;
    out[key] = smp[key];
  }
  return out;
}

function save() {
  try {
    sessionStorage.setItem(SAMPLES_STORAGE, JSON.stringify(samples.map(stored).filter(Boolean)));
  } catch {
    // storage full or refused: the chart still works for this page
  }
}

/** Takes back this tab's samples of the last hour (after a reload), and draws them. */
export function restoreChart() {
  let list = [];
  try {
    list = JSON.parse(sessionStorage.getItem(SAMPLES_STORAGE) ?? "[]");
  } catch {
    list = [];
  }
  const now = Date.now();
  samples = (Array.isArray(list) ? list : [])
    .map(stored)
    .filter((smp) => smp && smp.t >= now - HOUR_MS && smp.t <= now + 60_000)
    .sort((a, b) => a.t - b.t);
  save();
  if (samples.length) renderChart();
}

/** Forgets the samples, this tab's copy too (sign-out). */
export function resetChart() {
  samples = [];
  sessionStorage.removeItem(SAMPLES_STORAGE);
}

/**
 * Takes a sample of a GET /v1/metrics answer's counters; drops samples older than an hour.
 * `isolate` says which isolate counted them: each isolate counts from its own start.
 */
export function addSample(body) {
  const c = body.counters ?? {};
  let errors = 0;
  for (const [k, v] of Object.entries(c.requests ?? {})) {
    const status = Number(k.split(" ").pop());
    if (status >= 400) errors += Number(v || 0);
  }
  const now = Date.now();
  samples.push({
    t: now,
    isolate: typeof body.isolate === "string" ? body.isolate : "",
    since: Number(c.since_ms ?? 0),
    requests: sum(c.requests),
    hits: Number(c.cache?.memory ?? 0) + Number(c.cache?.kv ?? 0),
    ims: sum(c.ims_calls),
    errors,
  });
  samples = samples.filter((smp) => smp.t >= now - HOUR_MS);
  save();
}

/**
 * True when b's counters continue a's: the same isolate (the same start too), not too long
 * after, and no counter went down. Otherwise no rate is computed between them.
 */
function continues(a, b) {
  return (
    a.isolate === b.isolate &&
    a.since === b.since &&
    b.t - a.t <= MAX_GAP_MS &&
    SERIES.every(({ key }) => b[key] >= a[key])
  );
}

/**
 * The samples as per-minute counts over the last hour: up to 60 one-minute bins, each holding how
 * much every series grew during that minute, from consecutive samples that continue each other.
 * Where they do not (another isolate counted the later one: it counts from its own start), that
 * pair adds nothing and the later sample's minute starts a new stretch of line. Bins before the
 * first sample, or of minutes without one, do not exist.
 * Returns {first, bins: [[minute, values, joined]]}, joined: a line comes from the bin before.
 */
function minuteBins(now = Date.now()) {
  const first = Math.floor((now - HOUR_MS) / 60_000) + 1; // the oldest of the 60 bins
  const bins = new Map();
  const breaks = new Set(); // minutes that start a new stretch
  const bin = (t) => {
    const m = Math.floor(t / 60_000);
    if (m < first) return null;
    if (!bins.has(m)) bins.set(m, Object.fromEntries(SERIES.map(({ key }) => [key, 0])));
    return bins.get(m);
  };
  if (samples.length) bin(samples[0].t);
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1];
    const b = samples[i];
    const target = bin(b.t);
    if (!target) continue;
    if (!continues(a, b)) {
      breaks.add(Math.floor(b.t / 60_000));
      continue;
    }
    for (const { key } of SERIES) target[key] += b[key] - a[key];
  }
  const sorted = [...bins.entries()].sort((x, y) => x[0] - y[0]);
  return {
    first,
    bins: sorted.map(([m, v], i) => [m, v, i > 0 && sorted[i - 1][0] === m - 1 && !breaks.has(m)]),
  };
}

/** The bins as stretches of joined bins: one polyline each. */
function stretches(bins) {
  const out = [];
  for (const b of bins) {
    if (b[2] && out.length) out[out.length - 1].push(b);
    else out.push([b]);
  }
  return out;
}

function niceMax(v) {
  if (v <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

/** Which isolate counted the latest sample, and how many counted the hour's. */
function isolateLine() {
  const last = samples[samples.length - 1];
  if (!last) return null;
  const seen = new Set(samples.map((smp) => `${smp.isolate}|${smp.since}`)).size;
  return h(
    "p",
    { class: "chart-isolate small", "data-isolate": last.isolate },
    "Counted by isolate ",
    last.isolate ? h("code", { class: "isolate-id" }, last.isolate) : h("span", { class: "muted" }, "(not reported)"),
    last.since ? ` since ${fmtTime(last.since)}` : null,
    ". ",
    h(
      "span",
      { class: "muted" },
      "Each isolate counts from its own start: where another isolate answered, the lines have a gap",
      seen > 1 ? ` (this hour's samples come from ${seen} isolates)` : null,
      ".",
    ),
  );
}

export function renderChart() {
  const root = $("chart");
  const { first, bins } = minuteBins();
  const W = 600;
  const H = 150;
  const x = (m) => ((m - first + 0.5) / 60) * W;
  const max = niceMax(Math.max(0, ...bins.flatMap(([, v]) => SERIES.map(({ key }) => v[key]))));
  const y = (v) => H - 4 - (v / max) * (H - 10);
  const latest = bins.length ? bins[bins.length - 1][1] : null;
  const summary = latest
    ? `Counts per minute over the last hour, since this tab started sampling. This minute so far: ${SERIES.map(({ key, label }) => `${label} ${latest[key]}`).join(", ")}.`
    : "Counts per minute over the last hour: waiting for the first sample.";
  const nonScaling = { "vector-effect": "non-scaling-stroke" };
  const svg = s(
    "svg",
    { class: "chart-svg", viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img", "aria-label": summary },
    s("title", null, summary),
    [0.5, 1].map((f) => s("line", { class: "grid", x1: 0, x2: W, y1: y(max * f), y2: y(max * f), ...nonScaling })),
    s("line", { class: "axis", x1: 0, x2: W, y1: H - 1, y2: H - 1, ...nonScaling }),
    SERIES.map(({ key }, i) => [
      // A line through each stretch of joined minutes; none across a gap or an isolate switch.
      stretches(bins)
        .filter((run) => run.length > 1)
        .map((run) =>
          s("polyline", {
            class: `series line series-${i}`,
            "data-series": key,
            fill: "none",
            points: run.map(([m, v]) => `${x(m).toFixed(1)},${y(v[key]).toFixed(1)}`).join(" "),
            ...nonScaling,
          }),
        ),
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
    isolateLine(),
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
    h("p", { class: "small muted" }, `Per minute, from this tab's samples of the counters every ${SAMPLE_MS / 1000} s (kept for an hour in this tab, across reloads).`),
  );
}
