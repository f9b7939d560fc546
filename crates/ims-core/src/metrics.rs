//! Counters since the isolate started, and their JSON and Prometheus text renderings.
//!
//! Requests by route and status, cache outcomes, IMS calls by outcome, an upstream latency
//! histogram and rotations. Pure data: the Worker records into it and serves it; a bounded log
//! of recent events is kept separately (it must survive isolates; see the Worker's `events`).

use serde::Serialize;
use std::collections::BTreeMap;

/// Upper bounds (ms) of the upstream latency histogram's buckets; the last bucket is `+Inf`.
pub const LATENCY_BUCKETS_MS: [u64; 10] = [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 10_000];

/// All counters of one isolate. Its JSON (`counters` of `GET /v1/metrics`) has the members in
/// alphabetical order, as the fields are declared.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Metrics {
    /// `memory`/`kv`/`miss`/`stale` → count.
    pub cache: BTreeMap<String, u64>,
    /// IMS calls by outcome: `ok`, or the error code.
    pub ims_calls: BTreeMap<String, u64>,
    /// `"<route> <status>"` → count.
    pub requests: BTreeMap<String, u64>,
    /// Rotation runs by outcome (`done`, `waiting`, `error`, `busy`).
    pub rotations: BTreeMap<String, u64>,
    /// When counting started, epoch ms.
    pub since_ms: u64,
    /// Cumulative counts per bucket of [`LATENCY_BUCKETS_MS`], plus `+Inf` last.
    pub upstream_latency_buckets: Vec<u64>,
    /// Sum of upstream latencies, ms.
    pub upstream_latency_sum_ms: u64,
}

impl Metrics {
    /// Empty counters starting at `now_ms`.
    pub fn new(now_ms: u64) -> Self {
        Self {
            since_ms: now_ms,
            upstream_latency_buckets: vec![0; LATENCY_BUCKETS_MS.len() + 1],
            ..Self::default()
        }
    }

    fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
        *map.entry(key.to_owned()).or_default() += 1;
    }

    /// Counts a finished request.
    pub fn request(&mut self, route: &str, status: u16) {
        Self::bump(&mut self.requests, &format!("{route} {status}"));
    }

    /// Counts a cache outcome.
    pub fn cache_outcome(&mut self, outcome: &str) {
        Self::bump(&mut self.cache, outcome);
    }

    /// Counts an IMS exchange and its latency.
    pub fn ims_call(&mut self, outcome: &str, ms: u64) {
        Self::bump(&mut self.ims_calls, outcome);
        if self.upstream_latency_buckets.len() != LATENCY_BUCKETS_MS.len() + 1 {
            self.upstream_latency_buckets = vec![0; LATENCY_BUCKETS_MS.len() + 1];
        }
        for (i, bound) in LATENCY_BUCKETS_MS.iter().enumerate() {
            if ms <= *bound {
                self.upstream_latency_buckets[i] += 1;
            }
        }
        if let Some(inf) = self.upstream_latency_buckets.last_mut() {
            *inf += 1;
        }
        self.upstream_latency_sum_ms += ms;
    }

    /// Counts a rotation run.
    pub fn rotation(&mut self, outcome: &str) {
        Self::bump(&mut self.rotations, outcome);
    }

    /// The counters as a JSON object.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The Prometheus text exposition format (version 0.0.4). Every sample carries the label
    /// `isolate` (the id of the isolate that counted it): a scrape reaches whichever isolate
    /// answers, and each isolate counts from its own start, so without the label a scraper
    /// would read a switch to another isolate as a counter reset.
    pub fn prometheus(&self, isolate: &str) -> String {
        let mut out = String::new();
        let label = |v: &str| v.replace('\\', "\\\\").replace('"', "\\\"");
        let iso = format!("isolate=\"{}\"", label(isolate));
        out.push_str("# HELP ims_broker_requests_total Requests answered, by route and status.\n");
        out.push_str("# TYPE ims_broker_requests_total counter\n");
        for (key, n) in &self.requests {
            let (route, status) = key.rsplit_once(' ').unwrap_or((key, ""));
            out.push_str(&format!(
                "ims_broker_requests_total{{{iso},route=\"{}\",status=\"{}\"}} {n}\n",
                label(route),
                label(status)
            ));
        }
        for (name, help, map, key) in [
            (
                "ims_broker_cache_total",
                "Tokens served, by cache outcome.",
                &self.cache,
                "outcome",
            ),
            (
                "ims_broker_ims_calls_total",
                "IMS token exchanges, by outcome.",
                &self.ims_calls,
                "outcome",
            ),
            (
                "ims_broker_rotations_total",
                "Rotation runs, by outcome.",
                &self.rotations,
                "outcome",
            ),
        ] {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n"));
            for (k, n) in map {
                out.push_str(&format!("{name}{{{iso},{key}=\"{}\"}} {n}\n", label(k)));
            }
        }
        out.push_str("# HELP ims_broker_upstream_latency_ms Latency of IMS exchanges, ms.\n");
        out.push_str("# TYPE ims_broker_upstream_latency_ms histogram\n");
        for (i, n) in self.upstream_latency_buckets.iter().enumerate() {
            let le = LATENCY_BUCKETS_MS
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), u64::to_string);
            out.push_str(&format!(
                "ims_broker_upstream_latency_ms_bucket{{{iso},le=\"{le}\"}} {n}\n"
            ));
        }
        let count = self.upstream_latency_buckets.last().copied().unwrap_or(0);
        out.push_str(&format!(
            "ims_broker_upstream_latency_ms_sum{{{iso}}} {}\nims_broker_upstream_latency_ms_count{{{iso}}} {count}\n",
            self.upstream_latency_sum_ms
        ));
        out.push_str(&format!(
            "# HELP ims_broker_start_time_seconds When this isolate started counting.\n# TYPE ims_broker_start_time_seconds gauge\nims_broker_start_time_seconds{{{iso}}} {}\n",
            self.since_ms / 1000
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_histogram() {
        let mut m = Metrics::new(5_000);
        m.request("POST /v1/token", 200);
        m.request("POST /v1/token", 200);
        m.request("POST /v1/token", 401);
        m.cache_outcome("memory");
        m.ims_call("ok", 7);
        m.ims_call("upstream_timeout", 20_000);
        assert_eq!(m.requests["POST /v1/token 200"], 2);
        // 7 ms falls in every bucket from 10 ms up; 20 s only in +Inf.
        assert_eq!(m.upstream_latency_buckets[0], 0);
        assert_eq!(m.upstream_latency_buckets[1], 1);
        assert_eq!(*m.upstream_latency_buckets.last().unwrap(), 2);
        assert_eq!(m.upstream_latency_sum_ms, 20_007);
    }

    #[test]
    fn prometheus_text() {
        let mut m = Metrics::new(5_000);
        m.request("POST /v1/token", 200);
        m.cache_outcome("kv");
        m.ims_call("ok", 30);
        m.rotation("done");
        let text = m.prometheus("a1b2");
        assert!(text.contains(
            "ims_broker_requests_total{isolate=\"a1b2\",route=\"POST /v1/token\",status=\"200\"} 1\n"
        ));
        assert!(text.contains("ims_broker_cache_total{isolate=\"a1b2\",outcome=\"kv\"} 1\n"));
        assert!(
            text.contains("ims_broker_upstream_latency_ms_bucket{isolate=\"a1b2\",le=\"50\"} 1\n")
        );
        assert!(
            text.contains("ims_broker_upstream_latency_ms_bucket{isolate=\"a1b2\",le=\"25\"} 0\n")
        );
        assert!(text
            .contains("ims_broker_upstream_latency_ms_bucket{isolate=\"a1b2\",le=\"+Inf\"} 1\n"));
        assert!(text.contains("ims_broker_upstream_latency_ms_count{isolate=\"a1b2\"} 1\n"));
        assert!(text.contains("ims_broker_rotations_total{isolate=\"a1b2\",outcome=\"done\"} 1\n"));
        assert!(text.contains("ims_broker_start_time_seconds{isolate=\"a1b2\"} 5\n"));
        // Every sample says which isolate counted it.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.contains("isolate=\"a1b2\""), "{line}");
        }
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }

    #[test]
    fn json_has_every_counter() {
        let mut m = Metrics {
            since_ms: 7,
            upstream_latency_buckets: vec![0, 1, 1],
            upstream_latency_sum_ms: 42,
            ..Metrics::default()
        };
        m.requests.insert("POST /v1/token 200".into(), 3);
        m.cache.insert("memory".into(), 2);
        m.ims_calls.insert("ok".into(), 1);
        m.rotations.insert("done".into(), 1);
        assert_eq!(
            m.to_json(),
            r#"{"cache":{"memory":2},"ims_calls":{"ok":1},"requests":{"POST /v1/token 200":3},"rotations":{"done":1},"since_ms":7,"upstream_latency_buckets":[0,1,1],"upstream_latency_sum_ms":42}"#
        );
    }
}
