// Comparison Worker (c) for `make bench`: the usual hand-written token vendor. Checks a shared
// caller key, reads the cached token from KV on EVERY request, and only on a miss asks IMS
// (client_credentials) and stores the answer in KV with a TTL.
//
// Bindings: TOKENS (KV), CALLER_KEY, IMS_TOKEN_URL, CLIENT_ID, CLIENT_SECRET, SCOPES.
const KEY = "token:default";

export default {
  async fetch(request, env) {
    if (request.method !== "POST") return new Response("method not allowed", { status: 405 });
    if (request.headers.get("authorization") !== `Bearer ${env.CALLER_KEY}`) {
      return Response.json({ error: "unauthorized" }, { status: 401 });
    }
    const now = Date.now();
    let token = await env.TOKENS.get(KEY, "json");
    if (!token || token.expires_at <= now + 60_000) {
      const res = await fetch(env.IMS_TOKEN_URL, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "client_credentials",
          client_id: env.CLIENT_ID,
          client_secret: env.CLIENT_SECRET,
          scope: env.SCOPES,
        }),
      });
      if (!res.ok) return Response.json({ error: "upstream", status: res.status }, { status: 502 });
      const body = await res.json();
      token = { access_token: body.access_token, expires_at: now + body.expires_in * 1000 };
      const ttl = Math.max(60, Math.floor((token.expires_at - now) / 1000) - 60);
      await env.TOKENS.put(KEY, JSON.stringify(token), { expirationTtl: ttl });
    }
    return Response.json(
      {
        access_token: token.access_token,
        token_type: "bearer",
        expires_in: Math.floor((token.expires_at - now) / 1000) - 60,
      },
      { headers: { "cache-control": "no-store" } },
    );
  },
};
