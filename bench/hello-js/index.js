// Comparison Worker (a) for `make bench`: the platform floor. Answers "ok" to everything.
export default {
  fetch() {
    return new Response("ok");
  },
};
