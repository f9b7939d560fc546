// Example: an edge function (a plain JS Worker) that calls an Adobe API with an Adobe IMS access
// token it gets from ims-broker, instead of holding Adobe client secrets itself.
//
// It shows the two ways to reach the broker:
//   (a) a Service Binding named BROKER (recommended: Worker-to-Worker call inside
//       Cloudflare, no public hop, no DNS, and the broker need not be public at all);
//   (b) plain fetch() to BROKER_URL, when no binding is configured (e.g. the broker
//       runs on another account or is reached over the internet).
// Either way the caller authenticates with its caller key (secret BROKER_KEY), sent as
// `Authorization: Bearer <key>`; the broker checks it against the sha256 in its
// CALLER_KEYS and against what that caller may ask for (credentials, scopes).
//
// On each request it calls the Adobe API at ADOBE_API_URL (GET) with
//     authorization: Bearer <access_token>     x-api-key: <client_id>
// both taken from the broker's answer: Adobe's gateway wants the credential's client id as
// x-api-key next to the token, and the broker says which one its token belongs to.
//
// Token handling:
//   - The token is kept in module scope (one copy per isolate) until the broker's `expires_in`
//     less a small margin, and the broker is not asked again meanwhile. `expires_in` already
//     stops short of Adobe's expiry (the broker keeps its own safety margin), so the margin
//     here only covers the time between the broker's answer and the last use. Concurrent first
//     requests of a fresh isolate may each ask the broker; the broker serves them one token.
//   - If the API answers 401, the token is dropped and the broker is asked once more, with
//     `"refused": <the token's SHA-256, hex>` in the body: the broker then no longer serves that
//     token and mints a new one (at most once a minute per scope set; a token it has already
//     replaced is simply not served again). The API call is retried once with the new token; a
//     second 401 is answered as an error (502 `adobe_unauthorized`), never retried in a loop.
//   - Any other API status is answered as 502 `adobe_api_error` with the API's status and body
//     (a 403 means a wrong x-api-key or missing permission: a new token would not help).
//
// It answers {"via": "binding" | "url", "api_status": 200, "api": <the API's JSON>,
// "token_from": "kept" | "broker", "retried": false | true} and NEVER returns or logs the
// token itself. The broker's own errors (401 with its challenge, 403, 429, 5xx) are passed
// through unchanged.
//
// Bindings (see wrangler.toml):
//   BROKER        Service Binding to the ims-broker Worker (optional)
//   BROKER_URL    broker base URL, used only when BROKER is absent, e.g.
//                 "https://ims-broker.example.workers.dev"
//   BROKER_KEY    secret: this caller's key (`make caller-key NAME=...` in the broker repo)
//   BROKER_SCOPES optional comma-separated scopes to request (default: "openid")
//   ADOBE_API_URL the Adobe API endpoint to GET with the token

/** Most seconds kept back from the broker's `expires_in` before the kept token is dropped. */
const MAX_MARGIN_S = 30;

/**
 * The token this isolate holds: {accessToken, clientId, keepUntilMs}, or null. Module scope, so
 * it outlives one request and is shared by every request this isolate serves.
 */
let kept = null;

export default {
  /**
   * @param {Request} request
   * @param {{BROKER?: Fetcher, BROKER_URL?: string, BROKER_KEY?: string, BROKER_SCOPES?: string, ADOBE_API_URL?: string}} env
   */
  async fetch(request, env) {
    if (!env.BROKER_KEY) {
      return json({ error: "misconfigured", message: "BROKER_KEY secret is not set" }, 500);
    }
    if (!env.ADOBE_API_URL) {
      return json({ error: "misconfigured", message: "ADOBE_API_URL is not set" }, 500);
    }
    const via = env.BROKER ? "binding" : env.BROKER_URL ? "url" : null;
    if (!via) {
      return json({ error: "misconfigured", message: "set a BROKER service binding or BROKER_URL" }, 500);
    }

    let tokenFrom = "kept";
    let token = keptToken();
    if (!token) {
      const got = await tokenFromBroker(env, via);
      if (got.response) return got.response;
      token = got.token;
      tokenFrom = "broker";
    }

    let res = await callApi(env, token);
    let retried = false;
    if (res.status === 401) {
      // The API refused the token (revoked, or expired earlier than announced): drop it, ask the
      // broker once more, and retry once.
      await res.body?.cancel();
      forget(token);
      console.warn("caller-example: the Adobe API answered 401; asking the broker for a token and retrying once");
      const got = await tokenFromBroker(env, via, token);
      if (got.response) return got.response;
      token = got.token;
      tokenFrom = "broker";
      retried = true;
      res = await callApi(env, token);
      if (res.status === 401) {
        await res.body?.cancel();
        forget(token);
        console.warn("caller-example: the Adobe API answered 401 again; giving up on this request");
        return json(
          { error: "adobe_unauthorized", via, message: "the Adobe API refused the broker's token twice (401)", retried },
          502,
        );
      }
    }
    if (res.status === 0) {
      return json({ error: "adobe_unreachable", via, message: res.message, retried }, 502);
    }

    const body = await readJson(res);
    if (!res.ok) {
      return json({ error: "adobe_api_error", via, api_status: res.status, api: body, retried }, 502);
    }
    return json({ via, api_status: res.status, api: body, token_from: tokenFrom, retried });
  },
};

/** The kept token while it may still be used, else null (and it is dropped). */
function keptToken() {
  if (kept && Date.now() < kept.keepUntilMs) return kept;
  kept = null;
  return null;
}

/** Drops the kept token if it is `token` (a concurrent request may have kept a newer one). */
function forget(token) {
  if (kept && kept.accessToken === token.accessToken) kept = null;
}

/** The SHA-256 of a token, hex: how the broker is told which token an API refused. */
async function sha256Hex(text) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Asks the broker for a token and keeps it; with `refused`, reports that token as refused by
 * the API so that the broker replaces it. Returns {token} or {response}: the answer to give
 * when the broker could not be reached or said no.
 */
async function tokenFromBroker(env, via, refused) {
  const scopes = (env.BROKER_SCOPES || "openid")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const init = {
    method: "POST",
    headers: {
      authorization: `Bearer ${env.BROKER_KEY}`,
      "content-type": "application/json",
    },
    body: JSON.stringify(refused ? { scopes, refused: await sha256Hex(refused.accessToken) } : { scopes }),
  };

  let res;
  try {
    // (a) Service Binding: the hostname is ignored (the binding decides where the request
    // goes); only the path matters. (b) Plain HTTP(S) to the broker's public URL.
    res =
      via === "binding"
        ? await env.BROKER.fetch("https://broker/v1/token", init)
        : await fetch(env.BROKER_URL.replace(/\/+$/, "") + "/v1/token", init);
  } catch (err) {
    // Network-level failure (broker down, DNS, ...). Do not echo details that could
    // include the URL's credentials; a short reason is enough.
    return { response: json({ error: "broker_unreachable", via, message: String(err && err.message) }, 502) };
  }

  if (!res.ok) {
    // Pass the broker's error through unchanged (status, body, content type, and
    // Retry-After so the client can back off as the broker asks).
    const headers = new Headers();
    for (const h of ["content-type", "retry-after", "www-authenticate"]) {
      const v = res.headers.get(h);
      if (v !== null) headers.set(h, v);
    }
    return { response: new Response(res.body, { status: res.status, headers }) };
  }

  const answer = await readJson(res);
  const usable =
    answer &&
    typeof answer.access_token === "string" &&
    answer.access_token.length > 0 &&
    typeof answer.client_id === "string" &&
    answer.client_id.length > 0;
  if (!usable) {
    return {
      response: json(
        { error: "bad_broker_response", via, message: "broker answered 2xx without access_token and client_id" },
        502,
      ),
    };
  }
  const expiresInS = Number.isFinite(answer.expires_in) ? answer.expires_in : 0;
  const marginS = Math.min(MAX_MARGIN_S, expiresInS / 10);
  const token = {
    accessToken: answer.access_token,
    clientId: answer.client_id,
    keepUntilMs: Date.now() + (expiresInS - marginS) * 1000,
  };
  // A token with no life left worth keeping is used for this request only.
  kept = expiresInS > 0 ? token : null;
  return { token };
}

/**
 * GETs the Adobe API with the token and its client id. A network failure comes back as
 * {status: 0, message}.
 */
async function callApi(env, token) {
  try {
    return await fetch(env.ADOBE_API_URL, {
      method: "GET",
      headers: {
        authorization: `Bearer ${token.accessToken}`,
        "x-api-key": token.clientId,
        accept: "application/json",
      },
    });
  } catch (err) {
    return { status: 0, ok: false, message: String(err && err.message) };
  }
}

/** The body as JSON, or null when it is not JSON. */
async function readJson(res) {
  try {
    return await res.json();
  } catch {
    return null;
  }
}

function json(body, status = 200) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}
