// The "Trusted issuers" panel: what stands in for caller keys (GET /v1/identity), the issuers of
// TRUSTED_ISSUERS and the federated callers of CALLER_KEYS with their bound claims. That answer
// holds no token, key or digest, and no token is ever asked for or shown here. Read on sign-in
// and "Refresh now" only, since it changes only with a deploy.

import { api, checkRevoked, describe, isCurrent } from "./api.js";
import { $, badge, h, notice, replace } from "./dom.js";
import { fmtDuration, fmtNumber } from "./format.js";

export async function loadIdentity(gen) {
  let body;
  try {
    body = (await api("/v1/identity")).body;
  } catch (err) {
    if (!isCurrent(gen) || checkRevoked(err)) return;
    replace($("identity"), notice("error", `Could not read the trusted issuers. ${describe(err)}`));
    return;
  }
  if (!isCurrent(gen)) return;
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
