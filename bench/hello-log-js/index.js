// Diagnostic Worker for `make bench-worker BENCH_DIAG=1`: (a) plus one console.log line per
// request shaped like the broker's request log line, to price a log line on this runtime.
export default {
  fetch(request) {
    console.log(
      JSON.stringify({
        cache: "memory",
        caller: "bench",
        credential: "default",
        method: request.method,
        ms: 0,
        msg: "request",
        request_id: "0123456789abcdef",
        route: "POST /v1/token",
        scope: "AdobeID,openid",
        status: 200,
      }),
    );
    return new Response("ok");
  },
};
