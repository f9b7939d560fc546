// Type declarations of ims-broker-core (hand-written; the same for every runtime entry).

/** Scopes as Adobe's comma string (`"openid,AdobeID"`), an RFC 6749 space string for
 *  `protocol: "oauth2"` clients (`"read write"`), or a list of names. */
export type ScopesInput = string | readonly string[];

/** The headers of a request the package sends. */
export type RequestHeaders = Record<string, string>;

/** What the package passes to `fetch`. */
export interface FetchInit {
  method: "GET" | "POST" | "DELETE";
  headers: RequestHeaders;
  /** Form body of token requests (UTF-8); absent for the I/O Management API's calls. */
  body?: ArrayBuffer;
  /** Aborted when the call exceeds `timeoutMs`. */
  signal: AbortSignal;
}

/** The part of a `Response` the package reads. */
export interface FetchResponseLike {
  readonly status: number;
  readonly headers: { forEach(callback: (value: string, name: string) => void): void };
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** A `fetch` (the global one fits). Must not retry: retries are the package's. */
export type FetchLike = (url: string, init: FetchInit) => Promise<FetchResponseLike>;

/**
 * A shared store for tokens (Redis, Workers KV via `kvStore`, a `MemoryStore`, …).
 * Values are JSON text holding the access token: protect the store accordingly. A failing
 * `get` counts as a miss and a failing `put` only loses sharing; both go to `onError` (without
 * one, to `console.warn`, once per kind of failure and client).
 */
export interface TokenStore {
  get(key: string): Promise<string | null | undefined> | string | null | undefined;
  /** `ttlSeconds` is garbage collection only (at least 65): the value carries its own expiry. */
  put(key: string, value: string, ttlSeconds: number): Promise<unknown> | unknown;
}

/** Where `onError` saw a problem that did not fail a `getToken`. */
export type BackgroundErrorSource = "store_get" | "store_put" | "refresh";

interface CommonClientOptions {
  /** The client (API key) id. */
  clientId: string;
  /** The client secret: a string or a `Secret`. Kept in WebAssembly memory, never printed. */
  clientSecret: string | Secret;
  /** Default scopes of `getToken()`. */
  scopes?: ScopesInput;
  /** Default: the runtime's global `fetch`, looked up at each call. */
  fetch?: FetchLike;
  /** Default: none (the client's own in-memory cache only). */
  store?: TokenStore;
  /** Name of the credential in the cache key (default `"default"`). Clients of different
   *  token endpoints that share one store need different names. */
  credential?: string;
  /** Timeout of each token-endpoint call, ms (default 10 000). */
  timeoutMs?: number;
  /** Receives the promise of each background refresh (e.g. a Worker's `ctx.waitUntil`);
   *  see also `GetTokenOptions.waitUntil`. */
  waitUntil?: (promise: Promise<void>) => void;
  /** Told about store failures and failed background refreshes. Default: `console.warn`, once
   *  per kind of failure (`source`) and client. */
  onError?: (error: unknown, source: BackgroundErrorSource) => void;
}

/** An Adobe IMS client (OAuth Server-to-Server credential). */
export interface AdobeClientOptions extends CommonClientOptions {
  protocol?: "adobe";
  /** Default `DEFAULT_TOKEN_URL` (`https://ims-na1.adobelogin.com/ims/token/v3`). */
  tokenUrl?: string;
}

/** A client of any RFC 6749 token endpoint (`client_credentials` grant). */
export interface OAuth2ClientOptions extends CommonClientOptions {
  protocol: "oauth2";
  tokenUrl: string;
  /** `client_secret_basic` (default) or `client_secret_post`. */
  clientAuth?: "basic" | "post";
}

export type TokenClientOptions = AdobeClientOptions | OAuth2ClientOptions;

/** Where a token came from. */
export type TokenSource = "memory" | "store" | "miss" | "stale";

/** A usable access token. */
export interface Token {
  accessToken: string;
  tokenType: "bearer";
  /** Whole seconds it may still be used: counts down to `expiresAt`. */
  expiresIn: number;
  /** Epoch ms of the last instant it may be used: the endpoint's expiry less the skew
   *  (`min(60 s, lifetime / 10)`). */
  expiresAt: number;
  /** Canonical scopes: comma list (Adobe) or space list (OAuth2). */
  scope: string;
  /** `memory`/`store`: cached; `miss`: minted for this call (or a concurrent one it joined);
   *  `stale`: past 23/24 of its usable life, served while one background refresh runs. */
  source: TokenSource;
}

export interface GetTokenOptions {
  /** Receives the background refresh this call may start (a Worker's `ctx.waitUntil`). */
  waitUntil?: (promise: Promise<void>) => void;
  /** Skip the cached token (memory and store) and get a new one from the token endpoint
   *  (concurrent calls still share one call; during a failure's cooldown it rejects with that
   *  failure). The new token replaces the cached one, in the store too. */
  forceRefresh?: boolean;
}

/**
 * Cached tokens of one client: `getToken()` applies the ims-broker rules (cache key of
 * credential + client id + canonical scopes; skew; early refresh after 23/24 of the usable
 * life; single-flight; 3 attempts with full-jitter backoff honouring Retry-After; a cooldown
 * shared by concurrent callers after a failure; never a token past `expiresAt`).
 */
export declare class TokenClient {
  constructor(options: TokenClientOptions);
  /** Rejects with an `ImsError`. */
  getToken(scopes?: ScopesInput | null, options?: GetTokenOptions): Promise<Token>;
  /** Drops the cached token of `scopes`, or of every scope set of this client when called
   *  without scopes: the next `getToken` of each calls the token endpoint without reading the
   *  store, and its token replaces the store's. For a token a resource server refused.
   *  Throws an `ImsError` (`invalid_scope`) for bad scopes. */
  invalidate(scopes?: ScopesInput | null): void;
  /** The cache key (and store key) of `scopes` (default: the client's scopes). */
  cacheKey(scopes?: ScopesInput | null): string;
  /** The client's canonical default scopes. */
  readonly scope: string;
  /** The I/O Management API's client-secret operations for one Developer Console credential
   *  of this (Adobe) client, with a token of this client with `MANAGEMENT_SCOPES`. */
  secrets(target: SecretsTarget): SecretsClient;
  /** Public settings only (`clientSecret: "[redacted]"`). */
  toJSON(): TokenClientDescription;
  toString(): string;
  /** Frees the WebAssembly memory now instead of at garbage collection. */
  free(): void;
  [Symbol.dispose](): void;
}

export interface TokenClientDescription {
  clientId: string;
  tokenUrl: string;
  protocol: "adobe" | "oauth2";
  credential: string;
  scope: string;
  clientSecret: "[redacted]";
}

/** Which Developer Console credential `secrets()` addresses. */
export interface SecretsTarget {
  /** The numeric Developer Console org id (not the `…@AdobeOrg` IMS org id). */
  orgId: string;
  credentialId: string;
  /** Default `DEFAULT_IO_API_BASE_URL` (`https://api.adobe.io`). */
  baseUrl?: string;
}

/** A client secret as Adobe lists it (never its value). */
export interface SecretInfo {
  uuid: string;
  /** Epoch ms. */
  createdAt: number;
  /** Epoch ms of the last successful use, or null. */
  lastUsedAt: number | null;
}

/** A secret just added: the only time Adobe returns its value. */
export interface AddedSecret {
  uuid: string;
  clientSecret: Secret;
  createdAt: number;
}

/** One credential's client secrets at Adobe. Rejects with `ImsError` code
 *  `upstream_management_error` (with `upstreamStatus`, `adobeCode`, `debugId`). */
export declare class SecretsClient {
  private constructor();
  list(): Promise<SecretInfo[]>;
  add(): Promise<AddedSecret>;
  /** Deleting a secret that is already gone succeeds. */
  delete(uuid: string): Promise<void>;
  free(): void;
  [Symbol.dispose](): void;
}

/** A value that never prints itself: `String()`, `JSON.stringify()` and `util.inspect()` show
 *  `[redacted]`. */
export declare class Secret {
  constructor(value: string);
  /** The plaintext: call it only where the value must leave the program. */
  reveal(): string;
  toString(): "[redacted]";
  toJSON(): "[redacted]";
  free(): void;
  [Symbol.dispose](): void;
}

/** The stable error codes. */
export type ErrorCode =
  | "upstream_invalid_client"
  | "invalid_scope"
  | "upstream_rejected"
  | "upstream_unavailable"
  | "upstream_bad_response"
  | "upstream_timeout"
  | "upstream_unreachable"
  | "upstream_management_error"
  | "invalid_options"
  | "invalid_token"
  | "rotation_ambiguous"
  | "rotation_active_missing"
  | "no_rotation";

/** What `new ImsError(message, details)` copies onto the error. */
export interface ImsErrorDetails {
  code: ErrorCode;
  debugId?: string;
  status?: number;
  upstreamStatus?: number;
  retryAfter?: number;
  adobeCode?: string;
}

/** The class of every error the package throws or rejects with (`instanceof ImsError`). Its
 *  message holds no secret or token. */
export declare class ImsError extends Error {
  constructor(message: string, details?: ImsErrorDetails);
  name: "ImsError";
  code: ErrorCode;
  /** Adobe's `x-debug-id`, when an answer carried one (quote it to Adobe support). */
  debugId?: string;
  /** The HTTP status the ims-broker Worker answers this error with (502, 503, 504, 400, …). */
  status?: number;
  /** The status the upstream answered with. */
  upstreamStatus?: number;
  /** Seconds to wait before trying again (from `Retry-After`, or what is left of a cooldown). */
  retryAfter?: number;
  /** The I/O Management API's `error_code`. */
  adobeCode?: string;
}

/** True for errors of this package, also those of another copy of it (where `instanceof`
 *  is false). */
export declare function isImsError(error: unknown): error is ImsError;

// ---- @adobe/aio-lib-core-auth's call ----

/** The parameters of @adobe/aio-lib-core-auth's `generateAccessToken`. */
export interface AccessTokenParams {
  clientId?: string;
  client_id?: string;
  clientSecret?: string;
  client_secret?: string;
  /** Required, as by aio-lib-core-auth (the IMS org, `…@AdobeOrg`). */
  orgId?: string;
  org_id?: string;
  /** An array, as by aio-lib-core-auth. */
  scopes?: readonly string[];
  /** Credentials set by Adobe I/O Runtime's include-ims-credentials annotation, used when the
   *  params above are incomplete. */
  __ims_oauth_s2s?: { clientId?: string; client_id?: string; clientSecret?: string; client_secret?: string; orgId?: string; org_id?: string; scopes?: readonly string[] };
  /** The IMS environment set by that annotation. */
  __ims_env?: ImsEnvironment;
  [other: string]: unknown;
}

export type ImsEnvironment = "prod" | "stage";

/** IMS's token answer, as @adobe/aio-lib-core-auth returns it. */
export interface AccessTokenResponse {
  access_token: string;
  token_type: "bearer";
  /** Seconds the token may still be used (counts down, to its expiry less the skew). */
  expires_in: number;
}

/**
 * @adobe/aio-lib-core-auth's `generateAccessToken(params, imsEnv?)`, with this package's cache:
 * tokens kept until their own expiry (less the skew, refreshed early in the background)
 * instead of a fixed 5 minutes, concurrent calls sharing one IMS call. `imsEnv` (or
 * `params.__ims_env`; default "stage" in an I/O Runtime `development-` namespace, else "prod")
 * picks the IMS host. Rejects with an `ImsError` (`invalid_options` for missing or malformed
 * params).
 */
export declare function generateAccessToken(params: AccessTokenParams, imsEnv?: ImsEnvironment): Promise<AccessTokenResponse>;

/** Drops every token `generateAccessToken` cached: the next calls go to IMS. */
export declare function invalidateCache(): void;

/** A store in this process's memory, with expiry; share one between clients. */
export declare class MemoryStore implements TokenStore {
  constructor();
  get(key: string): string | undefined;
  put(key: string, value: string, ttlSeconds: number): void;
  readonly size: number;
}

/** The subset of a Workers KV namespace `kvStore` uses. */
export interface KvNamespaceLike {
  get(key: string): Promise<string | null>;
  put(key: string, value: string, options: { expirationTtl: number }): Promise<void>;
}

/** Adapts a Workers KV namespace (`env.TOKENS`) to `TokenStore`. */
export declare function kvStore(namespace: KvNamespaceLike): TokenStore;

// ---- Secret rotation (pure state machine; you perform the actions) ----

export type RotationStep = "create" | "test" | "promote" | "retire" | "done";

/** The next action of a rotation. */
export type RotationAction =
  | { kind: "identify"; uuid: string }
  | { kind: "deleteUnused"; uuid: string }
  | { kind: "retire"; uuid: string }
  | { kind: "waitUntil"; until: number }
  | { kind: "probe" }
  | { kind: "add" }
  | { kind: "test" }
  | { kind: "promote" }
  | { kind: "skip" }
  | { kind: "done" };

/** The persisted record (the same format the ims-broker Worker keeps in KV). */
export interface RotationRecord {
  v: 1;
  active: RotationSlot;
  pending?: RotationSlot | null;
  previous?: RotationSlot | null;
  rotation?: RotationInfo | null;
}

export interface RotationSlot {
  uuid: string | null;
  source: "bootstrap" | "stored";
  sealed?: string;
  created_at_ms?: number | null;
  verified_at_ms?: number | null;
}

export interface RotationInfo {
  id: string;
  step: RotationStep;
  started_at_ms: number;
  updated_at_ms: number;
  finished_at_ms?: number | null;
  adding_since_ms?: number | null;
  retire_after_ms?: number | null;
  last_error?: { at_ms: number; step: RotationStep; message: string } | null;
  events?: { at_ms: number; what: string; uuid?: string }[];
}

/**
 * Zero-downtime rotation of a client secret: create (make room, add, keep as pending) → test
 * (mint with the pending secret) → promote → retire (delete the previous one after a grace
 * period). Every step first checks whether its effect is already visible, so an interrupted
 * rotation resumes instead of repeating a step. Times are epoch ms.
 */
export declare class RotationState {
  constructor();
  static fromJSON(record: RotationRecord | string): RotationState;
  toJSON(): RotationRecord;
  serialize(): string;
  readonly rotating: boolean;
  readonly step: RotationStep | undefined;
  readonly activeUuid: string | undefined;
  readonly pendingUuid: string | undefined;
  readonly previousUuid: string | undefined;
  /** Whether a rotation was started (false while one is unfinished). */
  start(id: string, now: number): boolean;
  /** Throws `ImsError` `no_rotation`, `rotation_ambiguous` or `rotation_active_missing`. */
  plan(adobe: readonly SecretInfo[], now: number): RotationAction;
  identified(uuid: string, now: number): void;
  deletedUnused(uuid: string, now: number): void;
  adding(now: number): void;
  /** `sealed`: how you keep the new value (an encrypted envelope or a reference), never the
   *  plaintext. */
  added(uuid: string, sealed: string, createdAt: number, now: number): void;
  tested(now: number): void;
  /** `graceMs` before retire, default 10 minutes. */
  promote(now: number, graceMs?: number): void;
  retired(now: number): void;
  skip(now: number): void;
  failed(message: string, now: number): void;
  free(): void;
  [Symbol.dispose](): void;
}

/** The secret whose `lastUsedAt` is at or after `probeMs`, if exactly one. */
export declare function identifyByUsage(adobe: readonly SecretInfo[], probeMs: number): string | undefined;

// ---- Pure helpers (bring your own HTTP) ----

export interface CanonicalScopes {
  /** Sorted, de-duplicated names. */
  list: string[];
  /** Adobe's form, `"AdobeID,openid"`. */
  comma: string;
  /** RFC 6749's form, `"AdobeID openid"`. */
  space: string;
}

/** Trims, de-duplicates, sorts and checks scope names (letters, digits, `_ . : / -`; at most
 *  64). A string is split on `separator` (default `","`). Throws `invalid_scope`. */
export declare function canonicalScopes(scopes: ScopesInput, separator?: "," | " "): CanonicalScopes;

/** The cache key of a credential name, client id and scopes (comma string or list). */
export declare function cacheKey(credential: string, clientId: string, scopes: ScopesInput): string;

export interface TokenRequestOptions {
  protocol?: "adobe" | "oauth2";
  tokenUrl?: string;
  clientId: string;
  clientSecret: string | Secret;
  scopes?: ScopesInput;
  clientAuth?: "basic" | "post";
}

/** A token request ready to send. `body` (or the Basic `authorization` header) holds the
 *  client secret: send it, never log it. */
export interface TokenRequest {
  method: "POST";
  url: string;
  headers: RequestHeaders;
  body: string;
}

export declare function tokenRequest(options: TokenRequestOptions): TokenRequest;

/** A token endpoint's answer, as you received it. */
export interface TokenResponseInput {
  status: number;
  headers?: Record<string, string> | readonly (readonly [string, string])[] | { forEach(callback: (value: string, name: string) => void): void };
  body: string | Uint8Array | ArrayBuffer;
}

export interface ParsedToken {
  accessToken: string;
  /** The endpoint's expiry, epoch ms: `sentAt + expires_in`, or the JWT claims'. */
  expiresAt: number;
}

/** Parses a token response to a request sent at `sentAt` (epoch ms). Throws `ImsError`. */
export declare function parseTokenResponse(response: TokenResponseInput, sentAt: number): ParsedToken;

export interface TokenClaims {
  /** Epoch ms. */
  createdAt: number;
  /** Lifetime, ms. */
  expiresIn: number;
  /** Epoch ms. */
  expiresAt: number;
}

/** The `created_at`/`expires_in` claims of an IMS access token (signature not checked).
 *  Throws `invalid_token`. */
export declare function decodeClaims(accessToken: string): TokenClaims;

export type Freshness = "fresh" | "stale" | "unusable";

export interface CacheDecision {
  freshness: Freshness;
  lifetimeMs: number;
  skewMs: number;
  /** Epoch ms: never hand the token out from here on. */
  usableUntil: number;
  /** Epoch ms: from here on serve it and refresh it in the background. */
  refreshAt: number;
  /** Seconds to tell callers. */
  expiresIn: number;
  /** Store TTL to write now, seconds. */
  storeTtl: number;
}

/** What the cache does at `now` with a token sent at `sentAt` that expires at `expiresAt`. */
export declare function cacheDecision(token: { sentAt: number; expiresAt: number }, now: number): CacheDecision;

export declare const DEFAULT_TOKEN_URL: string;
export declare const DEFAULT_IO_API_BASE_URL: string;
/** The scopes the I/O Management API requires. */
export declare const MANAGEMENT_SCOPES: readonly string[];
