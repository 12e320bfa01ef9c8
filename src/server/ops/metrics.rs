//! Prometheus metrics: request counts and latency by route, method and status, and login
//! outcomes, kept in memory and written out in the text exposition format. `http::metrics`
//! records them and serves them with the gauges read when scraped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::domain::{AppError, ErrorKind};

/// Upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    pub(crate) fn observe(&mut self, seconds: f64) {
        if let Some(i) = BUCKETS.iter().position(|&le| seconds <= le) {
            self.counts[i] += 1;
        }
        self.count += 1;
        self.sum += seconds;
    }
}

/// How a login attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginOutcome {
    Succeeded,
    Failed,
    Throttled,
    Busy,
}

impl LoginOutcome {
    const ALL: [Self; 4] = [Self::Succeeded, Self::Failed, Self::Throttled, Self::Busy];

    fn label(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Throttled => "throttled",
            Self::Busy => "busy",
        }
    }

    pub fn of<T>(result: &Result<T, AppError>) -> Self {
        match result {
            Ok(_) => Self::Succeeded,
            Err(e) if e.kind == ErrorKind::TooManyRequests => Self::Throttled,
            Err(e) if e.kind == ErrorKind::Unavailable => Self::Busy,
            Err(_) => Self::Failed,
        }
    }
}

/// Counters kept in memory for the life of the process.
#[derive(Default)]
pub struct Metrics {
    /// (route, method, status) → latency histogram; routes are the router's patterns, so the
    /// number of series stays small whatever paths clients ask for.
    requests: Mutex<BTreeMap<(String, String, u16), Histogram>>,
    logins: [AtomicU64; 4],
}

impl Metrics {
    pub fn login(&self, outcome: LoginOutcome) {
        let i = LoginOutcome::ALL
            .iter()
            .position(|&o| o == outcome)
            .unwrap_or(0);
        self.logins[i].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn observe(&self, route: String, method: String, status: u16, latency: Duration) {
        let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        requests
            .entry((route, method, status))
            .or_default()
            .observe(latency.as_secs_f64());
    }

    pub(crate) fn write_requests(&self, out: &mut String) {
        out.push_str(
            "# HELP gatehouse_http_requests_total Requests answered, by route pattern, method and status.\n\
             # TYPE gatehouse_http_requests_total counter\n",
        );
        let requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        for ((route, method, status), h) in requests.iter() {
            let labels = labels(route, method, *status);
            let _ = writeln!(out, "gatehouse_http_requests_total{{{labels}}} {}", h.count);
        }
        out.push_str(
            "# HELP gatehouse_http_request_duration_seconds Time to the response head, by route pattern, method and status.\n\
             # TYPE gatehouse_http_request_duration_seconds histogram\n",
        );
        for ((route, method, status), h) in requests.iter() {
            let labels = labels(route, method, *status);
            let mut cumulative = 0;
            for (le, n) in BUCKETS.iter().zip(h.counts) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "gatehouse_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "gatehouse_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}\n\
                 gatehouse_http_request_duration_seconds_sum{{{labels}}} {}\n\
                 gatehouse_http_request_duration_seconds_count{{{labels}}} {}",
                h.count, h.sum, h.count
            );
        }
    }

    pub(crate) fn write_logins(&self, out: &mut String) {
        out.push_str(
            "# HELP gatehouse_logins_total Login attempts, by outcome.\n\
             # TYPE gatehouse_logins_total counter\n",
        );
        for (outcome, n) in LoginOutcome::ALL.iter().zip(&self.logins) {
            let _ = writeln!(
                out,
                "gatehouse_logins_total{{outcome=\"{}\"}} {}",
                outcome.label(),
                n.load(Ordering::Relaxed)
            );
        }
    }
}

fn labels(route: &str, method: &str, status: u16) -> String {
    format!(
        "route=\"{}\",method=\"{}\",status=\"{status}\"",
        escape_label(route),
        escape_label(method)
    )
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_in_the_exposition() {
        let metrics = Metrics::default();
        for ms in [0, 3, 3, 700] {
            metrics.observe(
                "/login".into(),
                "GET".into(),
                200,
                Duration::from_millis(ms),
            );
        }
        let mut out = String::new();
        metrics.write_requests(&mut out);
        assert!(out.contains(
            "gatehouse_http_requests_total{route=\"/login\",method=\"GET\",status=\"200\"} 4"
        ));
        assert!(out.contains("status=\"200\",le=\"0.0005\"} 1"), "{out}");
        assert!(out.contains("status=\"200\",le=\"0.005\"} 3"), "{out}");
        assert!(out.contains("status=\"200\",le=\"1\"} 4"), "{out}");
        assert!(out.contains("status=\"200\",le=\"+Inf\"} 4"), "{out}");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
