//! The counters behind `/metrics` (Prometheus text format; the route is `http::ops`).
//!
//! Counters are plain atomics: the handful of series here does not need a metrics crate.
//! Nothing in them identifies a person.

use std::sync::atomic::{AtomicU64, Ordering};

use reclaim_protocol::wire::decision::Outcome;

#[derive(Default)]
pub struct Metrics {
    sessions: AtomicU64,
    approved: AtomicU64,
    review: AtomicU64,
    rejected: AtomicU64,
    tokens_refused: AtomicU64,
    resets_completed: AtomicU64,
    resets_pending: AtomicU64,
    resets_refused: AtomicU64,
    directory_errors: AtomicU64,
    reverify_count: AtomicU64,
    reverify_micros: AtomicU64,
    responses: [AtomicU64; 5],
}

impl Metrics {
    pub fn session_created(&self) {
        self.sessions.fetch_add(1, Ordering::Relaxed);
    }
    pub fn decision(&self, outcome: Outcome) {
        match outcome {
            Outcome::Approved => &self.approved,
            Outcome::Review => &self.review,
            Outcome::Rejected => &self.rejected,
        }
        .fetch_add(1, Ordering::Relaxed);
    }
    pub fn token_refused(&self) {
        self.tokens_refused.fetch_add(1, Ordering::Relaxed);
    }
    pub fn reset(&self, what: &str) {
        match what {
            "completed" => &self.resets_completed,
            "refused" => &self.resets_refused,
            _ => &self.resets_pending,
        }
        .fetch_add(1, Ordering::Relaxed);
    }
    pub fn directory_error(&self) {
        self.directory_errors.fetch_add(1, Ordering::Relaxed);
    }
    pub fn reverified(&self, seconds: f64) {
        self.reverify_count.fetch_add(1, Ordering::Relaxed);
        self.reverify_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }
    pub fn response(&self, status: u16) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.responses[class].fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, series: &[(&str, u64)]| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n"));
            for (labels, v) in series {
                out.push_str(&format!("{name}{labels} {v}\n"));
            }
        };
        counter(
            "reclaim_sessions_created_total",
            "Sessions started.",
            &[("", g(&self.sessions))],
        );
        counter(
            "reclaim_decisions_total",
            "Attestation decisions by outcome.",
            &[
                ("{outcome=\"approved\"}", g(&self.approved)),
                ("{outcome=\"review\"}", g(&self.review)),
                ("{outcome=\"rejected\"}", g(&self.rejected)),
            ],
        );
        counter(
            "reclaim_attestations_refused_total",
            "Attestation tokens refused before a decision.",
            &[("", g(&self.tokens_refused))],
        );
        counter(
            "reclaim_resets_total",
            "Reset attempts by result.",
            &[
                ("{result=\"completed\"}", g(&self.resets_completed)),
                ("{result=\"pending\"}", g(&self.resets_pending)),
                ("{result=\"refused\"}", g(&self.resets_refused)),
            ],
        );
        counter(
            "reclaim_directory_errors_total",
            "Directory calls that failed.",
            &[("", g(&self.directory_errors))],
        );
        counter(
            "reclaim_http_responses_total",
            "HTTP responses by status class.",
            &[
                ("{class=\"1xx\"}", g(&self.responses[0])),
                ("{class=\"2xx\"}", g(&self.responses[1])),
                ("{class=\"3xx\"}", g(&self.responses[2])),
                ("{class=\"4xx\"}", g(&self.responses[3])),
                ("{class=\"5xx\"}", g(&self.responses[4])),
            ],
        );
        out.push_str("# HELP reclaim_reverification_seconds Evidence re-verification time.\n# TYPE reclaim_reverification_seconds summary\n");
        out.push_str(&format!(
            "reclaim_reverification_seconds_sum {:.6}\nreclaim_reverification_seconds_count {}\n",
            g(&self.reverify_micros) as f64 / 1e6,
            g(&self.reverify_count)
        ));
        out
    }
}
