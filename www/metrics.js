// The broker's counters (GET /v1/metrics): a sample for the chart (chart.js), the counters as
// tables, and the recent events with a filter by credential.

import { api, checkRevoked, describe, isCurrent, signedIn } from "./api.js";
import { addSample, renderChart } from "./chart.js";
import { $, badge, h, notice, replace, timeEl } from "./dom.js";
import { fmtNumber, fmtTime } from "./format.js";

// Event filter value for events of no credential (the store-key sweep): not a credential name,
// since those are [a-z0-9_-] only.
const NO_CREDENTIAL = "(broker)";

let events = [];
let eventFilterValue = "";
let filterEl = null;
let eventsTable = null;
let credentials = []; // the configured credentials' names, for the filter

const sum = (obj) => Object.values(obj ?? {}).reduce((a, b) => a + Number(b || 0), 0);

export function resetMetrics() {
  events = [];
  eventFilterValue = "";
  filterEl = null;
  eventsTable = null;
  credentials = [];
}

/** The configured credentials changed: the filter offers each of them. */
export function setEventCredentials(names) {
  credentials = [...names];
  renderEvents();
}

export async function loadMetrics(gen) {
  let body;
  try {
    body = (await api("/v1/metrics")).body;
  } catch (err) {
    if (!isCurrent(gen) || checkRevoked(err)) return;
    replace($("counters"), notice("error", `Could not read the metrics. ${describe(err)}`));
    return;
  }
  if (!isCurrent(gen)) return;
  addSample(body);
  events = body.events ?? [];
  renderCounters(body.counters ?? {});
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

/** The credential filter of the events list: built once, so re-drawing keeps its focus. */
function eventFilter() {
  if (filterEl && filterEl.isConnected) return filterEl;
  const select = h("select", { id: "event-filter" });
  select.addEventListener("change", () => {
    eventFilterValue = select.value;
    renderEvents();
  });
  filterEl = select;
  eventsTable = h("div", { class: "events-table-wrap" });
  replace($("events"), h("div", { class: "filter-row" }, h("label", { for: "event-filter" }, "Show events of"), select), eventsTable);
  return select;
}

/**
 * The filter's choices: all, every credential (configured or seen in an event), and the events of
 * no credential (the store-key sweep has an empty one) when there are any.
 */
function filterOptions() {
  const named = events.map((e) => e.credential).filter(Boolean);
  const creds = [...new Set([...credentials, ...named])].sort();
  const options = [["", "All credentials"], ...creds.map((c) => [c, c])];
  if (events.some((e) => !e.credential)) options.push([NO_CREDENTIAL, "Broker-wide (no credential)"]);
  return options;
}

function eventShown(e) {
  if (!eventFilterValue) return true;
  if (eventFilterValue === NO_CREDENTIAL) return !e.credential;
  return e.credential === eventFilterValue;
}

function renderEvents() {
  if (!signedIn()) return;
  const select = eventFilter();
  const options = filterOptions();
  const values = options.map(([value]) => value);
  const have = [...select.options].map((o) => o.value);
  if (have.join("\n") !== values.join("\n")) {
    replace(select, options.map(([value, text]) => h("option", { value }, text)));
  }
  if (!values.includes(eventFilterValue)) eventFilterValue = "";
  select.value = eventFilterValue;
  const list = events.filter(eventShown).slice(0, 100);
  const kindBadge = (k) =>
    ({
      refresh: badge("refresh", "ok"),
      upstream_failure: badge("upstream failure", "error"),
      rotation: badge("rotation", "info"),
      store_key: badge("store key", "info"),
    })[k] ?? badge(k, "muted");
  replace(
    eventsTable,
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
