// A Worker that uses ims-broker-core the way a Cloudflare user would: bundled by wrangler
// (the package's "workerd" export condition, the .wasm as a compiled module), tokens cached
// in the isolate's memory and in a KV namespace (kvStore), background refresh via waitUntil.
import { TokenClient, kvStore, ImsError } from "ims-broker-core";

let client;

export default {
  async fetch(request, env, ctx) {
    client ??= new TokenClient({
      tokenUrl: env.TOKEN_URL,
      clientId: env.CLIENT_ID,
      clientSecret: env.CLIENT_SECRET,
      scopes: "openid,AdobeID",
      store: kvStore(env.TOKENS),
    });
    const scopes = new URL(request.url).searchParams.get("scopes") ?? undefined;
    try {
      const t = await client.getToken(scopes, { waitUntil: (p) => ctx.waitUntil(p) });
      return Response.json({ source: t.source, accessToken: t.accessToken, expiresIn: t.expiresIn, scope: t.scope, key: client.cacheKey(scopes) });
    } catch (e) {
      if (!(e instanceof ImsError)) throw e;
      return Response.json({ code: e.code, debugId: e.debugId }, { status: e.status ?? 500 });
    }
  },
};
