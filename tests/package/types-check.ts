// Type-checked with `tsc --strict` and `deno check` against the installed package's
// hand-written index.d.ts (tests/package/30-runtimes.test.mjs): every public option, result
// and error is typed, and misuse is a type error.
import {
  TokenClient,
  Secret,
  MemoryStore,
  RotationState,
  kvStore,
  isImsError,
  ImsError as ImsErrorClass,
  generateAccessToken,
  invalidateCache,
  canonicalScopes,
  cacheDecision,
  parseTokenResponse,
  tokenRequest,
  type Token,
  type TokenStore,
  type RotationAction,
  type SecretInfo,
  type ImsError,
  type ErrorCode,
  type AccessTokenResponse,
} from "ims-broker-core";

const store: TokenStore = new MemoryStore();
const client = new TokenClient({
  clientId: "id",
  clientSecret: new Secret("s"),
  scopes: ["openid", "AdobeID"],
  store,
  fetch: globalThis.fetch,
  timeoutMs: 5_000,
  onError: (error: unknown, source: "store_get" | "store_put" | "refresh") => void [error, source],
});
const oauth = new TokenClient({ protocol: "oauth2", tokenUrl: "https://as.example/token", clientId: "id", clientSecret: "s", clientAuth: "post" });

export async function use(): Promise<string> {
  const t: Token = await client.getToken("openid,AdobeID", { waitUntil: (p: Promise<void>) => void p });
  const n: number = t.expiresIn + t.expiresAt;
  const source: "memory" | "store" | "miss" | "stale" = t.source;
  const list: SecretInfo[] = await client.secrets({ orgId: "1", credentialId: "2" }).list();
  const state = new RotationState();
  const action: RotationAction = state.plan(list, Date.now());
  if (action.kind === "retire") {
    const uuid: string = action.uuid;
    void uuid;
  }
  const forced: Token = await client.getToken(undefined, { forceRefresh: true });
  client.invalidate(["openid"]);
  client.invalidate();
  const aio: AccessTokenResponse = await generateAccessToken({ clientId: "id", clientSecret: "s", orgId: "o@AdobeOrg", scopes: ["openid"] }, "stage");
  const bearer: string = `${aio.token_type} ${aio.access_token}`;
  const seconds: number = aio.expires_in;
  invalidateCache();
  void [forced, bearer, seconds];
  try {
    await oauth.getToken();
  } catch (e) {
    if (e instanceof ImsErrorClass) {
      const code: ErrorCode = e.code;
      const retry: number | undefined = e.retryAfter;
      void [code, retry];
    }
    if (isImsError(e)) {
      const err: ImsError = e;
      const code: ErrorCode = err.code;
      const id: string | undefined = err.debugId;
      void [code, id];
    }
  }
  const kv = kvStore({ get: async (_k: string) => null, put: async (_k: string, _v: string, _o: { expirationTtl: number }) => {} });
  void [n, source, kv, canonicalScopes(["a"]).comma, cacheDecision({ sentAt: 0, expiresAt: 1 }, 0).freshness];
  void parseTokenResponse({ status: 200, headers: { a: "b" }, body: "{}" }, 0).expiresAt;
  return tokenRequest({ clientId: "id", clientSecret: "s" }).body;
}

// @ts-expect-error clientId is required
new TokenClient({ clientSecret: "s" });
// @ts-expect-error tokenUrl is required for oauth2
new TokenClient({ protocol: "oauth2", clientId: "id", clientSecret: "s" });
// @ts-expect-error clientAuth is an oauth2 option
new TokenClient({ clientId: "id", clientSecret: "s", clientAuth: "basic" });
// @ts-expect-error scopes are strings
void client.getToken([1, 2]);
// @ts-expect-error forceRefresh is a boolean
void client.getToken(undefined, { forceRefresh: "yes" });
// @ts-expect-error aio-lib-core-auth's scopes are an array
void generateAccessToken({ clientId: "id", clientSecret: "s", orgId: "o", scopes: "openid" });
// @ts-expect-error the IMS environment is "prod" or "stage"
void generateAccessToken({ clientId: "id", clientSecret: "s", orgId: "o" }, "dev");
// @ts-expect-error an ImsError needs a known code
void new ImsErrorClass("m", { code: "nope" });
const made: ImsErrorClass = new ImsErrorClass("m", { code: "invalid_options" });
void (made instanceof Error);
