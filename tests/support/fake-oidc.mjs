// A fake OpenID Connect issuer for the workload-identity tests: the platform (GitHub Actions,
// Cloudflare Access, Kubernetes, ...) that hands a workload a signed identity token (a JWT) the
// broker then verifies. Node only (node:http, node:crypto), listening on 127.0.0.1 on a free port.
//
//   const oidc = await startFakeOidc({ path: "/gh", maxAge: 300 });
//   oidc.issuer                      // "http://127.0.0.1:PORT/gh", the `iss` of its tokens
//   oidc.jwksUrl                     // where its public keys are (also named by discovery)
//   oidc.sign({ sub: "repo:acme/site:ref:refs/heads/main", aud: "ims-broker" })
//                                    // RS256 (default) or ES256: `{ alg: "ES256" }`
//   const kid = oidc.rotate("RS256"); oidc.removeKey(oldKid);   // key rotation
//   oidc.down(true);                 // discovery and JWKS answer 503 ("close": drop the connection)
//   oidc.jwksFetches, oidc.discoveryFetches                        // how often the broker asked
//   oidc.attack.hs256WithPublicKey(claims)                         // forged tokens, see `attack`
//   await oidc.stop();
//
// HTTP endpoints (under `path`):
//   GET  /.well-known/openid-configuration   {issuer, jwks_uri, ...}
//   GET  /jwks (or `jwksPath`)                {keys: [public JWKs with kid, kty, alg, use: "sig"]}
//   POST /sign  {claims, alg?, kid?, header?} -> {token}: signs a token with the claims chosen
// Discovery and JWKS answers carry `Cache-Control: public, max-age=<maxAge>` (none when maxAge
// is null).
//
// Every token this module produces (signed, forged, or signed by a client library and handed to
// `record`) is appended as it is made to tests/artifacts/oidc-tokens.txt, one line
// "<ms since epoch> <token>", so the final log-hygiene test can check that no identity token ever
// reaches a Worker log (`readOidcTokens`). The file is only appended to; lines from before the
// current run (older than the run's worker-logs.txt) are dropped when it is read, as
// support.mjs does for caller keys.

import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { logFileStartMs as workerLogStartMs } from "./workers.mjs";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const ARTIFACTS_DIR = path.join(REPO_ROOT, "tests", "artifacts");
/** Every identity token made by a fake issuer (or recorded by a test), one line each. */
export const OIDC_TOKENS_FILE = path.join(ARTIFACTS_DIR, "oidc-tokens.txt");
const WORKER_LOG_FILE = path.join(ARTIFACTS_DIR, "worker-logs.txt");

const b64u = (buf) => Buffer.from(buf).toString("base64url");
const b64uJson = (obj) => b64u(Buffer.from(JSON.stringify(obj), "utf8"));
const now = () => Math.floor(Date.now() / 1000);

/** Appends `token` to OIDC_TOKENS_FILE (the log-hygiene registry). */
export function recordToken(token) {
  if (typeof token !== "string" || token.length === 0) return;
  fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
  fs.appendFileSync(OIDC_TOKENS_FILE, `${Date.now()} ${token}\n`);
}

const logFileStartMs = () => workerLogStartMs(WORKER_LOG_FILE);

/**
 * Every identity token recorded since `sinceMs` (default: the start of the run's worker-logs.txt
 * minus a minute). Older lines belong to runs whose logs are gone and are pruned from the file.
 * @returns {string[]}
 */
export function readOidcTokens(sinceMs = logFileStartMs()) {
  if (!fs.existsSync(OIDC_TOKENS_FILE)) return [];
  const keep = (at) => !Number.isFinite(sinceMs) || !Number.isFinite(at) || at >= sinceMs;
  const kept = [];
  const tokens = [];
  for (const line of fs.readFileSync(OIDC_TOKENS_FILE, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const sp = line.indexOf(" ");
    const at = sp > 0 ? Number(line.slice(0, sp)) : NaN;
    if (!keep(at)) continue;
    kept.push(line);
    tokens.push(sp > 0 ? line.slice(sp + 1) : line);
  }
  fs.writeFileSync(OIDC_TOKENS_FILE, kept.map((l) => l + "\n").join(""));
  return tokens;
}

/** A new signing key: RSA 2048 for RS256, P-256 for ES256. */
function newKey(alg, kid) {
  let pair;
  if (alg === "RS256") pair = crypto.generateKeyPairSync("rsa", { modulusLength: 2048, publicExponent: 0x10001 });
  else if (alg === "ES256") pair = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  else throw new Error(`fake-oidc: unsupported key algorithm ${alg}`);
  const kidValue = kid ?? `${alg.toLowerCase()}-${crypto.randomBytes(6).toString("hex")}`;
  const jwk = { ...pair.publicKey.export({ format: "jwk" }), kid: kidValue, alg, use: "sig" };
  return { kid: kidValue, alg, privateKey: pair.privateKey, publicKey: pair.publicKey, jwk };
}

/** Signs `input` (a string) with `key` the JWS way for `alg`. */
function jwsSign(alg, privateKey, input) {
  if (alg === "RS256") return crypto.sign("sha256", Buffer.from(input), privateKey);
  if (alg === "ES256") return crypto.sign("sha256", Buffer.from(input), { key: privateKey, dsaEncoding: "ieee-p1363" });
  throw new Error(`fake-oidc: cannot sign ${alg}`);
}

/**
 * A compact JWS over `header` and `claims` signed with `privateKey` for `alg` (RS256 or ES256).
 * For tokens signed with a key the issuer does not hold (an attacker's own key).
 */
export function signJws(header, claims, privateKey) {
  const input = `${b64uJson(header)}.${b64uJson(claims)}`;
  const token = `${input}.${b64u(jwsSign(header.alg, privateKey, input))}`;
  recordToken(token);
  return token;
}

/** `{header, claims}` of a compact JWS, unverified. */
export function decodeJwt(token) {
  const [h, p] = token.split(".");
  return { header: JSON.parse(Buffer.from(h, "base64url").toString("utf8")), claims: JSON.parse(Buffer.from(p, "base64url").toString("utf8")) };
}

/**
 * @typedef {object} FakeOidc
 * @property {string} url        base URL, "http://127.0.0.1:PORT" (no trailing slash)
 * @property {string} issuer     `url + path`: the `iss` of its tokens and the discovery base
 * @property {string} discoveryUrl
 * @property {string} jwksUrl
 * @property {number} jwksFetches        GET of the JWKS so far (answered or not)
 * @property {number} discoveryFetches   GET of the discovery document so far
 * @property {{method: string, path: string, at: number, status: number}[]} requests
 * @property {string[]} tokens    every token signed or forged by this issuer, in order
 */

/**
 * Starts a fake issuer.
 * @param {object} [opts]
 * @param {string} [opts.path=""]     path prefix of the issuer (e.g. "/gh"); the issuer is url+path
 * @param {string} [opts.jwksPath]    path of the JWKS (default `${path}/jwks`)
 * @param {number|null} [opts.maxAge=300]  Cache-Control max-age of discovery and JWKS (null: none)
 * @param {string[]} [opts.algs=["RS256","ES256"]]  one key per algorithm at the start
 * @param {number} [opts.ttl=300]     default token lifetime (exp - iat) of `claims()` / `sign()`
 * @param {string} [opts.label]       name for error messages
 * @returns {Promise<FakeOidc & ReturnType<typeof makeHandle>>}
 */
export async function startFakeOidc(opts = {}) {
  const prefix = (opts.path ?? "").replace(/\/+$/, "");
  if (prefix && !prefix.startsWith("/")) throw new Error("fake-oidc: path must start with /");
  const jwksPath = opts.jwksPath ?? `${prefix}/jwks`;
  const discoveryPath = `${prefix}/.well-known/openid-configuration`;
  const state = {
    keys: [], // newest last
    maxAge: opts.maxAge === undefined ? 300 : opts.maxAge,
    down: false,
    jwksFetches: 0,
    discoveryFetches: 0,
    requests: [],
    tokens: [],
    ttl: opts.ttl ?? 300,
    removed: [], // keys no longer published, still usable to sign
    stopped: false,
  };
  for (const alg of opts.algs ?? ["RS256", "ES256"]) state.keys.push(newKey(alg));

  const sockets = new Set();
  let base;
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, "http://x");
    let status = 0;
    const send = (code, body, headers = {}) => {
      status = code;
      const text = typeof body === "string" ? body : JSON.stringify(body);
      res.writeHead(code, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
      res.end(text);
    };
    const cacheHeaders = () => (state.maxAge === null ? {} : { "cache-control": `public, max-age=${state.maxAge}` });
    const fault = () => {
      if (!state.down) return false;
      if (state.down === "close") {
        status = -1;
        req.socket.destroy();
      } else {
        send(503, { error: "temporarily_unavailable" }, { "retry-after": "30" });
      }
      return true;
    };
    const done = () => state.requests.push({ method: req.method, path: u.pathname, at: Date.now(), status });
    res.on("close", done);

    if (req.method === "GET" && u.pathname === discoveryPath) {
      state.discoveryFetches++;
      if (fault()) return;
      return send(200, handle.discoveryDocument(), cacheHeaders());
    }
    if (req.method === "GET" && u.pathname === jwksPath) {
      state.jwksFetches++;
      if (fault()) return;
      return send(200, handle.jwks(), cacheHeaders());
    }
    if (req.method === "POST" && u.pathname === `${prefix}/sign`) {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        try {
          const o = body ? JSON.parse(body) : {};
          send(200, { token: handle.sign(o.claims ?? {}, { alg: o.alg, kid: o.kid, header: o.header }) });
        } catch (e) {
          send(400, { error: "invalid_request", error_description: String(e?.message ?? e) });
        }
      });
      return;
    }
    send(404, { error: "not_found" });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  base = `http://127.0.0.1:${server.address().port}`;

  const keyFor = (alg, kid) => {
    if (kid !== undefined) {
      const k = state.keys.find((x) => x.kid === kid);
      if (!k) throw new Error(`fake-oidc: no key ${kid}`);
      return k;
    }
    const k = state.keys.filter((x) => x.alg === alg).at(-1);
    if (!k) throw new Error(`fake-oidc: no ${alg} key`);
    return k;
  };
  const remember = (token) => {
    state.tokens.push(token);
    recordToken(token);
    return token;
  };

  const handle = {
    url: base,
    issuer: base + prefix,
    discoveryUrl: base + discoveryPath,
    jwksUrl: base + jwksPath,
    label: opts.label ?? "fake-oidc",
    get jwksFetches() {
      return state.jwksFetches;
    },
    get discoveryFetches() {
      return state.discoveryFetches;
    },
    get requests() {
      return state.requests.slice();
    },
    get tokens() {
      return state.tokens.slice();
    },
    /** Sets both fetch counters back to 0. */
    resetCounters() {
      state.jwksFetches = 0;
      state.discoveryFetches = 0;
    },
    /** The discovery document. */
    discoveryDocument() {
      return {
        issuer: handle.issuer,
        jwks_uri: handle.jwksUrl,
        response_types_supported: ["id_token"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: [...new Set(state.keys.map((k) => k.alg))],
        claims_supported: ["sub", "aud", "exp", "iat", "iss", "jti", "nbf"],
      };
    },
    /** The JWKS document: every current public key. */
    jwks() {
      return { keys: state.keys.map((k) => ({ ...k.jwk })) };
    },
    /** The kids of the current keys, oldest first. */
    kids(alg) {
      return state.keys.filter((k) => alg === undefined || k.alg === alg).map((k) => k.kid);
    },
    /** The newest key of `alg` (or key `kid`): {kid, alg, privateKey, publicKey, jwk}. */
    key(alg = "RS256", kid) {
      return keyFor(alg, kid);
    },
    /** Cache-Control max-age of later answers (null: no Cache-Control). */
    setMaxAge(seconds) {
      state.maxAge = seconds;
    },
    /**
     * Issuer outage: `true` (or "503"): discovery and JWKS answer 503; "close": the connection is
     * dropped without an answer; `false`: back to normal. Signing keeps working.
     */
    down(mode = true) {
      state.down = mode === true || mode === "503" ? "503" : mode === "close" ? "close" : false;
    },
    /** Adds a new key for `alg` (a new kid, newest), published from now on; answers its kid. */
    rotate(alg = "RS256", kid) {
      const k = newKey(alg, kid);
      state.keys.push(k);
      return k.kid;
    },
    /** Stops publishing key `kid` (its private part stays known to `key(…, kid)` and `sign`). */
    removeKey(kid) {
      const i = state.keys.findIndex((k) => k.kid === kid);
      if (i < 0) throw new Error(`fake-oidc: no key ${kid}`);
      const [k] = state.keys.splice(i, 1);
      state.removed.push(k);
      return k;
    },
    /**
     * The default claims of a token, overridden by `extra` (a key set to undefined is left out):
     * iss = the issuer, iat = now, exp = now + ttl, jti random.
     */
    claims(extra = {}) {
      const t = now();
      const out = { iss: handle.issuer, iat: t, exp: t + state.ttl, jti: crypto.randomUUID(), ...extra };
      for (const [k, v] of Object.entries(out)) if (v === undefined) delete out[k];
      return out;
    },
    /**
     * A compact JWS of `handle.claims(claims)`, signed with the newest key of `alg` or with key
     * `kid` (a removed key included). `header` is merged into {alg, typ: "JWT", kid} (a member
     * set to undefined is left out, e.g. `{kid: undefined}`). `raw: true`: `claims` is the
     * whole payload, without defaults.
     */
    sign(claims = {}, { alg = "RS256", kid, header = {}, raw = false } = {}) {
      const k = kid !== undefined ? [...state.keys, ...state.removed].find((x) => x.kid === kid) : keyFor(alg);
      if (!k) throw new Error(`fake-oidc: no key ${kid}`);
      const h = { alg: k.alg, typ: "JWT", kid: k.kid, ...header };
      for (const [n, v] of Object.entries(h)) if (v === undefined) delete h[n];
      const payload = raw ? claims : handle.claims(claims);
      const input = `${b64uJson(h)}.${b64uJson(payload)}`;
      return remember(`${input}.${b64u(jwsSign(k.alg, k.privateKey, input))}`);
    },
    /** Records a token made elsewhere (e.g. by a client library) for the log-hygiene test. */
    record(token) {
      return remember(token);
    },
    /** Forged tokens: what an attacker makes of this issuer's public material. */
    attack: {
      /** `alg: none`, empty signature ("h.p."). */
      none(claims = {}, header = {}) {
        return remember(`${b64uJson({ alg: "none", typ: "JWT", ...header })}.${b64uJson(handle.claims(claims))}.`);
      },
      /**
       * HS256 with the issuer's RSA public key as the HMAC secret (the classic key-confusion
       * attack on a verifier that lets the token pick the algorithm). `as`: "pem" (SPKI PEM),
       * "pkcs1" (PKCS#1 PEM), "jwk" (the published JWK as JSON), "der" (SPKI DER), "n" (the
       * modulus bytes). The header names the RSA key's kid.
       */
      hs256WithPublicKey(claims = {}, { as = "pem", kid } = {}) {
        const k = keyFor("RS256", kid);
        const secret = {
          pem: () => Buffer.from(k.publicKey.export({ type: "spki", format: "pem" })),
          pkcs1: () => Buffer.from(k.publicKey.export({ type: "pkcs1", format: "pem" })),
          jwk: () => Buffer.from(JSON.stringify(k.jwk)),
          der: () => k.publicKey.export({ type: "spki", format: "der" }),
          n: () => Buffer.from(k.jwk.n, "base64url"),
        }[as]?.();
        if (!secret) throw new Error(`fake-oidc: unknown public key form ${as}`);
        const input = `${b64uJson({ alg: "HS256", typ: "JWT", kid: k.kid })}.${b64uJson(handle.claims(claims))}`;
        return remember(`${input}.${b64u(crypto.createHmac("sha256", secret).update(input).digest())}`);
      },
      /**
       * A validly signed token whose payload was then changed: `change(claims)` edits the
       * decoded claims, the original header and signature are kept.
       */
      tamper(token, change) {
        const [h, p, s] = token.split(".");
        const claims = JSON.parse(Buffer.from(p, "base64url").toString("utf8"));
        const changed = change(claims) ?? claims;
        return remember(`${h}.${b64uJson(changed)}.${s}`);
      },
      /** A validly signed token whose header has a `crit` parameter. */
      crit(claims = {}, crit = ["exp"], opts = {}) {
        return handle.sign(claims, { ...opts, header: { ...(opts.header ?? {}), crit } });
      },
      /** Signed with an attacker's own key of `alg`, its header naming the issuer's key `kid`. */
      foreignKey(claims = {}, { alg = "RS256", kid } = {}) {
        const own = newKey(alg);
        const h = { alg, typ: "JWT", kid: kid ?? keyFor(alg).kid };
        const input = `${b64uJson(h)}.${b64uJson(handle.claims(claims))}`;
        return remember(`${input}.${b64u(jwsSign(alg, own.privateKey, input))}`);
      },
    },
    /** Stops the server (idempotent). */
    async stop() {
      if (state.stopped) return;
      state.stopped = true;
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return handle;
}
