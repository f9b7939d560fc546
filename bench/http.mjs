// A small HTTP/1.1 client on node:http (keep-alive), used by bench.mjs and load.mjs for the
// requests wrk cannot express (1000 concurrent cold requests, the mixed load).
import http from "node:http";

/** A keep-alive agent holding at most `sockets` connections. */
export function agent(sockets) {
  return new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets, scheduling: "fifo" });
}

/**
 * One request; answers `{status, body}` (body as text) or throws on a connection error or
 * after `timeoutMs`.
 */
export function request(url, { method = "POST", headers = {}, body, agent: ag, timeoutMs = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const data = body === undefined ? undefined : Buffer.from(body);
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method,
        agent: ag,
        headers: data ? { ...headers, "content-length": data.length } : headers,
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on("error", reject);
    if (data) req.write(data);
    req.end();
  });
}
