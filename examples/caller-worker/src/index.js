// Example: an edge function (a plain JS Worker) that needs an Adobe IMS access token
// and gets it from ims-broker instead of holding Adobe client secrets itself.
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
// For demonstration it answers every request with {"got_token": true, "expires_in": N,
// "via": "binding" | "url"} and NEVER returns or logs the token itself. A real caller
// would now use the token, e.g.
//     fetch(adobeApi, { headers: { authorization: `Bearer ${token.access_token}`,
//                                   "x-api-key": <client id> } })
// and may keep it in a module-level variable until shortly before it expires, to save
// a broker round trip per request (the broker itself caches in KV, so asking it each
// time is also fine).
//
// Bindings (see wrangler.toml):
//   BROKER        Service Binding to the ims-broker Worker (optional)
//   BROKER_URL    broker base URL, used only when BROKER is absent, e.g.
//                 "https://ims-broker.example.workers.dev"
//   BROKER_KEY    secret: this caller's key (`make caller-key NAME=...` in the broker repo)
//   BROKER_SCOPES optional comma-separated scopes to request (default: "openid")

export default {
  /**
   * @param {Request} request
   * @param {{BROKER?: Fetcher, BROKER_URL?: string, BROKER_KEY?: string, BROKER_SCOPES?: string}} env
   */
  async fetch(request, env) {
    if (!env.BROKER_KEY) {
      return json({ error: "misconfigured", message: "BROKER_KEY secret is not set" }, 500);
    }

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
      body: JSON.stringify({ scopes }),
    };

    let res;
    let via;
    try {
      if (env.BROKER) {
        // (a) Service Binding: the hostname is ignored (the binding decides where the
        // request goes); only the path matters.
        via = "binding";
        res = await env.BROKER.fetch("https://broker/v1/token", init);
      } else if (env.BROKER_URL) {
        // (b) Plain HTTP(S) to the broker's public URL.
        via = "url";
        res = await fetch(env.BROKER_URL.replace(/\/+$/, "") + "/v1/token", init);
      } else {
        return json({ error: "misconfigured", message: "set a BROKER service binding or BROKER_URL" }, 500);
      }
    } catch (err) {
      // Network-level failure (broker down, DNS, ...). Do not echo details that could
      // include the URL's credentials; a short reason is enough.
      return json({ error: "broker_unreachable", via, message: String(err && err.message) }, 502);
    }

    if (!res.ok) {
      // Pass the broker's error through unchanged (status, body, content type, and
      // Retry-After so the client can back off as the broker asks).
      const headers = new Headers();
      for (const h of ["content-type", "retry-after", "www-authenticate"]) {
        const v = res.headers.get(h);
        if (v !== null) headers.set(h, v);
      }
      return new Response(res.body, { status: res.status, headers });
    }

    let token;
    try {
      token = await res.json();
    } catch {
      return json({ error: "bad_broker_response", via, message: "broker answered 2xx without a JSON body" }, 502);
    }
    // Use token.access_token here. Never return or log it.
    return json({ got_token: typeof token.access_token === "string" && token.access_token.length > 0, expires_in: token.expires_in, via });
  },
};

function json(body, status = 200) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}
